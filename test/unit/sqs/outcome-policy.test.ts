/** The one place where a record's error becomes a queue outcome. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AwaitingWebhookError,
  BadRequestError,
  ConflictError,
  ConnectionError,
  ContentionError,
  ForbiddenError,
  NotFoundError,
  NotReadyError,
  OutOfTimeError,
  QuarantinedError,
  RateLimitedError,
  ServerError,
  SlotUnavailableError,
  TimeoutError,
  UnauthorizedError,
  UnexpectedResponseError,
  UnexpectedStatusError,
  UserBusyError,
  ValidationError,
} from '#lib/errors.ts';
import {
  BASE_DELAY_MS,
  backoff,
  DEFAULT_RATE_LIMIT_DEFER_MS,
  decide,
  describeError,
  FIRST_DEPENDENCY_DEFER_MS,
  MAX_DELAY_MS,
  MAX_DEPENDENCY_DEFER_MS,
  MAX_QUARANTINE_DEFER_MS,
  QUARANTINE_BACKOFF_SHARE,
} from '#lib/sqs/outcome-policy.ts';

const context = { receives: 1, waitedMs: 0, dependencyWaitMs: 900_000 };

describe('decide', () => {
  it("defers a record with no rate-limit slot by the limiter's wait", () => {
    expect(decide(new SlotUnavailableError(1234), context)).toEqual({
      action: 'defer',
      delayMs: 1234,
      forCapacity: true,
    });
  });

  it('defers after a 429 by Retry-After, or by a default without it', () => {
    const withHint = new RateLimitedError(
      'upheal check: HTTP 429',
      429,
      undefined,
      undefined,
      7000,
    );
    const without = new RateLimitedError(
      'upheal check: HTTP 429',
      429,
      undefined,
      undefined,
      undefined,
    );
    expect(decide(withHint, context)).toEqual({ action: 'defer', delayMs: 7000 });
    expect(decide(without, context)).toEqual({
      action: 'defer',
      delayMs: DEFAULT_RATE_LIMIT_DEFER_MS,
    });
  });

  it('defers a record an invocation has no time left for, without counting an attempt', () => {
    expect(decide(new OutOfTimeError(4_000, 13_000, 500), context)).toEqual({
      action: 'defer',
      delayMs: 500,
    });
    expect(
      decide(new OutOfTimeError(4_000, 13_000, 500), { ...context, receivesLeft: 0 }),
    ).toMatchObject({ action: 'fail', deadLetter: true });
  });

  it('defers a quarantined record until the next probe, longer the longer it has waited', () => {
    const error = new QuarantinedError('unauthorized', 30_000);
    expect(decide(error, context)).toEqual({ action: 'defer', delayMs: 30_000 });
    expect(decide(error, { ...context, waitedMs: 600_000 })).toEqual({
      action: 'defer',
      delayMs: 600_000 * QUARANTINE_BACKOFF_SHARE,
    });
    expect(decide(error, { ...context, waitedMs: 10 * MAX_QUARANTINE_DEFER_MS })).toEqual({
      action: 'defer',
      delayMs: MAX_QUARANTINE_DEFER_MS,
    });
    // At the backstop's last receive it is kept for re-drive, with a failure record.
    expect(decide(error, { ...context, receivesLeft: 0 })).toMatchObject({
      action: 'fail',
      deadLetter: true,
    });
  });

  it("grows a quarantined record's deferral with the quarantine's age when it is the shorter wait", () => {
    // A record that waited ten minutes in a backlog, held back by a quarantine of one minute.
    const young = new QuarantinedError('upheal-failing', 5_000, 60_000);
    expect(decide(young, { ...context, waitedMs: 600_000 })).toEqual({
      action: 'defer',
      delayMs: 60_000 * QUARANTINE_BACKOFF_SHARE,
    });
    // A record younger than the quarantine: its own wait, as before.
    const old = new QuarantinedError('upheal-failing', 5_000, 3_600_000);
    expect(decide(old, { ...context, waitedMs: 600_000 })).toEqual({
      action: 'defer',
      delayMs: 600_000 * QUARANTINE_BACKOFF_SHARE,
    });
  });

  it('defers a record waiting for a dependency longer the longer it has waited, within the wait', () => {
    const error = new NotReadyError('provider p-1 is not mapped', 10_000);
    // First receive: the dependency may be in the same batch; look again soon.
    expect(decide(error, context)).toEqual({ action: 'defer', delayMs: FIRST_DEPENDENCY_DEFER_MS });
    expect(decide(error, { ...context, receives: 2, waitedMs: 2_000 })).toEqual({
      action: 'defer',
      delayMs: 10_000,
    });
    expect(decide(error, { ...context, waitedMs: 100_000 })).toEqual({
      action: 'defer',
      delayMs: 50_000,
    });
    expect(decide(error, { ...context, waitedMs: 800_000 })).toEqual({
      action: 'defer',
      delayMs: 100_000,
    });
    expect(
      decide(error, { ...context, dependencyWaitMs: 10_000_000, waitedMs: 5_000_000 }),
    ).toEqual({
      action: 'defer',
      delayMs: MAX_DEPENDENCY_DEFER_MS,
    });
  });

  it('keeps a 15-minute dependency wait far below a 30-receive backstop', () => {
    const error = new NotReadyError('client c-1 is not mapped', 10_000);
    let waitedMs = 0;
    let receives = 0;
    for (;;) {
      receives += 1;
      const decision = decide(error, { ...context, receives: receives, waitedMs });
      if (decision.action !== 'defer') break;
      waitedMs += decision.delayMs;
    }
    expect(receives).toBeLessThan(20);
    expect(waitedMs).toBe(context.dependencyWaitMs);
  });

  it("bounds a create's wait for Upheal's webhook by its own setting", () => {
    const error = new AwaitingWebhookError('create of c-1 answered 409', 10_000);
    const waiting = { ...context, webhookWaitMs: 60_000 };
    expect(decide(error, { ...waiting, receives: 2, waitedMs: 30_000 })).toEqual({
      action: 'defer',
      delayMs: 15_000,
    });
    expect(decide(error, { ...waiting, receives: 5, waitedMs: 60_000 })).toEqual({
      action: 'fail',
      reason: 'gave up waiting: create of c-1 answered 409',
    });
    // Zero: no webhook is expected, the 409 fails at once.
    expect(decide(error, { ...context, webhookWaitMs: 0 })).toMatchObject({ action: 'fail' });
    // Other dependencies keep the dependency wait.
    expect(
      decide(new NotReadyError('provider p-1 is not mapped', 10_000), {
        ...waiting,
        receives: 5,
        waitedMs: 60_000,
      }),
    ).toMatchObject({ action: 'defer' });
  });

  it('fails a record whose dependency never came, naming what it waited for', () => {
    const decision = decide(new NotReadyError('provider p-9 is not mapped', 10_000), {
      ...context,
      waitedMs: 900_000,
    });
    expect(decision).toEqual({
      action: 'fail',
      reason: 'gave up waiting: provider p-9 is not mapped',
    });
  });

  it('never fails a record whose user is held by another message when its dependency wait is over', () => {
    const busy = new UserBusyError('user c-1 is being changed by another message', 1_000, 60_000);
    // Within the wait: like a dependency.
    expect(decide(busy, { ...context, receives: 3, waitedMs: 10_000 })).toEqual({
      action: 'defer',
      delayMs: 5_000,
    });
    // After it: back once any holder's lease has run out, so the real reason can be found.
    expect(decide(busy, { ...context, receives: 14, waitedMs: 900_000 })).toEqual({
      action: 'defer',
      delayMs: 60_000,
    });
    // SQS's receive limit: failed with a record, and kept for re-drive.
    expect(decide(busy, { ...context, waitedMs: 900_000, receivesLeft: 0 })).toEqual({
      action: 'fail',
      reason: 'gave up waiting: user c-1 is being changed by another message',
      deadLetter: true,
    });
  });

  it('settles a waiting record on its last receive instead of letting SQS dead-letter it silently', () => {
    const last = { ...context, receivesLeft: 0 };
    expect(decide(new NotReadyError('provider p-9 is not mapped', 10_000), last)).toMatchObject({
      action: 'fail',
    });
    expect(decide(new SlotUnavailableError(500), last)).toMatchObject({
      action: 'fail',
      deadLetter: true,
    });
  });

  it('retries transient failures with backoff, counting them', () => {
    const decision = decide(
      new ServerError('upheal createClient: HTTP 503', 503, undefined, undefined),
      context,
    );
    expect(decision.action).toBe('retry');
  });

  it('fails permanent errors at once with their status', () => {
    expect(
      decide(new BadRequestError('upheal createClient: HTTP 400', 400, 'r-1', '{}'), context),
    ).toEqual({
      action: 'fail',
      reason: 'upheal createClient: HTTP 400',
      status: 400,
    });
    expect(
      decide(new ValidationError([{ field: 'data.email', reason: 'is not an email' }]), context),
    ).toMatchObject({
      action: 'fail',
      reason: 'data.email: is not an email',
    });
  });

  it('dead-letters a record rejected for the API key, so it can be re-driven once the key is fixed', () => {
    const error = new UnauthorizedError('upheal check: HTTP 401', 401, undefined, undefined);
    expect(decide(error, context)).toEqual({
      action: 'fail',
      reason: 'upheal check: HTTP 401',
      status: 401,
      deadLetter: true,
    });
  });

  it('retries unknown errors rather than dropping the record', () => {
    expect(decide(new TypeError('boom'), context).action).toBe('retry');
  });
});

describe('decide: permanent and transient', () => {
  it.each([
    ['400', new BadRequestError('x', 400, undefined, undefined)],
    ['403', new ForbiddenError('x', 403, undefined, undefined)],
    ['404', new NotFoundError('x', 404, undefined, undefined)],
    ['409', new ConflictError('x', 409, undefined, undefined)],
    ['unexpected status', new UnexpectedStatusError('x', 405, undefined, undefined)],
    ['unexpected response', new UnexpectedResponseError('x', 200, undefined, undefined)],
  ])('fails a %s at once', (_name, error) => {
    expect(decide(error, context).action).toBe('fail');
  });

  it.each([
    ['5xx', new ServerError('x', 503, undefined, undefined)],
    ['timeout', new TimeoutError('x', undefined, undefined, undefined)],
    ['connection', new ConnectionError('x', undefined, undefined, undefined)],
    ['lost write race', new ContentionError('mapping of p-1 kept changing')],
    ['raw socket error', Object.assign(new Error('reset'), { code: 'ECONNRESET' })],
    ['non-error', 'boom'],
  ])('retries a %s', (_name, error) => {
    expect(decide(error, context).action).toBe('retry');
  });

  it('only a missing slot asks the consumer for fewer records at once', () => {
    const rateLimited = new RateLimitedError('x', 429, undefined, undefined, 1000);
    expect(decide(rateLimited, context)).not.toHaveProperty('forCapacity');
    expect(decide(new NotReadyError('provider p-9', 1000), context)).not.toHaveProperty(
      'forCapacity',
    );
  });
});

describe('decide: retry backoff', () => {
  /** The largest value a `random()` may return. */
  const top = () => 1 - Number.EPSILON;
  const serverError = new ServerError('x', 500, undefined, undefined);
  const retryDelay = (attempt: number, random: () => number) => backoff(attempt, random);

  it('retries a transient failure without a delay of its own: the backoff follows the failures', () => {
    // However many times SQS delivered it (deferrals included), a retry is just a retry: the
    // consumer counts the failed attempt and waits backoff(failed attempts).
    for (const receives of [1, 7, 30]) {
      expect(decide(serverError, { ...context, receives })).toEqual({ action: 'retry' });
    }
  });

  it('doubles the backoff ceiling per attempt, starting at the base', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelay(attempt, top))).toEqual([
      BASE_DELAY_MS - 1,
      2 * BASE_DELAY_MS - 1,
      4 * BASE_DELAY_MS - 1,
      8 * BASE_DELAY_MS - 1,
    ]);
  });

  it('applies full jitter: the delay is the random share of the ceiling', () => {
    expect(retryDelay(3, () => 0)).toBe(0);
    expect(retryDelay(3, () => 0.5)).toBe(2 * BASE_DELAY_MS);
  });

  it('caps the backoff however many attempts failed', () => {
    expect(retryDelay(1000, top)).toBe(MAX_DELAY_MS - 1);
    expect(retryDelay(Number.MAX_SAFE_INTEGER, top)).toBe(MAX_DELAY_MS - 1);
  });

  it('treats an attempt below 1 as the first attempt', () => {
    expect(retryDelay(0, top)).toBe(BASE_DELAY_MS - 1);
    expect(retryDelay(-3, top)).toBe(BASE_DELAY_MS - 1);
  });

  it('always gives a whole delay within [0, cap] for any attempt and random draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -5, max: 10_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, draw) => {
          const delayMs = retryDelay(attempt, () => draw);
          return (
            delayMs !== undefined &&
            Number.isInteger(delayMs) &&
            delayMs >= 0 &&
            delayMs < MAX_DELAY_MS
          );
        },
      ),
    );
  });
});

describe('describeError', () => {
  it('keeps our own messages and only the class of foreign errors', () => {
    expect(
      describeError(new ValidationError([{ field: 'data.email', reason: 'is required' }])),
    ).toBe('ValidationError: data.email: is required');
    expect(describeError(new Error('Jane Doe <jane@example.com> was rejected'))).toBe('Error');
  });
});
