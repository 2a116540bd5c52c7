/**
 * The limiter's guarantees, checked in virtual time (deterministic, seeded, no sleeping) with the
 * production figures: N = 300 per W = 60 s, J = 1 s, H = 3 s, tens of thousands of slots per run.
 * Upheal is the simulator's exact sliding log, and every count is taken from arrival times.
 */
import { describe, expect, it } from 'vitest';
import { deriveParams, type GcraParams } from '#lib/limiter/gcra.ts';
import { LANES } from '#lib/limiter/rate-limiter.ts';
import {
  type Delays,
  peakInClosedWindow,
  type SimulationOptions,
  type SimulationResult,
  simulate,
} from './simulation.ts';

const N = 300;
const W = 60_000;
const J = 1_000;
const params = deriveParams({ limit: N, windowMs: W, jitterMs: J, horizonMs: 3_000 });
const T = params.safeIntervalMs;
/** About 32,000 slots at the safe rate. */
const DURATION_MS = 6_500_000;
/** Windows skipped before measuring rates (start-up and AIMD convergence). */
const WARM_UP_MS = 10 * W;
/** A Lambda's time from Upheal's arrival to having the answer. */
const RESPONSE_MS = 300;
/** The utilisation the algorithm promises when it is the only client: (N − 1)W / (N(W + J)). */
const PROMISED_UTILISATION = ((N - 1) * W) / (N * (W + J));

/** Lateness the adversaries stay below, so float rounding never trips the late-slot rule. */
const SEND_LATENESS_CAP_MS = params.lateMs - 1;

/** Splits a total arrival offset in [0, J] into lateness (below lateMs) and network spread. */
const splitOffset =
  (offset: (slot: number, random: () => number) => number): Delays =>
  (slot, random) => {
    const total = offset(slot, random);
    const send = Math.min(total, SEND_LATENESS_CAP_MS);
    return { send, network: total - send };
  };

/**
 * The worst case for the proof: offsets fall from J to 0 across every (W + J) of slots, so a
 * window's first arrivals are as late and its last as early as allowed, squeezing W + J of slots
 * into W.
 */
const sawtoothOffset = (slot: number): number => J * (1 - ((slot / (W + J)) % 1));

/** The adversaries every bound is checked against. */
const ADVERSARIES = {
  uniform: splitOffset((_slot, random) => random() * J),
  extremes: splitOffset((_slot, random) => (random() < 0.5 ? 0 : J)),
  sawtooth: splitOffset(sawtoothOffset),
} as const satisfies Record<string, Delays>;

const run = (overrides: Partial<SimulationOptions> = {}): SimulationResult =>
  simulate({
    params,
    seed: 20_261_127,
    durationMs: DURATION_MS,
    bulkWorkers: 8,
    delays: ADVERSARIES.sawtooth,
    responseMs: RESPONSE_MS,
    ...overrides,
  });

const arrivals = (result: SimulationResult): number[] => result.sent.map((sent) => sent.arrival);
const accepted = (result: SimulationResult) => result.sent.filter((sent) => !sent.rejected);
const rejected = (result: SimulationResult) => result.sent.filter((sent) => sent.rejected);

/** Accepted requests of ours per window, after the warm-up. */
const ourRatePerWindow = (result: SimulationResult): number =>
  (accepted(result).filter((sent) => sent.arrival >= WARM_UP_MS).length * W) /
  (DURATION_MS - WARM_UP_MS);

const percentile = (values: readonly number[], share: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))]!;
};

const waits = (result: SimulationResult, lane: string): number[] =>
  result.sent.filter((sent) => sent.lane === lane).map((sent) => sent.slot - sent.requestedAt);

describe('the window bound', () => {
  for (const [name, delays] of Object.entries(ADVERSARIES)) {
    it(`never lets more than N arrive in any window of W (${name} arrival jitter in [0, J])`, () => {
      const result = run({ delays });
      expect(result.sent.length).toBeGreaterThan(30_000);
      expect(peakInClosedWindow(arrivals(result), W)).toBeLessThanOrEqual(N);
      expect(rejected(result)).toHaveLength(0);
    });
  }

  for (const [name, delays] of Object.entries(ADVERSARIES)) {
    it(`holds with leases: 16 workers in 2 processes share slots (${name} jitter)`, () => {
      const result = run({ delays, bulkWorkers: 16, workersPerProcess: 8 });
      expect(result.sent.length).toBeGreaterThan(30_000);
      expect(peakInClosedWindow(arrivals(result), W)).toBeLessThanOrEqual(N);
      expect(rejected(result)).toHaveLength(0);
      // Leases at least halve the writes (one per slot without them) and waste almost no slot.
      expect(result.writes / result.sent.length).toBeLessThan(0.5);
      expect(result.pooledDrops / result.slotsBooked).toBeLessThan(0.001);
      expect(ourRatePerWindow(result) / N).toBeGreaterThan(0.97);
    });
  }

  it('is tight: the sawtooth adversary drives a window to N − 1 or N', () => {
    expect(peakInClosedWindow(arrivals(run()), W)).toBeGreaterThanOrEqual(N - 1);
  });

  it('catches a limiter paced 2 % too fast (the check can fail)', () => {
    const tooFast: GcraParams = deriveParams({
      limit: N + 5,
      windowMs: W,
      jitterMs: J,
      horizonMs: 3_000,
    });
    const result = run({ params: tooFast });
    expect(peakInClosedWindow(arrivals(result), W)).toBeGreaterThan(N);
  });
});

describe('utilisation', () => {
  it('reaches (N − 1)W / (N(W + J)) of the limit under a backlog, about 98 % at J = 1 s', () => {
    const result = run({ delays: ADVERSARIES.uniform });
    const utilisation = ourRatePerWindow(result) / N;
    expect(PROMISED_UTILISATION).toBeCloseTo(0.98, 2);
    expect(Math.abs(utilisation / PROMISED_UTILISATION - 1)).toBeLessThan(0.005);
  });

  it('costs one write per slot when nobody else uses the key', () => {
    const result = run();
    expect(result.conditionalFailures).toBe(0);
    expect(result.writes / result.sent.length).toBeLessThan(1.01);
  });
});

describe('the late-slot rule', () => {
  /** Every other period, the workers holding the last J of slots freeze for 2J (GC, a freeze). */
  const freezes = (slot: number): number =>
    Math.floor(slot / (W + J)) % 2 === 0 && slot % (W + J) >= W ? 2 * J : 0;
  const frozen: Delays = (slot, random) => {
    const delay = ADVERSARIES.sawtooth(slot, random);
    return { send: delay.send + freezes(slot), network: delay.network };
  };

  it('drops a slot reached more than lateMs late and books again, keeping the bound', () => {
    const result = run({ delays: frozen });
    expect(result.lateDrops).toBeGreaterThan(100);
    for (const sent of result.sent) expect(sent.arrival - sent.slot).toBeLessThanOrEqual(J);
    expect(peakInClosedWindow(arrivals(result), W)).toBeLessThanOrEqual(N);
  });

  it('is what keeps the bound: without it the same freezes overfill a window', () => {
    const result = run({ delays: frozen, lateRule: false });
    expect(peakInClosedWindow(arrivals(result), W)).toBeGreaterThan(N);
  });
});

describe('lanes', () => {
  /** Twelve import workers keep a bulk backlog; live events arrive every 2 s on average. */
  const busy = { bulkWorkers: 12, liveMeanGapMs: 2_000, delays: ADVERSARIES.uniform };

  it('serves live requests ahead of a bulk backlog, which still fills the rate', () => {
    const result = run(busy);
    const live = waits(result, LANES.live);
    const bulk = waits(result, LANES.bulk);
    expect(live.length).toBeGreaterThan(3_000);
    expect(result.deferrals.live).toBe(0);
    expect(result.lateDrops).toBe(0);
    // A live request waits at most for the bulk lead, one slot per live request still waiting
    // ahead of it, and one more: never for the bulk backlog.
    const liveSent = result.sent.filter((sent) => sent.lane === LANES.live);
    for (const request of liveSent) {
      const liveAhead = liveSent.filter(
        (other) => other.requestedAt < request.requestedAt && other.slot > request.requestedAt,
      ).length;
      const allowed = params.bulkLeadMs + (liveAhead + 1) * T;
      expect(request.slot - request.requestedAt).toBeLessThanOrEqual(allowed + 1e-6);
    }
    expect(percentile(live, 0.99)).toBeLessThan(percentile(bulk, 0.5));
    expect(ourRatePerWindow(result) / N).toBeGreaterThan(0.97);
    expect(peakInClosedWindow(arrivals(result), W)).toBeLessThanOrEqual(N);
  });

  it('matter: with the backlog on the live lane, live requests queue behind it', () => {
    const result = run({ ...busy, backlogLane: LANES.live });
    expect(percentile(waits(result, LANES.live), 0.99)).toBeGreaterThan(2 * params.bulkLeadMs);
  });
});

describe('adaptation (AIMD)', () => {
  /** Foreign clients of the same key take 30 % or 60 % of the budget. */
  const cases = [0.3, 0.6].flatMap((foreignShare) =>
    [4, 16].flatMap((bulkWorkers) =>
      [true, false].map((retryAfter) => ({ foreignShare, bulkWorkers, retryAfter })),
    ),
  );
  for (const { foreignShare, bulkWorkers, retryAfter } of cases) {
    const header = retryAfter ? 'with Retry-After' : 'without Retry-After';
    const foreignPerWindow = foreignShare * N;
    const remaining = N - foreignPerWindow;
    it(`paces at the share a ${foreignShare * 100} % foreign client leaves, few 429s (${bulkWorkers} workers, ${header})`, () => {
      const result = run({ bulkWorkers, foreignPerWindow, retryAfter });
      const ours = result.sent.length;
      // 429s (each 429 pauses everyone): at most 1 % of our calls at 30 %, a little more at 60 %.
      expect(rejected(result).length / ours).toBeLessThan(foreignShare < 0.5 ? 0.01 : 0.015);
      expect(ourRatePerWindow(result) / remaining).toBeGreaterThanOrEqual(0.95);
      expect(ourRatePerWindow(result)).toBeLessThanOrEqual(remaining);
      // The shared rate settled below the safe cap: it adapted rather than being paused forever.
      expect(result.finalState!.intervalMs).toBeGreaterThan(T);
    });
  }

  it('adapts when a foreign client appears on a key that looked unshared (slots not re-checked)', () => {
    // Alone for the first half: the schedule runs at the safe rate and stops re-checking slots
    // before use; then a 30 % client appears, and the first 429s meet slots booked unchecked.
    const half = DURATION_MS / 2;
    const result = run({ bulkWorkers: 16, foreignPerWindow: (at) => (at < half ? 0 : 90) });
    const firstEvent = rejected(result).filter(
      (sent) => sent.arrival >= half && sent.arrival < half + 2 * W,
    );
    const late = accepted(result).filter((sent) => sent.arrival >= half + 5 * W);
    const perWindow = (late.length * W) / (DURATION_MS - half - 5 * W);
    expect(rejected(result).filter((sent) => sent.arrival < half)).toHaveLength(0);
    expect(firstEvent.length).toBeLessThanOrEqual(25);
    expect(perWindow / (N - 90)).toBeGreaterThanOrEqual(0.93);
    expect(perWindow).toBeLessThanOrEqual(N - 90);
  });

  it('finds the remaining share again when the foreign client takes more (the estimate was wrong)', () => {
    // 30 % for the first half, then 60 %: the rate set for 30 % fills the window at once, and the
    // cuts that follow must come down to the new remainder instead of trying just below the old.
    const half = DURATION_MS / 2;
    const result = run({ bulkWorkers: 4, foreignPerWindow: (at) => (at < half ? 90 : 180) });
    const late = accepted(result).filter((sent) => sent.arrival >= half + 5 * W);
    const perWindow = (late.length * W) / (DURATION_MS - half - 5 * W);
    expect(perWindow / (N - 180)).toBeGreaterThanOrEqual(0.9);
    // At most 1 % above the remainder: a rate that fills the window now and then takes a few
    // requests the foreign client would have got in.
    expect(perWindow).toBeLessThanOrEqual(1.01 * (N - 180));
    const lateRejected = rejected(result).filter((sent) => sent.arrival >= half + 5 * W);
    expect(lateRejected.length / late.length).toBeLessThan(0.02);
  });
});
