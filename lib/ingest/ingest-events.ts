/**
 * The `ingest` use case: authenticate a signed HTTPS request from the
 * partner, validate its events and put every valid one on the user-events queue.
 *
 * Checks run cheapest first, each with its own status and reason: method (405), content type and
 * encoding (415), body size (413), signature and timestamp (401), replay (401 `replayed`), JSON
 * (400), event count (413), then each event on its own (fields, characters a queue can carry,
 * `occurredAt` not in the future, eventId unique in the request). Invalid events never hold back
 * valid ones in the same request: the answer is 202 when at least one event was accepted, listing
 * the accepted ids and the rejected events with the fields at fault; 400 with the same body when
 * none was; 503 only for valid events SQS failed to take for a passing reason, which the partner
 * sends again (the event id makes the FIFO deduplication id, so a re-send is safe). A message SQS
 * refuses as such is a rejected event, never a 503: resending it would fail forever.
 */
import type { FieldIssue } from '#lib/errors.ts';
import { ValidationError } from '#lib/errors.ts';
import { parsePartnerEvent } from '#lib/events/partner-event.ts';
import { IdSchema } from '#lib/events/user-fields.ts';
import { type EventQueue, messageBytes, SQS_LIMITS } from '#lib/ingest/event-queue.ts';
import type { NonceStore } from '#lib/ingest/replay-guard.ts';
import type { SecretSource } from '#lib/ingest/secrets.ts';
import {
  type HeaderBag,
  headerValue,
  signedContentDigest,
  VERIFY_FAILURES,
  verify,
} from '#lib/signing.ts';

/** The statuses ingest answers with. */
export const INGEST_STATUS = {
  accepted: 202,
  badRequest: 400,
  unauthorized: 401,
  methodNotAllowed: 405,
  payloadTooLarge: 413,
  unsupportedMediaType: 415,
  serviceUnavailable: 503,
} as const;

/** Reasons for refusing a whole request (signature reasons come from `#lib/signing.ts`). */
export const INGEST_REASONS = {
  methodNotAllowed: 'method not allowed: use POST',
  unsupportedMediaType: 'content type must be application/json',
  unsupportedCharset: 'charset must be utf-8',
  unsupportedEncoding: 'content encoding not supported: send the body uncompressed',
  bodyTooLarge: 'body too large',
  replayed: 'replayed',
  malformedJson: 'malformed JSON',
  noEvents: 'no events',
  tooManyEvents: 'too many events',
  eventTooLarge: 'event too large for the queue',
  duplicateEventId: 'is used by more than one event of this request',
  refusedByQueue: 'refused by the queue',
  unvalidated: 'could not be validated',
  notEnqueued: 'not enqueued, send it again',
} as const;

/** At most this many events per request (an array longer than this is refused whole, 413). */
export const MAX_EVENTS_PER_REQUEST = 100;

/** Seconds a partner should wait before retrying a 503. */
export const RETRY_AFTER_SECONDS = 1;

/** Field named in an event-level issue that concerns the whole event, not one of its fields. */
export const EVENT_FIELD = '(event)';

const HTTP_POST = 'POST';
const JSON_MEDIA_TYPE = 'application/json';
const IDENTITY_ENCODING = 'identity';
const UTF8_CHARSETS: readonly string[] = ['utf-8', 'utf8'];

/** The HTTP request as ingest needs it; `body` holds the exact bytes received. */
export interface IngestRequest {
  readonly method: string;
  readonly headers: HeaderBag;
  readonly body: Uint8Array;
}

/** One event of the request that was not accepted because it is invalid. */
export interface RejectedEvent {
  /** Position in the request (0 for a single-object body). */
  readonly index: number;
  /** The event's id, when it had a plausible one. */
  readonly eventId?: string;
  readonly errors: readonly FieldIssue[];
}

/** A valid event that SQS did not take; the partner should send it again. */
export interface NotAcceptedEvent {
  readonly index: number;
  readonly eventId: string;
  readonly reason: string;
}

/** The JSON body of an answer about the events of a request (202, 400, 503). */
export interface EventsResponseBody {
  readonly accepted: readonly string[];
  readonly rejected: readonly RejectedEvent[];
  /** Present on 503 only. */
  readonly notAccepted?: readonly NotAcceptedEvent[];
}

/** The JSON body of an answer refusing the whole request. */
export interface ErrorResponseBody {
  readonly error: string;
}

/** What an accepted event is logged as: ids only, never its data. */
export interface AcceptedEventRef {
  readonly eventId: string;
  readonly partnerUserId: string;
}

/** The use case's answer, and what the handler may log. */
export interface IngestOutcome {
  readonly status: (typeof INGEST_STATUS)[keyof typeof INGEST_STATUS];
  readonly headers: Readonly<Record<string, string>>;
  readonly body: EventsResponseBody | ErrorResponseBody;
  /** Events now on the queue (ids and partner user ids, safe to log). */
  readonly enqueued: readonly AcceptedEventRef[];
}

/** The limits of one request, from configuration. */
export interface IngestLimits {
  readonly maxBodyBytes: number;
  readonly replayWindowMs: number;
  /** Events per request; default MAX_EVENTS_PER_REQUEST. */
  readonly maxEvents?: number;
  /** Largest single queue message; default SQS's batch payload limit. */
  readonly maxMessageBytes?: number;
  /** How far in the future `occurredAt` may be; default DEFAULT_MAX_FUTURE_SKEW_MS. */
  readonly maxFutureSkewMs?: number;
}

/** What ingest needs: secrets, the replay guard, the queue, the limits and a clock. */
export interface IngestDependencies {
  readonly secrets: SecretSource;
  readonly nonces: NonceStore;
  readonly queue: EventQueue;
  readonly limits: IngestLimits;
  readonly now: () => number;
}

/** Authenticates, validates and enqueues the events of one request. */
export async function ingestEvents(
  request: IngestRequest,
  deps: IngestDependencies,
): Promise<IngestOutcome> {
  if (request.method.toUpperCase() !== HTTP_POST) {
    return refuse(INGEST_STATUS.methodNotAllowed, INGEST_REASONS.methodNotAllowed, {
      allow: HTTP_POST,
    });
  }
  const contentProblem =
    contentTypeProblem(headerValue(request.headers, 'content-type')) ??
    contentEncodingProblem(headerValue(request.headers, 'content-encoding'));
  if (contentProblem) return refuse(INGEST_STATUS.unsupportedMediaType, contentProblem);
  if (request.body.byteLength > deps.limits.maxBodyBytes) {
    return refuse(INGEST_STATUS.payloadTooLarge, INGEST_REASONS.bodyTooLarge);
  }

  const now = deps.now();
  const { replayWindowMs } = deps.limits;
  let verdict = verify(
    await deps.secrets.current(),
    request.headers,
    request.body,
    now,
    replayWindowMs,
  );
  if (!verdict.ok && verdict.reason === VERIFY_FAILURES.badSignature) {
    // The secret may have been rotated since we cached it.
    const fresh = await deps.secrets.refreshAfterMiss();
    if (fresh) verdict = verify(fresh, request.headers, request.body, now, replayWindowMs);
  }
  if (!verdict.ok) return refuse(INGEST_STATUS.unauthorized, verdict.reason);

  // A signed request stays acceptable until its timestamp leaves the window; remember it that long.
  const nonce = signedContentDigest(verdict.timestamp, request.body);
  const firstTime = await deps.nonces.claim(nonce, verdict.timestamp + replayWindowMs, now);
  if (!firstTime) return refuse(INGEST_STATUS.unauthorized, INGEST_REASONS.replayed);

  const outcome = await acceptEvents(request.body, deps);
  if (outcome.status === INGEST_STATUS.serviceUnavailable) {
    // Let the partner retry this exact signed request too, not only a re-signed one. Best effort:
    // if the release fails, the answer still says which events to send again (re-signed).
    await deps.nonces.release(nonce).catch(() => undefined);
  }
  return outcome;
}

/** A valid event of the request, ready for the queue. */
interface ValidEvent {
  readonly index: number;
  readonly eventId: string;
  readonly partnerUserId: string;
  readonly body: string;
}

/** Parses, validates and enqueues the events of an authenticated body. */
async function acceptEvents(body: Uint8Array, deps: IngestDependencies): Promise<IngestOutcome> {
  let decoded: unknown;
  try {
    decoded = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    // The parser's message quotes the body (clinical data): only the reason goes back.
    return refuse(INGEST_STATUS.badRequest, INGEST_REASONS.malformedJson);
  }
  const items: readonly unknown[] = Array.isArray(decoded) ? decoded : [decoded];
  if (items.length === 0) return refuse(INGEST_STATUS.badRequest, INGEST_REASONS.noEvents);
  if (items.length > (deps.limits.maxEvents ?? MAX_EVENTS_PER_REQUEST)) {
    return refuse(INGEST_STATUS.payloadTooLarge, INGEST_REASONS.tooManyEvents);
  }

  const { valid, rejected } = validateItems(items, deps);
  const failures = valid.length > 0 ? await deps.queue.enqueue(valid) : [];
  const failedAt = new Map(failures.map((failure) => [failure.index, failure]));
  const enqueued = valid.filter((_, i) => !failedAt.has(i));
  const notAccepted: NotAcceptedEvent[] = [];
  valid.forEach((event, i) => {
    const failure = failedAt.get(i);
    if (failure === undefined) return;
    // SQS refusing the message itself will refuse it on every resend: the event is rejected,
    // never "send it again".
    if (failure.permanent) {
      const errors = [
        { field: EVENT_FIELD, reason: `${INGEST_REASONS.refusedByQueue}: ${failure.reason}` },
      ];
      rejected.push({ index: event.index, eventId: event.eventId, errors });
    } else {
      notAccepted.push({ index: event.index, eventId: event.eventId, reason: failure.reason });
    }
  });
  rejected.sort((a, b) => a.index - b.index);

  const accepted = enqueued.map((event) => event.eventId);
  const refs = enqueued.map(({ eventId, partnerUserId }) => ({ eventId, partnerUserId }));
  if (notAccepted.length > 0) {
    return {
      status: INGEST_STATUS.serviceUnavailable,
      headers: { 'retry-after': String(RETRY_AFTER_SECONDS) },
      body: { accepted, rejected, notAccepted },
      enqueued: refs,
    };
  }
  return {
    status: accepted.length > 0 ? INGEST_STATUS.accepted : INGEST_STATUS.badRequest,
    headers: {},
    body: { accepted, rejected },
    enqueued: refs,
  };
}

/**
 * Validates each item on its own: the contract (fields, characters, time), the queue's size
 * limit, then that no two items share an eventId (every copy is refused: which one the partner
 * meant cannot be known, and FIFO deduplication would silently drop all but the first).
 */
function validateItems(
  items: readonly unknown[],
  deps: IngestDependencies,
): { valid: ValidEvent[]; rejected: RejectedEvent[] } {
  const clock = { now: deps.now(), maxFutureSkewMs: deps.limits.maxFutureSkewMs };
  const maxMessageBytes = deps.limits.maxMessageBytes ?? SQS_LIMITS.batchBytes;
  const parsed: ValidEvent[] = [];
  const rejected: RejectedEvent[] = [];
  items.forEach((item, index) => {
    try {
      const event = parsePartnerEvent(item, `event ${index}`, clock);
      // The message is the partner's own JSON of the event: exactly what a partner publishing
      // straight to the queue would send, and what sync-user validates again.
      const messageBody = JSON.stringify(item);
      if (messageBytes(messageBody) > maxMessageBytes) {
        const errors = [{ field: EVENT_FIELD, reason: INGEST_REASONS.eventTooLarge }];
        rejected.push({ index, eventId: event.eventId, errors });
        return;
      }
      parsed.push({
        index,
        eventId: event.eventId,
        partnerUserId: event.partnerUserId,
        body: messageBody,
      });
    } catch (error) {
      // Anything but a ValidationError is a bug in the parser; the event is refused rather than
      // failing the whole request with a 5xx the partner would retry forever.
      const errors =
        error instanceof ValidationError
          ? error.issues
          : [{ field: EVENT_FIELD, reason: INGEST_REASONS.unvalidated }];
      rejected.push({ index, ...echoedEventId(item), errors });
    }
  });
  const positions = new Map<string, number[]>();
  for (const event of parsed) {
    positions.set(event.eventId, [...(positions.get(event.eventId) ?? []), event.index]);
  }
  const valid = parsed.filter((event) => {
    const shared = positions.get(event.eventId) ?? [];
    if (shared.length < 2) return true;
    const reason = `${INGEST_REASONS.duplicateEventId} (events ${shared.join(', ')})`;
    rejected.push({
      index: event.index,
      eventId: event.eventId,
      errors: [{ field: 'eventId', reason }],
    });
    return false;
  });
  return { valid, rejected: rejected.sort((a, b) => a.index - b.index) };
}

/** Why a Content-Type is not acceptable, or undefined when it is JSON in UTF-8. */
function contentTypeProblem(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return INGEST_REASONS.unsupportedMediaType;
  const [mediaType = '', ...parameters] = contentType.split(';').map((part) => part.trim());
  if (mediaType.toLowerCase() !== JSON_MEDIA_TYPE) return INGEST_REASONS.unsupportedMediaType;
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=').map((part) => part.trim().toLowerCase());
    if (name === 'charset' && !UTF8_CHARSETS.includes(value.replaceAll('"', ''))) {
      return INGEST_REASONS.unsupportedCharset;
    }
  }
  return undefined;
}

/** Why a Content-Encoding is not acceptable: only an uncompressed (`identity`) body is signed as sent. */
function contentEncodingProblem(contentEncoding: string | undefined): string | undefined {
  if (contentEncoding === undefined) return undefined;
  const encodings = contentEncoding.split(',').map((part) => part.trim().toLowerCase());
  return encodings.every((encoding) => encoding === '' || encoding === IDENTITY_ENCODING)
    ? undefined
    : INGEST_REASONS.unsupportedEncoding;
}

/** The rejected item's eventId, if it is a valid id (so never an email or other clinical data). */
function echoedEventId(item: unknown): { eventId?: string } {
  if (typeof item !== 'object' || item === null || !('eventId' in item)) return {};
  const parsed = IdSchema.safeParse(item.eventId);
  return parsed.success ? { eventId: parsed.data } : {};
}

function refuse(
  status: IngestOutcome['status'],
  error: string,
  headers: Record<string, string> = {},
): IngestOutcome {
  return { status, headers, body: { error }, enqueued: [] };
}
