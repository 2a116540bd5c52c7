/**
 * The one retry policy for Upheal calls (STYLE 6, SPEC "errors are classified once"). The client
 * never retries by itself; the queue consumers and the limiter ask `classify` what to do with a
 * failure, so every caller waits the same way.
 */
import { AppError, RateLimitedError } from '#lib/errors.ts';
import { errorFromTransport } from '#lib/upheal/http-errors.ts';

/** First backoff ceiling: the delay before the second attempt is drawn from [0, BASE). */
export const BASE_DELAY_MS = 1000;

/** Largest backoff ceiling, however many attempts have failed. */
export const MAX_DELAY_MS = 60_000;

/**
 * Largest wait honoured from a server hint (`Retry-After`, a limiter's horizon): SQS can delay a
 * message by at most 15 minutes, so a longer hint is clamped to that.
 */
export const MAX_RETRY_AFTER_MS = 900_000;

/** Spread added to a server hint so workers told the same instant do not return together. */
export const RETRY_AFTER_SPREAD_MS = 1000;

/** Beyond this exponent the ceiling is MAX_DELAY_MS anyway; keeps `2 ** n` finite. */
const MAX_EXPONENT = 30;

/** What to do with a failed attempt. */
export type RetryDecision =
  | { readonly retryable: false }
  | {
      readonly retryable: true;
      /** Milliseconds to wait before the next attempt. */
      readonly delayMs: number;
      /** Upheal answered 429: the caller also tells the shared limiter to slow down. */
      readonly rateLimited: boolean;
    };

/** The `retryAfterMs` hint an error carries, if any (429s, NotReadyError, SlotUnavailableError). */
function retryAfterOf(error: AppError): number | undefined {
  const hint = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof hint === 'number' && Number.isFinite(hint) && hint >= 0 ? hint : undefined;
}

/** Capped exponential backoff with full jitter: uniform in [0, min(MAX, BASE·2^(attempt−1))). */
function backoff(attempt: number, random: () => number): number {
  const exponent = Math.min(Math.max(Math.floor(attempt), 1) - 1, MAX_EXPONENT);
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** exponent);
  return Math.floor(random() * ceiling);
}

/**
 * Whether `error`, raised by attempt number `attempt` (1 for the first try), is worth retrying
 * and after how long. Retryable: 429, 5xx, timeouts, connection failures and any other AppError
 * whose `retryable` is true. A server hint (`retryAfterMs`) replaces the backoff, capped at
 * MAX_RETRY_AFTER_MS and spread by up to RETRY_AFTER_SPREAD_MS. Everything else — other 4xx,
 * validation, unexpected responses, programming errors — is permanent. `random` returns a number
 * in [0, 1); injected so tests are deterministic.
 */
export function classify(
  error: unknown,
  attempt: number,
  random: () => number = Math.random,
): RetryDecision {
  const known = error instanceof AppError ? error : errorFromTransport('unknown', error);
  if (!known?.retryable) return { retryable: false };
  const rateLimited = known instanceof RateLimitedError;
  const hint = retryAfterOf(known);
  const delayMs =
    hint === undefined
      ? backoff(attempt, random)
      : Math.min(MAX_RETRY_AFTER_MS, hint + Math.floor(random() * RETRY_AFTER_SPREAD_MS));
  return { retryable: true, delayMs, rateLimited };
}
