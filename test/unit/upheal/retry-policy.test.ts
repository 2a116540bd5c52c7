import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  BadRequestError,
  ConflictError,
  ConnectionError,
  ForbiddenError,
  NotFoundError,
  NotReadyError,
  RateLimitedError,
  ServerError,
  SlotUnavailableError,
  TimeoutError,
  UnauthorizedError,
  UnexpectedResponseError,
  UnexpectedStatusError,
  ValidationError,
} from '#lib/errors.ts';
import {
  BASE_DELAY_MS,
  classify,
  MAX_DELAY_MS,
  MAX_RETRY_AFTER_MS,
  RETRY_AFTER_SPREAD_MS,
} from '#lib/upheal/retry-policy.ts';

/** The largest value a `random()` may return. */
const ALMOST_ONE = 1 - Number.EPSILON;
const top = () => ALMOST_ONE;
const bottom = () => 0;
const half = () => 0.5;

const rateLimited = (retryAfterMs?: number) =>
  new RateLimitedError('upheal check: HTTP 429', 429, undefined, undefined, retryAfterMs);

describe('classify', () => {
  it.each([
    ['429', rateLimited()],
    ['5xx', new ServerError('x', 503, undefined, undefined)],
    ['timeout', new TimeoutError('x', undefined, undefined, undefined)],
    ['connection', new ConnectionError('x', undefined, undefined, undefined)],
  ])('retries a %s', (_name, error) => {
    expect(classify(error, 1).retryable).toBe(true);
  });

  it.each([
    ['400', new BadRequestError('x', 400, undefined, undefined)],
    ['401', new UnauthorizedError('x', 401, undefined, undefined)],
    ['403', new ForbiddenError('x', 403, undefined, undefined)],
    ['404', new NotFoundError('x', 404, undefined, undefined)],
    ['409', new ConflictError('x', 409, undefined, undefined)],
    ['unexpected status', new UnexpectedStatusError('x', 405, undefined, undefined)],
    ['unexpected response', new UnexpectedResponseError('x', 200, undefined, undefined)],
    ['validation', new ValidationError([{ field: 'email', reason: 'required' }])],
    ['programming error', new TypeError('undefined is not a function')],
    ['non-error', 'boom'],
  ])('gives up on a %s', (_name, error) => {
    expect(classify(error, 1)).toEqual({ retryable: false });
  });

  it('retries a raw transport error the client did not wrap', () => {
    const raw = Object.assign(new Error('reset'), { code: 'ECONNRESET' });
    expect(classify(raw, 1, top)).toMatchObject({ retryable: true, rateLimited: false });
  });

  it('flags only 429s as rate limited', () => {
    expect(classify(rateLimited(), 1)).toMatchObject({ rateLimited: true });
    expect(classify(new ServerError('x', 500, undefined, undefined), 1)).toMatchObject({
      rateLimited: false,
    });
  });

  it('doubles the backoff ceiling per attempt, starting at the base', () => {
    const error = new ServerError('x', 500, undefined, undefined);
    const ceilings = [1, 2, 3, 4].map((attempt) => {
      const decision = classify(error, attempt, top);
      return decision.retryable ? decision.delayMs : undefined;
    });
    expect(ceilings).toEqual([
      BASE_DELAY_MS - 1,
      2 * BASE_DELAY_MS - 1,
      4 * BASE_DELAY_MS - 1,
      8 * BASE_DELAY_MS - 1,
    ]);
  });

  it('applies full jitter: the delay is the random share of the ceiling', () => {
    const error = new TimeoutError('x', undefined, undefined, undefined);
    expect(classify(error, 3, bottom)).toMatchObject({ delayMs: 0 });
    expect(classify(error, 3, half)).toMatchObject({ delayMs: 2 * BASE_DELAY_MS });
  });

  it('caps the backoff however many attempts failed', () => {
    const error = new ConnectionError('x', undefined, undefined, undefined);
    expect(classify(error, 1000, top)).toMatchObject({ delayMs: MAX_DELAY_MS - 1 });
    expect(classify(error, Number.MAX_SAFE_INTEGER, top)).toMatchObject({
      delayMs: MAX_DELAY_MS - 1,
    });
  });

  it('treats an attempt below 1 as the first attempt', () => {
    const error = new ServerError('x', 500, undefined, undefined);
    expect(classify(error, 0, top)).toMatchObject({ delayMs: BASE_DELAY_MS - 1 });
    expect(classify(error, -3, top)).toMatchObject({ delayMs: BASE_DELAY_MS - 1 });
  });

  it('honours Retry-After instead of the backoff, plus a small spread', () => {
    expect(classify(rateLimited(5000), 9, bottom)).toEqual({
      retryable: true,
      delayMs: 5000,
      rateLimited: true,
    });
    expect(classify(rateLimited(5000), 1, half)).toMatchObject({
      delayMs: 5000 + RETRY_AFTER_SPREAD_MS / 2,
    });
  });

  it('honours Retry-After of zero', () => {
    expect(classify(rateLimited(0), 4, bottom)).toMatchObject({ delayMs: 0 });
  });

  it('caps a very long Retry-After', () => {
    expect(classify(rateLimited(3_600_000), 1, bottom)).toMatchObject({
      delayMs: MAX_RETRY_AFTER_MS,
    });
  });

  it('backs off exponentially on a 429 without Retry-After', () => {
    expect(classify(rateLimited(), 2, top)).toEqual({
      retryable: true,
      delayMs: 2 * BASE_DELAY_MS - 1,
      rateLimited: true,
    });
  });

  it('honours the wait of other retryable errors that carry one', () => {
    expect(classify(new NotReadyError('provider not mapped', 2500), 1, bottom)).toEqual({
      retryable: true,
      delayMs: 2500,
      rateLimited: false,
    });
    expect(classify(new SlotUnavailableError(800), 1, bottom)).toMatchObject({ delayMs: 800 });
  });

  it('always gives a whole delay within [0, cap] for any attempt and random draw', () => {
    const errors = [
      rateLimited(),
      rateLimited(123_456_789),
      new ServerError('x', 500, undefined, undefined),
      new TimeoutError('x', undefined, undefined, undefined),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...errors),
        fc.integer({ min: -5, max: 10_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (error, attempt, draw) => {
          const decision = classify(error, attempt, () => draw);
          if (!decision.retryable) return false;
          return (
            Number.isInteger(decision.delayMs) &&
            decision.delayMs >= 0 &&
            decision.delayMs <= MAX_RETRY_AFTER_MS
          );
        },
      ),
    );
  });
});
