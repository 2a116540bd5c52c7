/**
 * The one classification of errors: `decide` maps what a record's work threw to defer-for,
 * retry-after or fail-with-reason. Errors are classified nowhere else (the Upheal client never
 * retries, the limiter only reports a 429); each error class's `retryable` flag is read here
 * only. Pure, so it is tested without a queue.
 *
 * - defer: wait for a rate-limit slot, a 429 pause, a dependency, a quarantine or a fresh
 *   invocation (too little time left); the message comes back after the delay and the wait does
 *   NOT count as a failed attempt;
 * - retry: a transient failure (5xx, timeout, connection reset, a lost write race); counted, with
 *   capped exponential backoff and full jitter over the failed attempts counted (`backoff`; never
 *   over SQS's receive count, which deferrals raise too), and after `maxAttempts` the message goes
 *   to the DLQ;
 * - fail: permanent (bad input, a 4xx other than 429, a dependency that never came); the failure
 *   is recorded with its reason and the message leaves the queue.
 * Unknown errors (bugs, AWS SDK errors, a raw socket error) are retried like transient ones,
 * never dropped: after the attempts they land in the DLQ, where nothing is lost.
 */
import {
  AppError,
  AwaitingWebhookError,
  NotReadyError,
  OutOfTimeError,
  QuarantinedError,
  RateLimitedError,
  SlotUnavailableError,
  UnauthorizedError,
  UpstreamError,
  UserBusyError,
} from '#lib/errors.ts';

/** Wait after a 429 that came without `Retry-After` (the limiter pauses everyone meanwhile). */
export const DEFAULT_RATE_LIMIT_DEFER_MS = 10_000;

/**
 * A record waiting for a dependency is deferred for at least its own hint and at least this
 * share of the time it has waited so far, so the number of receives grows with the logarithm of
 * the wait (about 13 for 15 minutes), far below the queue's dead-letter backstop.
 */
export const DEPENDENCY_BACKOFF_SHARE = 0.5;
/**
 * A record's first wait for a dependency is at most this long: the dependency is often in the
 * same batch, being applied right then (a provider and its client sent together, the records of
 * a batch running at once), so it is looked at again soon; later waits follow the hint.
 */
export const FIRST_DEPENDENCY_DEFER_MS = 2_000;
/** Longest single deferral while waiting for a dependency. */
export const MAX_DEPENDENCY_DEFER_MS = 300_000;

/**
 * A record held back by a quarantine waits at least this share of the time it has waited so
 * far (or of the quarantine's age, when that is shorter), so its receives grow with the
 * logarithm of the outage (about 12 to reach an hour) and stay far below the queue's
 * dead-letter backstop.
 */
export const QUARANTINE_BACKOFF_SHARE = 0.5;
/**
 * Longest single deferral in a quarantine: how late a record may come back after Upheal
 * recovered. With the backstop of 30 receives, an outage of about 17 hours fits.
 */
export const MAX_QUARANTINE_DEFER_MS = 3_600_000;
/** First backoff ceiling: the delay before the second attempt is drawn from [0, BASE). */
export const BASE_DELAY_MS = 1000;
/** Largest backoff ceiling, however many attempts have failed. */
export const MAX_DELAY_MS = 60_000;
/** Beyond this exponent the ceiling is MAX_DELAY_MS anyway; keeps `2 ** n` finite. */
const MAX_EXPONENT = 30;

/** The decision for one failed record. */
export type RecordDecision =
  | {
      readonly action: 'defer';
      readonly delayMs: number;
      /**
       * The record waits for rate-limit capacity (no slot within the limiter's horizon): the
       * consumer runs fewer records at once for a while.
       */
      readonly forCapacity?: boolean;
    }
  /** Count the failed attempt, then wait `backoff(failedAttempts)` (or dead-letter at the limit). */
  | { readonly action: 'retry' }
  | {
      readonly action: 'fail';
      readonly reason: string;
      readonly status?: number | undefined;
      /** Keep the message for re-drive (valid work that could not be done in time). */
      readonly deadLetter?: boolean;
    };

/** Inputs besides the error. */
export interface DecisionContext {
  /** How many times SQS delivered the message, this delivery included (1 for the first). */
  readonly receives: number;
  /** How long ago SQS first delivered the message. */
  readonly waitedMs: number;
  /** How long a record may wait for a dependency (a mapping) before it fails. */
  readonly dependencyWaitMs: number;
  /** How long a create answered 409 waits for Upheal's webhook (default `dependencyWaitMs`). */
  readonly webhookWaitMs?: number;
  /**
   * Receives SQS still allows after this one before its redrive backstop dead-letters the
   * message. At 0 a deferral would end silently in the DLQ: the record fails here instead, with
   * a failure record (and is dead-lettered by us when it is valid work, for re-drive).
   */
  readonly receivesLeft?: number;
  /** Deferral after a 429 without `Retry-After` (default DEFAULT_RATE_LIMIT_DEFER_MS). */
  readonly rateLimitDeferMs?: number;
}

/** Decides what to do with a record whose work threw `error`. */
export function decide(error: unknown, context: DecisionContext): RecordDecision {
  const lastReceive = context.receivesLeft !== undefined && context.receivesLeft <= 0;
  if (error instanceof SlotUnavailableError || error instanceof RateLimitedError) {
    if (lastReceive) {
      return {
        action: 'fail',
        reason: 'no rate-limit slot before the receive limit',
        deadLetter: true,
      };
    }
    if (error instanceof SlotUnavailableError) {
      return { action: 'defer', delayMs: error.retryAfterMs, forCapacity: true };
    }
    const delayMs = error.retryAfterMs ?? context.rateLimitDeferMs ?? DEFAULT_RATE_LIMIT_DEFER_MS;
    return { action: 'defer', delayMs };
  }
  if (error instanceof OutOfTimeError) {
    if (lastReceive) {
      return { action: 'fail', reason: 'no time left before the receive limit', deadLetter: true };
    }
    return { action: 'defer', delayMs: error.retryAfterMs };
  }
  if (error instanceof QuarantinedError) {
    if (lastReceive) {
      return { action: 'fail', reason: 'quarantined until the receive limit', deadLetter: true };
    }
    // Grown with the shorter of the record's wait and the quarantine's: a record that waited in
    // a backlog before a short quarantine comes back soon after it, not after half its age.
    const waitedMs = Math.min(context.waitedMs, error.quarantinedForMs ?? context.waitedMs);
    const grown = Math.min(MAX_QUARANTINE_DEFER_MS, waitedMs * QUARANTINE_BACKOFF_SHARE);
    return { action: 'defer', delayMs: Math.max(error.retryAfterMs, grown) };
  }
  if (error instanceof UserBusyError) return decideBusy(error, context, lastReceive);
  if (error instanceof NotReadyError) {
    const waitMs =
      error instanceof AwaitingWebhookError
        ? (context.webhookWaitMs ?? context.dependencyWaitMs)
        : context.dependencyWaitMs;
    const remainingMs = waitMs - context.waitedMs;
    if (remainingMs <= 0 || lastReceive) {
      return { action: 'fail', reason: `gave up waiting: ${error.message}` };
    }
    return decideWait(error, context, remainingMs);
  }
  // A rejected API key is no fault of the record: keep it for re-drive once the key is fixed.
  if (error instanceof UnauthorizedError) {
    return { action: 'fail', reason: error.message, status: error.status, deadLetter: true };
  }
  if (error instanceof AppError && !error.retryable) {
    return {
      action: 'fail',
      reason: error.message,
      status: error instanceof UpstreamError ? error.status : undefined,
    };
  }
  return { action: 'retry' };
}

/**
 * A record whose user is held by another message. Within the dependency wait it waits like a
 * dependency. After it, it does not fail (the holder is gone within `longestHoldMs`): it comes
 * back once any holder's lease has run out. Only SQS's receive limit ends it, kept for re-drive.
 */
function decideBusy(
  error: UserBusyError,
  context: DecisionContext,
  lastReceive: boolean,
): RecordDecision {
  if (lastReceive) {
    return { action: 'fail', reason: `gave up waiting: ${error.message}`, deadLetter: true };
  }
  const remainingMs = context.dependencyWaitMs - context.waitedMs;
  if (remainingMs > 0) return decideWait(error, context, remainingMs);
  return { action: 'defer', delayMs: Math.max(error.retryAfterMs, error.longestHoldMs) };
}

/** The deferral of a record waiting for a dependency, with `remainingMs` of its wait left. */
function decideWait(error: NotReadyError, context: DecisionContext, remainingMs: number) {
  const grown = Math.min(MAX_DEPENDENCY_DEFER_MS, context.waitedMs * DEPENDENCY_BACKOFF_SHARE);
  const hint =
    context.receives <= 1
      ? Math.min(error.retryAfterMs, FIRST_DEPENDENCY_DEFER_MS)
      : error.retryAfterMs;
  return { action: 'defer', delayMs: Math.min(Math.max(hint, grown), remainingMs) } as const;
}

/**
 * The wait before retrying a message whose `attempt`-th try failed (1 for the first failure):
 * capped exponential backoff with full jitter, uniform in [0, min(MAX, BASE·2^(attempt−1))). The
 * attempt is the message's count of real failures: a message deferred ten times for a slot and
 * then answered one 500 waits up to a second, not the cap.
 * `random` returns a number in [0, 1); injected so tests are deterministic.
 */
export function backoff(attempt: number, random: () => number): number {
  const exponent = Math.min(Math.max(Math.floor(attempt), 1) - 1, MAX_EXPONENT);
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

/** A log-safe description of an error: its class and our own message, never a foreign body. */
export function describeError(error: unknown): string {
  if (error instanceof AppError) return `${error.name}: ${error.message}`;
  if (error instanceof Error) return error.name;
  return typeof error;
}
