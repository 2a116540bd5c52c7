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
  NotReadyError,
  RateLimitedError,
  SlotUnavailableError,
  UpstreamError,
} from '#lib/errors.ts';
import { classify } from '#lib/upheal/retry-policy.ts';

/** Wait after a 429 that came without `Retry-After` (the limiter pauses everyone meanwhile). */
export const DEFAULT_RATE_LIMIT_DEFER_MS = 10_000;

/** The decision for one failed record. */
export type RecordDecision =
  | { readonly action: 'defer'; readonly delayMs: number }
  | { readonly action: 'retry'; readonly delayMs: number }
  | { readonly action: 'fail'; readonly reason: string; readonly status?: number | undefined };

/** Inputs besides the error. */
export interface DecisionContext {
  /** 1 for the first failed attempt of this message. */
  readonly attempt: number;
  /** How long ago SQS first delivered the message. */
  readonly waitedMs: number;
  /** How long a record may wait for a dependency (a mapping) before it fails. */
  readonly dependencyWaitMs: number;
  readonly random?: () => number;
}

/** Decides what to do with a record whose work threw `error`. */
export function decide(error: unknown, context: DecisionContext): RecordDecision {
  if (error instanceof SlotUnavailableError)
    return { action: 'defer', delayMs: error.retryAfterMs };
  if (error instanceof RateLimitedError) {
    return { action: 'defer', delayMs: error.retryAfterMs ?? DEFAULT_RATE_LIMIT_DEFER_MS };
  }
  if (error instanceof NotReadyError) {
    if (context.waitedMs >= context.dependencyWaitMs) {
      return { action: 'fail', reason: `gave up waiting: ${error.message}` };
    }
    return { action: 'defer', delayMs: error.retryAfterMs };
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
