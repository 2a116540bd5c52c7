/**
 * The quarantine's rules, pure: which of Upheal's answers are faults of Upheal or of the API key
 * (not of one record), when they add up to a quarantine, and what a probe's answer means. The
 * DynamoDB adapter (`dynamo-quarantine.ts`) applies them to the one shared item.
 */
import {
  ConnectionError,
  ForbiddenError,
  RateLimitedError,
  ServerError,
  SlotUnavailableError,
  TimeoutError,
  UnauthorizedError,
  UpstreamError,
} from '#lib/errors.ts';

/** Why the sync is quarantined. */
export const QUARANTINE_REASONS = {
  /** Upheal answered 401: the API key is refused (revoked, rotated without the new one). */
  unauthorized: 'unauthorized',
  /** 5xx, timeouts, broken connections or 403s beyond the threshold, across instances. */
  failing: 'upheal-failing',
} as const;

/** One of QUARANTINE_REASONS. */
export type QuarantineReason = (typeof QUARANTINE_REASONS)[keyof typeof QUARANTINE_REASONS];

/** The thresholds and timing of the quarantine (from `QUARANTINE_*`). */
export interface QuarantineSettings {
  /** Faults (5xx, timeouts, resets, 403s) within one error window that quarantine the sync. */
  readonly errorThreshold: number;
  /** The window the faults are counted in, in ms. */
  readonly errorWindowMs: number;
  /** Time between probes while quarantined, in ms. */
  readonly probeIntervalMs: number;
}

/** The shared state, as stored. */
export interface QuarantineState {
  /** Epoch ms the quarantine started; absent while the sync runs. */
  readonly since?: number | undefined;
  readonly reason?: QuarantineReason | undefined;
  /** Epoch ms from which the next probe may run. */
  readonly probeAt?: number | undefined;
  /** Probes made in the current (or last) quarantine. */
  readonly probes?: number | undefined;
  /** Faults counted in the current error window, and when that window started. */
  readonly errors?: number | undefined;
  readonly errorWindowStart?: number | undefined;
  /** The last quarantine that ended: when it started, why, and when a probe ended it. */
  readonly lastSince?: number | undefined;
  readonly lastReason?: QuarantineReason | undefined;
  readonly lastResumedAt?: number | undefined;
}

/**
 * The fault an error of an Upheal call shows, if it is one of Upheal or of the key rather than
 * of the record: a 401 quarantines at once (every call will fail the same way); 5xx, timeouts,
 * broken connections and 403s count towards the threshold (a 403 may concern one user only,
 * while a key stripped of its rights answers 403 to everything).
 */
export function faultOf(error: unknown): QuarantineReason | undefined {
  if (error instanceof UnauthorizedError) return QUARANTINE_REASONS.unauthorized;
  if (
    error instanceof ServerError ||
    error instanceof TimeoutError ||
    error instanceof ConnectionError ||
    error instanceof ForbiddenError
  ) {
    return QUARANTINE_REASONS.failing;
  }
  return undefined;
}

/**
 * How many of an instance's latest Upheal calls its fault share is taken over. Enough that a
 * few faults among many answers (Upheal failing now and then) make a small share, few enough
 * that an outage shows within a handful of calls.
 */
export const RECENT_CALLS = 20;

/**
 * Least share of an instance's recent calls that must be faults for a fault to count towards the
 * quarantine. Upheal failing a few calls in a hundred is no outage: those calls are retried, and
 * the sync goes on. Counting each of them would quarantine a busy sync now and then (at 300
 * calls a minute, a 6 % fault rate makes 18 faults a minute on average, near the threshold),
 * stopping every call for a probe interval and more. In an outage nearly every call fails, so
 * the share is reached within a few calls and every fault after counts.
 */
export const MIN_FAULT_SHARE = 0.25;

/** The outcomes (fault or answer) of one instance's latest RECENT_CALLS Upheal calls. */
export class RecentCalls {
  readonly #faults: boolean[] = [];

  /** Records one call's outcome: a fault (faultOf) or an answer (success or not). */
  record(fault: boolean): void {
    this.#faults.push(fault);
    if (this.#faults.length > RECENT_CALLS) this.#faults.shift();
  }

  /** Share of the recorded calls that were faults (0 before any). */
  faultShare(): number {
    if (this.#faults.length === 0) return 0;
    return this.#faults.filter(Boolean).length / this.#faults.length;
  }

  /** Whether the latest fault counts towards the quarantine (see MIN_FAULT_SHARE). */
  faultsAreCommon(): boolean {
    return this.faultShare() >= MIN_FAULT_SHARE;
  }
}

/** Whether the state is a quarantine in force. */
export function isQuarantined(
  state: QuarantineState | undefined,
): state is QuarantineState & { since: number; reason: QuarantineReason } {
  return state?.since !== undefined;
}

/** What a probe's answer says about Upheal. */
export const PROBE_OUTCOMES = { up: 'up', down: 'down', inconclusive: 'inconclusive' } as const;

/** One of PROBE_OUTCOMES. */
export type ProbeOutcome = (typeof PROBE_OUTCOMES)[keyof typeof PROBE_OUTCOMES];

/**
 * The meaning of a probe that ended with `error` (undefined: it succeeded). Any answer that is
 * not a fault (a 400 or 404 included) shows Upheal answering with the key accepted: the sync
 * resumes. A 429, or no slot from the limiter, says nothing either way; neither does a failure
 * of our own (DynamoDB, a bug).
 */
export function probeOutcome(error: unknown): ProbeOutcome {
  if (error === undefined) return PROBE_OUTCOMES.up;
  if (error instanceof RateLimitedError || error instanceof SlotUnavailableError) {
    return PROBE_OUTCOMES.inconclusive;
  }
  if (faultOf(error) !== undefined) return PROBE_OUTCOMES.down;
  return error instanceof UpstreamError ? PROBE_OUTCOMES.up : PROBE_OUTCOMES.inconclusive;
}
