/**
 * The closed set of errors this product raises. Every class says when it is thrown and whether
 * the work that raised it may succeed if tried again (`retryable`, read only by the one
 * classification, `decide` in `lib/sqs/outcome-policy.ts`). Callers match with `instanceof`,
 * never on messages. Messages never carry clinical data (names, emails, dates of
 * birth, phone numbers) or secrets: only partner ids, Upheal ids, field names and status codes.
 */

/** One field-level problem found while validating input. */
export interface FieldIssue {
  /** Dotted path of the field, e.g. `data.email` or `providerPartnerUserIds.0`. */
  readonly field: string;
  /** Why it was rejected, without echoing the value. */
  readonly reason: string;
}

/** Base of every error this product throws on purpose. */
export abstract class AppError extends Error {
  /** Whether trying the same work again may succeed. */
  abstract readonly retryable: boolean;
  override readonly name: string = this.constructor.name;
}

/** Input (an event, an import row, a CLI argument) failed validation; never retryable. */
export class ValidationError extends AppError {
  readonly retryable = false;
  /** Every problem found, each naming its field. */
  readonly issues: readonly FieldIssue[];
  /** Where the input came from, e.g. `line 12` or `event 3`; prefixed to the message. */
  readonly location: string | undefined;
  constructor(issues: readonly FieldIssue[], location?: string) {
    const detail = issues.map((issue) => `${issue.field}: ${issue.reason}`).join('; ');
    super(location ? `${location}: ${detail}` : detail);
    this.issues = issues;
    this.location = location;
  }
}

/**
 * Applying an event would make one Upheal account stand for two partner users, or adopt an
 * account that cannot be used (a deactivated one); never retryable. The message starts with
 * `code`, a stable reason code, and names partner and Upheal ids only.
 */
export class IdentityConflictError extends AppError {
  readonly retryable = false;
  /** Stable reason code, e.g. `email_owned_by_other_partner_user`. */
  readonly code: string;
  constructor(code: string, detail: string) {
    super(`${code}: ${detail}`);
    this.code = code;
  }
}

/** A configuration variable is missing or malformed; start-up stops naming it. */
export class ConfigError extends AppError {
  readonly retryable = false;
}

/** Something Upheal answered or failed to answer. Carries diagnostics, never request bodies. */
export abstract class UpstreamError extends AppError {
  /** HTTP status, or undefined for transport failures. */
  readonly status: number | undefined;
  /** The upstream request id header, when Upheal sent one. */
  readonly requestId: string | undefined;
  /** The raw response body (Upheal's own text; kept for diagnostics, not for control flow). */
  readonly body: string | undefined;
  constructor(
    message: string,
    status: number | undefined,
    requestId: string | undefined,
    body: string | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.status = status;
    this.requestId = requestId;
    this.body = body;
  }
}

/** 400: Upheal rejected the request as invalid (also its answer to some duplicates). */
export class BadRequestError extends UpstreamError {
  readonly retryable = false;
}

/** 401: the API key is missing or invalid. */
export class UnauthorizedError extends UpstreamError {
  readonly retryable = false;
}

/** 403: the API key may not act on this user or these parameters. */
export class ForbiddenError extends UpstreamError {
  readonly retryable = false;
}

/** 404: the user does not exist (or is not reachable with this key). */
export class NotFoundError extends UpstreamError {
  readonly retryable = false;
}

/** 409: a user with this email or partner id already exists. */
export class ConflictError extends UpstreamError {
  readonly retryable = false;
}

/** 429: the shared per-key rate limit was exceeded; `retryAfterMs` is Upheal's hint, if any. */
export class RateLimitedError extends UpstreamError {
  readonly retryable = true;
  /** Milliseconds Upheal asked us to wait (from `Retry-After`), when it said. */
  readonly retryAfterMs: number | undefined;
  constructor(
    message: string,
    status: number,
    requestId: string | undefined,
    body: string | undefined,
    retryAfterMs: number | undefined,
  ) {
    super(message, status, requestId, body);
    this.retryAfterMs = retryAfterMs;
  }
}

/** 5xx: Upheal failed; the request may or may not have taken effect. */
export class ServerError extends UpstreamError {
  readonly retryable = true;
}

/** Any other unexpected status (e.g. 3xx, 405); treated as permanent. */
export class UnexpectedStatusError extends UpstreamError {
  readonly retryable = false;
}

/** The connection failed or was reset before a full answer arrived. */
export class ConnectionError extends UpstreamError {
  readonly retryable = true;
}

/** Upheal did not answer in time; the request may or may not have taken effect. */
export class TimeoutError extends UpstreamError {
  readonly retryable = true;
}

/** Upheal answered 2xx with a body that does not match the documented schema. */
export class UnexpectedResponseError extends UpstreamError {
  readonly retryable = false;
}

/**
 * Work cannot proceed yet because something it depends on is not ready (a provider not yet
 * mapped, a claim held by another worker). Retried without counting towards the dead-letter limit
 * until its own deadline passes.
 */
export class NotReadyError extends AppError {
  readonly retryable = true;
  /** Milliseconds after which trying again makes sense. */
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * A create answered 409 for a client without email: an earlier create of ours may have taken
 * effect with its answer lost, and only Upheal's user-created webhook can name the user. Waits
 * like NotReadyError, bounded by its own setting (`UPHEAL_WEBHOOK_WAIT_SECONDS`).
 */
export class AwaitingWebhookError extends NotReadyError {}

/**
 * The user's per-user lease is held by another message. Waits like NotReadyError, but it is never
 * a dependency that may not come: the holder gives the lease back or its lease runs out, at the
 * latest `longestHoldMs` after this was thrown, so the wait does not end in a failure when the
 * dependency wait has run out.
 */
export class UserBusyError extends NotReadyError {
  /** The longest any holder can still keep the lease. */
  readonly longestHoldMs: number;
  constructor(message: string, retryAfterMs: number, longestHoldMs: number) {
    super(message, retryAfterMs);
    this.longestHoldMs = longestHoldMs;
  }
}

/** The rate limiter has no slot within the caller's horizon; the message is deferred, not failed. */
export class SlotUnavailableError extends AppError {
  readonly retryable = true;
  /** Milliseconds until a slot is expected to be free. */
  readonly retryAfterMs: number;
  /**
   * Set when the bulk lane was refused: more import records are in flight than the API serves,
   * or a 429's pause holds the schedule (the consumer's capacity gate sits out only for these).
   */
  readonly bulk: boolean;
  constructor(retryAfterMs: number, options: { bulk?: boolean } = {}) {
    super(`no rate-limit slot within the horizon; next in ${retryAfterMs} ms`);
    this.retryAfterMs = retryAfterMs;
    this.bulk = options.bulk ?? false;
  }
}

/** A record the consumer's capacity gate deferred unread (lib/sqs/capacity-gate.ts). */
export class HeldAtGateError extends SlotUnavailableError {}

/** A conditional write kept losing to other workers' writes; trying again later will succeed. */
export class ContentionError extends AppError {
  readonly retryable = true;
}

/** The partner's webhook did not accept an outbound event (any status but 2xx, or no answer). */
export class DeliveryError extends AppError {
  readonly retryable = true;
  /** The HTTP status, or undefined when there was no answer. */
  readonly status: number | undefined;
  constructor(message: string, status: number | undefined, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
  }
}

/**
 * The invocation has too little time left for the next Upheal call (its slot wait plus its
 * timeout): the message is deferred rather than started on a call that would outlive the Lambda.
 */
export class OutOfTimeError extends AppError {
  readonly retryable = true;
  /** Milliseconds after which the message should come back. */
  readonly retryAfterMs: number;
  constructor(remainingMs: number, neededMs: number, retryAfterMs: number) {
    super(`${remainingMs} ms left in the invocation, an Upheal call needs up to ${neededMs} ms`);
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The sync is quarantined (Upheal refused the API key, or failed beyond the threshold): no call
 * is made until a probe finds Upheal answering again; the message waits in SQS.
 */
export class QuarantinedError extends AppError {
  readonly retryable = true;
  /** Milliseconds until the next probe may run. */
  readonly retryAfterMs: number;
  /** How long the quarantine has lasted, in ms, when known. */
  readonly quarantinedForMs: number | undefined;
  constructor(reason: string, retryAfterMs: number, quarantinedForMs?: number) {
    super(`sync quarantined (${reason}); next probe in ${Math.max(0, retryAfterMs)} ms`);
    this.retryAfterMs = Math.max(0, retryAfterMs);
    this.quarantinedForMs =
      quarantinedForMs === undefined ? undefined : Math.max(0, quarantinedForMs);
  }
}
