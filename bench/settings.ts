/**
 * The benchmark's scaled time (research/rate-limiting.md §6.2–6.3): Upheal's 300 requests per
 * 60 s become 300 per 10 s (factor 6). N stays 300 so the B/N and floor() effects are those of
 * production; every time constant of the limiter is scaled with W. See docs/benchmark.md.
 */

/** Time scale factor: production window ÷ benchmark window. */
export const TIME_SCALE = 6;

/** The simulated key's limit and window, and the limiter's configuration for the run. */
export const SCALED = {
  /** N: unchanged. */
  limit: 300,
  /** W: 60 s ÷ 6. */
  windowMs: 10_000,
  /**
   * J: production starts at 1 s (≈ 167 ms scaled). On loopback the HTTP latency spread is a few
   * ms, but the machine is 2 shared cores running up to ~20 worker processes, so event-loop lag
   * and GC pauses of tens of ms are the real spread; 150 ms covers them (the late-slot rule lets a
   * worker send up to J/2 = 75 ms late) and caps utilisation at 299·10 000/(300·10 150) = 98.2 %.
   */
  jitterMs: 150,
  /** H: 3 s in production ÷ 6. */
  horizonMs: 500,
} as const;

/** A scaled key: its limit and window, and the limiter's jitter allowance and horizon. */
export interface ScaledKey {
  readonly limit: number;
  readonly windowMs: number;
  readonly jitterMs: number;
  readonly horizonMs: number;
}

/** The functions' environment overrides that apply the scaled limiter configuration. */
export function scaledLimiterEnv(scaled: ScaledKey = SCALED): Record<string, string> {
  return {
    UPHEAL_RATE_LIMIT: String(scaled.limit),
    UPHEAL_RATE_WINDOW_SECONDS: String(scaled.windowMs / 1000),
    UPHEAL_RATE_JITTER_MS: String(scaled.jitterMs),
    UPHEAL_RATE_HORIZON_MS: String(scaled.horizonMs),
  };
}

/** The simulator's rate limit for a run: the exact sliding log (the strictest reading). */
export function simulatorRateLimit(foreignShare: number, scaled: ScaledKey = SCALED) {
  return {
    limit: scaled.limit,
    windowMs: scaled.windowMs,
    mode: 'sliding' as const,
    foreignShare,
  };
}

/** Live events: one new provider every this many ms during the bulk load (4 calls/s of 30). */
export const LIVE_INTERVAL_MS = 500;

/** Calls excluded at the end of a backlog (the tail: last users in flight, queue empty). */
export const TAIL_CALLS = SCALED.limit / 10;

/**
 * The simulator's light faults, as a production key may see on a bad day: 4 % answered 500
 * before any effect (Upheal's 500s and 503s, which the client treats alike), 2 % created but
 * answered 500, and a latency spread of 0–60 ms in production, scaled like every time here.
 */
export const LIGHT_FAULTS = {
  seed: 16,
  serverError: 0.04,
  createdButFailed: 0.02,
  latencyMs: { min: 0, max: 60 / TIME_SCALE },
} as const;

/**
 * The quarantine's time constants scaled like the limiter's (60 s error window and 30 s probe
 * interval ÷ TIME_SCALE): the same fault rate then counts the same towards the threshold as in
 * production. Without faults it never acts.
 */
export function scaledQuarantineEnv(): Record<string, string> {
  return {
    QUARANTINE_ERROR_WINDOW_SECONDS: String(60 / TIME_SCALE),
    QUARANTINE_PROBE_SECONDS: String(30 / TIME_SCALE),
  };
}
