/**
 * The one place that turns an Upheal answer (or the lack of one) into an error from
 * `#lib/errors.ts`. Control flow depends only on the status code: Upheal's error body shape is
 * undocumented (upheal-api.md §8 row 5), so the body is kept, truncated, for diagnostics only.
 * Messages carry the operation, the status and the request id — never bodies, emails or names.
 */
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
  type UpstreamError,
} from '#lib/errors.ts';
import { HTTP_TIMEOUT_CODES } from '#lib/http.ts';
import { MS_PER_SECOND } from '#lib/time.ts';

/** Response headers as `node:http` hands them over. */
export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Longest body (in characters) kept on an error; enough for any diagnostic Upheal sends. */
export const MAX_ERROR_BODY_CHARS = 4096;

/** Longest request id kept; guards messages against a hostile or broken header. */
const MAX_REQUEST_ID_CHARS = 128;

/** Headers that may carry the upstream request id, most specific first (lower-case). */
const REQUEST_ID_HEADERS = [
  'x-request-id',
  'request-id',
  'x-amzn-requestid',
  'x-amz-request-id',
  'x-correlation-id',
] as const;

/** HTTP status codes this module distinguishes. */
const STATUS = {
  badRequest: 400,
  unauthorized: 401,
  forbidden: 403,
  notFound: 404,
  conflict: 409,
  tooManyRequests: 429,
  serverErrorFirst: 500,
  serverErrorLast: 599,
} as const;

/** Error codes of a request that ran out of time (`#lib/http.ts`'s own, and the socket's). */
const TIMEOUT_CODES: ReadonlySet<string> = new Set([
  ...Object.values(HTTP_TIMEOUT_CODES),
  'ETIMEDOUT',
]);

/** Error codes of a connection that failed, closed or was reset before a full answer. */
const CONNECTION_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Nesting depth followed through `cause` when looking for a transport error code. */
const MAX_CAUSE_DEPTH = 5;

/** The first value of a header, if present. */
function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The upstream request id, when Upheal sent one. */
export function requestIdFrom(headers: ResponseHeaders): string | undefined {
  for (const name of REQUEST_ID_HEADERS) {
    const value = headerValue(headers, name)?.trim();
    if (value) return value.slice(0, MAX_REQUEST_ID_CHARS);
  }
  return undefined;
}

/**
 * Milliseconds to wait according to a `Retry-After` value, in either RFC 9110 form:
 * delta-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`, measured from `now`).
 * A date in the past gives 0; anything unparseable gives undefined.
 */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()) {
  const text = value?.trim();
  if (!text) return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * MS_PER_SECOND);
  // Every HTTP-date form names a month; without letters, Date.parse would read '-5' as a year.
  if (!/[A-Za-z]{3}/.test(text)) return undefined;
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** `body` cut to MAX_ERROR_BODY_CHARS, or undefined when empty. */
function truncate(body: string | undefined): string | undefined {
  if (!body) return undefined;
  return body.length > MAX_ERROR_BODY_CHARS ? body.slice(0, MAX_ERROR_BODY_CHARS) : body;
}

/** The message every upstream error carries: operation, status, request id. */
function describe(operation: string, status: number, requestId: string | undefined): string {
  return `upheal ${operation}: HTTP ${status}${requestId ? ` (request id ${requestId})` : ''}`;
}

/**
 * The error for a non-2xx answer to `operation`. `now` anchors an HTTP-date `Retry-After`.
 */
export function errorFromResponse(
  operation: string,
  status: number,
  headers: ResponseHeaders,
  body: string | undefined,
  now: number = Date.now(),
): UpstreamError {
  const requestId = requestIdFrom(headers);
  const message = describe(operation, status, requestId);
  const kept = truncate(body);
  switch (status) {
    case STATUS.badRequest:
      return new BadRequestError(message, status, requestId, kept);
    case STATUS.unauthorized:
      return new UnauthorizedError(message, status, requestId, kept);
    case STATUS.forbidden:
      return new ForbiddenError(message, status, requestId, kept);
    case STATUS.notFound:
      return new NotFoundError(message, status, requestId, kept);
    case STATUS.conflict:
      return new ConflictError(message, status, requestId, kept);
    case STATUS.tooManyRequests: {
      const retryAfterMs = parseRetryAfter(headerValue(headers, 'retry-after'), now);
      return new RateLimitedError(message, status, requestId, kept, retryAfterMs);
    }
  }
  if (status >= STATUS.serverErrorFirst && status <= STATUS.serverErrorLast) {
    return new ServerError(message, status, requestId, kept);
  }
  return new UnexpectedStatusError(message, status, requestId, kept);
}

/** The `code` of `error` or of the first error in its `cause` chain that has one. */
function transportCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current instanceof Error; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (TIMEOUT_CODES.has(code) || CONNECTION_CODES.has(code))) {
      return code;
    }
    current = current.cause;
  }
  return undefined;
}

/**
 * The error for a request to `operation` that got no complete answer: the connect, headers and
 * body timeouts of `#lib/http.ts` become TimeoutError; resets, refusals and socket errors become
 * ConnectionError. Anything else (a programming error, an abort we asked for) is not a transport
 * failure and gives undefined, so the caller rethrows it unchanged.
 */
export function errorFromTransport(operation: string, error: unknown): UpstreamError | undefined {
  const code = transportCode(error);
  if (code === undefined) return undefined;
  if (TIMEOUT_CODES.has(code)) {
    return new TimeoutError(
      `upheal ${operation}: timed out (${code})`,
      undefined,
      undefined,
      undefined,
      {
        cause: error,
      },
    );
  }
  return new ConnectionError(
    `upheal ${operation}: connection failed (${code})`,
    undefined,
    undefined,
    undefined,
    { cause: error },
  );
}
