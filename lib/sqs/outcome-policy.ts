/**
 * What an SQS consumer does with a record whose work threw: the one place where errors become
 * queue outcomes (SPEC §3.3, errors are classified once). Pure, so it is tested without a queue.
 *
 * - defer: wait for a rate-limit slot, a 429 pause or a dependency; the message comes back after
 *   the delay and the wait does NOT count as a failed attempt;
 * - retry: a transient failure; counted, and after `maxAttempts` the message goes to the DLQ;
 * - fail: permanent (bad input, a 4xx other than 429, a dependency that never came); the failure
 *   is recorded with its reason and the message leaves the queue.
 * Unknown errors (bugs, AWS SDK errors) are retried, never dropped: after the attempts they land
 * in the DLQ, where nothing is lost.
 */
import {
  AppError,
  AwaitingWebhookError,
  NotReadyError,
  RateLimitedError,
  SlotUnavailableError,
  UnauthorizedError,
  UpstreamError,
} from '#lib/errors.ts';
import { classify } from '#lib/upheal/retry-policy.ts';

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

/** The decision for one failed record. */
export type RecordDecision =
  | { readonly action: 'defer'; readonly delayMs: number }
  | { readonly action: 'retry'; readonly delayMs: number }
  | {
      readonly action: 'fail';
      readonly reason: string;
      readonly status?: number | undefined;
      /** Keep the message for re-drive (valid work that could not be done in time). */
      readonly deadLetter?: boolean;
    };

/** Inputs besides the error. */
export interface DecisionContext {
  /** 1 for the first failed attempt of this message. */
  readonly attempt: number;
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
  readonly random?: () => number;
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
    const delayMs =
      error instanceof SlotUnavailableError
        ? error.retryAfterMs
        : (error.retryAfterMs ?? context.rateLimitDeferMs ?? DEFAULT_RATE_LIMIT_DEFER_MS);
    return { action: 'defer', delayMs };
  }
  if (error instanceof NotReadyError) {
    const waitMs =
      error instanceof AwaitingWebhookError
        ? (context.webhookWaitMs ?? context.dependencyWaitMs)
        : context.dependencyWaitMs;
    const remainingMs = waitMs - context.waitedMs;
    if (remainingMs <= 0 || lastReceive) {
      return { action: 'fail', reason: `gave up waiting: ${error.message}` };
    }
    const grown = Math.min(MAX_DEPENDENCY_DEFER_MS, context.waitedMs * DEPENDENCY_BACKOFF_SHARE);
    const hint =
      context.attempt <= 1
        ? Math.min(error.retryAfterMs, FIRST_DEPENDENCY_DEFER_MS)
        : error.retryAfterMs;
    return { action: 'defer', delayMs: Math.min(Math.max(hint, grown), remainingMs) };
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
  const verdict = classify(error, context.attempt, context.random);
  // classify() calls unknown errors permanent; a queue must not drop them, so they retry.
  return { action: 'retry', delayMs: verdict.retryable ? verdict.delayMs : 0 };
}

/** A log-safe description of an error: its class and our own message, never a foreign body. */
export function describeError(error: unknown): string {
  if (error instanceof AppError) return `${error.name}: ${error.message}`;
  if (error instanceof Error) return error.name;
  return typeof error;
}
