import { describe, expect, it } from 'vitest';
import {
  BadRequestError,
  ConflictError,
  ConnectionError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ServerError,
  TimeoutError,
  UnauthorizedError,
  UnexpectedStatusError,
} from '#lib/errors.ts';
import {
  errorFromResponse,
  errorFromTransport,
  MAX_ERROR_BODY_CHARS,
  parseRetryAfter,
  requestIdFrom,
} from '#lib/upheal/http-errors.ts';

const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('errorFromResponse', () => {
  it.each([
    [400, BadRequestError],
    [401, UnauthorizedError],
    [403, ForbiddenError],
    [404, NotFoundError],
    [409, ConflictError],
    [429, RateLimitedError],
    [500, ServerError],
    [502, ServerError],
    [503, ServerError],
    [599, ServerError],
    [302, UnexpectedStatusError],
    [405, UnexpectedStatusError],
    [418, UnexpectedStatusError],
    [600, UnexpectedStatusError],
  ])('maps status %i to %o', (status, kind) => {
    const error = errorFromResponse('createClient', status, {}, '{"message":"nope"}');
    expect(error).toBeInstanceOf(kind);
    expect(error.status).toBe(status);
    expect(error.body).toBe('{"message":"nope"}');
  });

  it('marks 429 and 5xx retryable and the other statuses permanent', () => {
    expect(errorFromResponse('check', 429, {}, '').retryable).toBe(true);
    expect(errorFromResponse('check', 503, {}, '').retryable).toBe(true);
    expect(errorFromResponse('check', 400, {}, '').retryable).toBe(false);
    expect(errorFromResponse('check', 404, {}, '').retryable).toBe(false);
  });

  it('keeps the request id and names only operation, status and request id in the message', () => {
    const body = '{"message":"email ada@example.com already used by Ada Lovelace"}';
    const error = errorFromResponse('createProvider', 400, { 'x-request-id': 'req-7' }, body);
    expect(error.requestId).toBe('req-7');
    expect(error.message).toBe('upheal createProvider: HTTP 400 (request id req-7)');
    expect(error.message).not.toContain('ada');
  });

  it('truncates a long body to a few kilobytes', () => {
    const error = errorFromResponse('check', 500, {}, 'x'.repeat(MAX_ERROR_BODY_CHARS * 3));
    expect(error.body).toHaveLength(MAX_ERROR_BODY_CHARS);
  });

  it('keeps no body when Upheal sent none', () => {
    expect(errorFromResponse('check', 500, {}, '').body).toBeUndefined();
  });

  it('parses Retry-After in delta-seconds on a 429', () => {
    const error = errorFromResponse('check', 429, { 'retry-after': '7' }, '', NOW);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(7000);
  });

  it('parses Retry-After as an HTTP-date on a 429', () => {
    const headers = { 'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT' };
    const error = errorFromResponse('check', 429, headers, '', NOW) as RateLimitedError;
    expect(error.retryAfterMs).toBe(30_000);
  });

  it('leaves retryAfterMs undefined when a 429 has no Retry-After', () => {
    const error = errorFromResponse('check', 429, {}, '') as RateLimitedError;
    expect(error.retryAfterMs).toBeUndefined();
  });
});

describe('parseRetryAfter', () => {
  it('reads delta-seconds, including zero and fractions', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter(' 120 ', NOW)).toBe(120_000);
    expect(parseRetryAfter('1.5', NOW)).toBe(1500);
  });

  it('reads an HTTP-date relative to now, and a past date as zero', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:01:00 GMT', NOW)).toBe(60_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', NOW)).toBe(0);
  });

  it('gives undefined for a missing or unparseable value', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
    expect(parseRetryAfter('', NOW)).toBeUndefined();
    expect(parseRetryAfter('soon', NOW)).toBeUndefined();
    expect(parseRetryAfter('-5', NOW)).toBeUndefined();
  });
});

describe('requestIdFrom', () => {
  it('reads x-request-id first, then other common request-id headers', () => {
    expect(requestIdFrom({ 'x-request-id': 'a', 'x-amzn-requestid': 'b' })).toBe('a');
    expect(requestIdFrom({ 'x-amzn-requestid': 'b' })).toBe('b');
    expect(requestIdFrom({ 'x-request-id': ['c', 'd'] })).toBe('c');
    expect(requestIdFrom({})).toBeUndefined();
  });
});

/** An error shaped like the ones `#lib/http.ts` and node:net raise. */
function coded(code: string, cause?: unknown): Error {
  return Object.assign(new Error(`boom ${code}`, { cause }), { code });
}

describe('errorFromTransport', () => {
  it.each(['CONNECT_TIMEOUT', 'HEADERS_TIMEOUT', 'BODY_TIMEOUT', 'ETIMEDOUT'])(
    'maps %s to a retryable TimeoutError',
    (code) => {
      const error = errorFromTransport('check', coded(code));
      expect(error).toBeInstanceOf(TimeoutError);
      expect(error?.retryable).toBe(true);
      expect(error?.status).toBeUndefined();
      expect(error?.message).toBe(`upheal check: timed out (${code})`);
    },
  );

  it.each(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ENOTFOUND'])(
    'maps %s to a retryable ConnectionError',
    (code) => {
      const error = errorFromTransport('deleteUser', coded(code));
      expect(error).toBeInstanceOf(ConnectionError);
      expect(error?.retryable).toBe(true);
    },
  );

  it('finds the code in the cause chain', () => {
    const wrapped = new TypeError('fetch failed', { cause: coded('ECONNRESET') });
    expect(errorFromTransport('check', wrapped)).toBeInstanceOf(ConnectionError);
  });

  it('leaves errors that are not transport failures alone', () => {
    expect(errorFromTransport('check', new TypeError('bug'))).toBeUndefined();
    expect(errorFromTransport('check', coded('ERR_INVALID_ARG_TYPE'))).toBeUndefined();
    expect(errorFromTransport('check', 'a string')).toBeUndefined();
  });
});
