/**
 * The simulated Upheal per-key limiter: a pure state machine over timestamps, with no I/O and an
 * injectable clock, so its semantics are tested exactly. Three modes (research/rate-limiting.md
 * §6.2): the exact sliding log (the strictest reading of "300 per minute", the default), fixed
 * windows aligned to the clock, and a token bucket.
 */
import { LIMIT_MODES, type LimitMode } from './options.ts';

/** Settings of one limiter. */
export interface WindowLimiterConfig {
  readonly mode: LimitMode;
  /** Requests admitted per window (and the token-bucket capacity). */
  readonly limit: number;
  readonly windowMs: number;
  /** Whether rejected requests also count against the budget. */
  readonly count429s: boolean;
}

/** The outcome of one request at the limiter. */
export type LimitDecision =
  | { readonly allowed: true }
  | {
      readonly allowed: false;
      /** Milliseconds until a request would be admitted if nothing else arrived. */
      readonly retryAfterMs: number;
    };

/** Decides, request by request, whether the key is over its limit. */
export interface WindowLimiter {
  /**
   * Records an arrival at `at` (default: the clock) and says whether it is admitted. Arrivals must
   * come in non-decreasing time order.
   */
  tryAcquire(at?: number): LimitDecision;
  /** The settings it was built with. */
  readonly config: WindowLimiterConfig;
}

/** A monotonic clock in milliseconds. */
export type Clock = () => number;

const ADMIT: LimitDecision = { allowed: true };

/**
 * Sliding log: admits at `at` when fewer than `limit` counted arrivals lie in (at − windowMs, at],
 * so no span shorter than `windowMs` ever holds more than `limit` of them.
 */
function slidingLog(config: WindowLimiterConfig, clock: Clock): WindowLimiter {
  let log: number[] = [];
  let head = 0;
  return {
    config,
    tryAcquire(at = clock()) {
      while (head < log.length && log[head]! <= at - config.windowMs) head += 1;
      // Compact now and then so the array does not grow without bound.
      if (head > config.limit && head * 2 > log.length) {
        log = log.slice(head);
        head = 0;
      }
      const inWindow = log.length - head;
      if (inWindow < config.limit) {
        log.push(at);
        return ADMIT;
      }
      // The (inWindow − limit + 1)-th oldest must leave before one more fits.
      const freeing = log[head + inWindow - config.limit]!;
      if (config.count429s) log.push(at);
      return { allowed: false, retryAfterMs: Math.max(0, freeing + config.windowMs - at) };
    },
  };
}

/** Fixed windows [k·windowMs, (k+1)·windowMs) of the clock: the count resets at each boundary. */
function fixedWindow(config: WindowLimiterConfig, clock: Clock): WindowLimiter {
  let windowIndex = Number.NEGATIVE_INFINITY;
  let count = 0;
  return {
    config,
    tryAcquire(at = clock()) {
      const index = Math.floor(at / config.windowMs);
      if (index !== windowIndex) {
        windowIndex = index;
        count = 0;
      }
      if (count < config.limit) {
        count += 1;
        return ADMIT;
      }
      if (config.count429s) count += 1;
      return { allowed: false, retryAfterMs: (index + 1) * config.windowMs - at };
    },
  };
}

/**
 * Token bucket of `limit` tokens, full at start, refilled at `limit / windowMs` per ms. With
 * count429s a rejected request still takes a token, down to at most `limit` tokens of debt.
 */
function tokenBucket(config: WindowLimiterConfig, clock: Clock): WindowLimiter {
  const ratePerMs = config.limit / config.windowMs;
  const floor = -config.limit;
  let tokens = config.limit;
  let last: number | undefined;
  return {
    config,
    tryAcquire(at = clock()) {
      if (last !== undefined) tokens = Math.min(config.limit, tokens + (at - last) * ratePerMs);
      last = at;
      if (tokens >= 1) {
        tokens -= 1;
        return ADMIT;
      }
      if (config.count429s) tokens = Math.max(floor, tokens - 1);
      return { allowed: false, retryAfterMs: (1 - tokens) / ratePerMs };
    },
  };
}

/** Builds a limiter in the configured mode, reading time from `clock` when not given one. */
export function createWindowLimiter(config: WindowLimiterConfig, clock: Clock): WindowLimiter {
  switch (config.mode) {
    case LIMIT_MODES.sliding:
      return slidingLog(config, clock);
    case LIMIT_MODES.fixed:
      return fixedWindow(config, clock);
    case LIMIT_MODES.tokenBucket:
      return tokenBucket(config, clock);
  }
}

/**
 * The largest number of `timestamps` (sorted ascending) within any span shorter than `windowMs`,
 * i.e. in any window (t − windowMs, t]: the figure the sliding limit bounds.
 */
export function peakInWindow(timestamps: readonly number[], windowMs: number): number {
  let peak = 0;
  let start = 0;
  for (let end = 0; end < timestamps.length; end += 1) {
    while (timestamps[end]! - timestamps[start]! >= windowMs) start += 1;
    peak = Math.max(peak, end - start + 1);
  }
  return peak;
}
