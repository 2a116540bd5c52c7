/**
 * The `upheal-webhook` use case: authenticate one delivery from Upheal and hand what it says to
 * the queue, within Upheal's 5-second answer budget (one SSM read when the secret cache is cold,
 * one conditional write, one SQS send — no Upheal call, no mapping work).
 *
 * Checks run cheapest first, each with its own status: method (405), content type (415), body size
 * (413), timestamp and signature (401), replay (401 `replayed`), JSON and envelope (400). A valid
 * delivery answers 204: a user-created event naming a partner user is queued for healing; any
 * other event is accepted and passed over, so Upheal stops retrying it. When the queue does not
 * take the message the answer is 503 and the replay record is released, so Upheal's retry of the
 * same delivery is accepted.
 */

import { createHash } from 'node:crypto';
import { WEBHOOK_NONCE_KEY } from '#infra/resources.ts';
import { ValidationError } from '#lib/errors.ts';
import type { EventQueue } from '#lib/ingest/event-queue.ts';
import type { NonceStore } from '#lib/ingest/replay-guard.ts';
import type { SecretSource } from '#lib/ingest/secrets.ts';
import { type HeaderBag, headerValue } from '#lib/signing.ts';
import type { HealCommand } from '#lib/upheal-webhook/heal-command.ts';
import {
  SIGNATURE_SCHEMES,
  type SignatureScheme,
  verifyWebhook,
  WEBHOOK_VERIFY_FAILURES,
} from '#lib/upheal-webhook/signature.ts';
import { loggableType, parseWebhookEvent } from '#lib/upheal-webhook/webhook-event.ts';

/** The statuses the webhook function answers with. */
export const WEBHOOK_STATUS = {
  noContent: 204,
  badRequest: 400,
  unauthorized: 401,
  methodNotAllowed: 405,
  payloadTooLarge: 413,
  unsupportedMediaType: 415,
  serviceUnavailable: 503,
} as const;

/** Reasons for refusing a delivery (signature reasons come from `signature.ts`). */
export const WEBHOOK_REASONS = {
  methodNotAllowed: 'method not allowed: use POST',
  unsupportedMediaType: 'content type must be application/json',
  bodyTooLarge: 'body too large',
  replayed: 'replayed',
  malformedJson: 'malformed JSON',
  notQueued: 'not queued, send it again',
} as const;

/**
 * How long a body is remembered when the scheme signs the body alone: its timestamp is not
 * signed, so a captured body could come back with a fresh one long after the tolerance.
 */
export const BODY_ONLY_REPLAY_MEMORY_MS = 7 * 24 * 60 * 60 * 1000;

/** Prefix of the replay guard's items for Upheal's webhooks (apart from ingest's). */
export const WEBHOOK_NONCE_PREFIX = WEBHOOK_NONCE_KEY.pkPrefix;

const HTTP_POST = 'POST';
const JSON_MEDIA_TYPE = 'application/json';

/** One HTTP delivery; `body` holds the exact bytes received. */
export interface WebhookRequest {
  readonly method: string;
  readonly headers: HeaderBag;
  readonly body: Uint8Array;
}

/** What a delivery did, for the answer and for the log line (ids only). */
export interface WebhookOutcome {
  readonly status: (typeof WEBHOOK_STATUS)[keyof typeof WEBHOOK_STATUS];
  readonly headers: Readonly<Record<string, string>>;
  /** The refusal's reason (also the JSON answer), absent on 204. */
  readonly reason?: string;
  /** Set when the refusal is a failed signature or timestamp check (the alarm counts these). */
  readonly signatureFailure?: boolean;
  /** The event's type (Upheal's name, or `(other)`), once the body was parsed. */
  readonly eventType?: string;
  readonly uphealUserId?: string;
  readonly partnerUserId?: string;
  /** Whether a heal command was queued. */
  readonly queued: boolean;
}

/** Limits of one delivery, from configuration. */
export interface WebhookLimits {
  readonly maxBodyBytes: number;
  /** How far `x-upheal-timestamp` may be from now, either way. */
  readonly toleranceMs: number;
}

/** What the use case needs. */
export interface ReceiveWebhookDependencies {
  readonly scheme: SignatureScheme;
  readonly secrets: SecretSource;
  readonly nonces: NonceStore;
  /** The Upheal-webhooks queue (heal commands, grouped by partner user id). */
  readonly queue: EventQueue;
  readonly limits: WebhookLimits;
  readonly now: () => number;
}

/** Authenticates one delivery and queues what needs work. */
export async function receiveWebhook(
  request: WebhookRequest,
  deps: ReceiveWebhookDependencies,
): Promise<WebhookOutcome> {
  if (request.method.toUpperCase() !== HTTP_POST) {
    return refuse(WEBHOOK_STATUS.methodNotAllowed, WEBHOOK_REASONS.methodNotAllowed, {
      allow: HTTP_POST,
    });
  }
  const mediaType = headerValue(request.headers, 'content-type')?.split(';')[0]?.trim();
  if (mediaType?.toLowerCase() !== JSON_MEDIA_TYPE) {
    return refuse(WEBHOOK_STATUS.unsupportedMediaType, WEBHOOK_REASONS.unsupportedMediaType);
  }
  if (request.body.byteLength > deps.limits.maxBodyBytes) {
    return refuse(WEBHOOK_STATUS.payloadTooLarge, WEBHOOK_REASONS.bodyTooLarge);
  }

  const now = deps.now();
  const { toleranceMs } = deps.limits;
  const check = (secrets: readonly string[]) =>
    verifyWebhook(deps.scheme, secrets, request.headers, request.body, now, toleranceMs);
  let verdict = check(await deps.secrets.current());
  if (!verdict.ok && verdict.reason === WEBHOOK_VERIFY_FAILURES.badSignature) {
    // The secret may have been rotated since it was cached.
    const fresh = await deps.secrets.refreshAfterMiss();
    if (fresh) verdict = check(fresh);
  }
  if (!verdict.ok) {
    return { ...refuse(WEBHOOK_STATUS.unauthorized, verdict.reason), signatureFailure: true };
  }

  const nonce = createHash('sha256').update(request.body).digest('hex');
  const rememberUntil =
    deps.scheme === SIGNATURE_SCHEMES.timestampBody
      ? verdict.timestamp + toleranceMs
      : now + BODY_ONLY_REPLAY_MEMORY_MS;
  if (!(await deps.nonces.claim(nonce, rememberUntil, now))) {
    return refuse(WEBHOOK_STATUS.unauthorized, WEBHOOK_REASONS.replayed);
  }

  const outcome = await accept(request.body, nonce, now, deps.queue);
  if (outcome.status === WEBHOOK_STATUS.serviceUnavailable) {
    // Upheal retries a failed delivery with the same body: let it in. Best effort.
    await deps.nonces.release(nonce).catch(() => undefined);
  }
  return outcome;
}

/** Parses an authenticated body and queues a heal command when it names a partner user. */
async function accept(
  body: Uint8Array,
  digest: string,
  now: number,
  queue: EventQueue,
): Promise<WebhookOutcome> {
  let decoded: unknown;
  try {
    decoded = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body));
  } catch {
    // The parser's message quotes the body: only the reason goes out.
    return refuse(WEBHOOK_STATUS.badRequest, WEBHOOK_REASONS.malformedJson);
  }
  let event: ReturnType<typeof parseWebhookEvent>;
  try {
    event = parseWebhookEvent(decoded);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return refuse(WEBHOOK_STATUS.badRequest, error.message);
  }
  if (event.kind === 'unknown') {
    return {
      status: WEBHOOK_STATUS.noContent,
      headers: {},
      eventType: loggableType(event.type),
      queued: false,
    };
  }
  const ids = {
    eventType: 'user.created',
    uphealUserId: event.uphealUserId,
    ...(event.partnerUserId ? { partnerUserId: event.partnerUserId } : {}),
  };
  // A user created in Upheal's own app names no partner user: nothing of ours to heal.
  if (!event.partnerUserId)
    return { status: WEBHOOK_STATUS.noContent, headers: {}, ...ids, queued: false };
  const command: HealCommand = {
    type: 'user.created',
    partnerUserId: event.partnerUserId,
    uphealUserId: event.uphealUserId,
    ...(event.userKind ? { userKind: event.userKind } : {}),
    receivedAt: new Date(now).toISOString(),
  };
  const failures = await queue.enqueue([
    { eventId: digest, partnerUserId: event.partnerUserId, body: JSON.stringify(command) },
  ]);
  if (failures.length > 0) {
    return {
      ...refuse(WEBHOOK_STATUS.serviceUnavailable, WEBHOOK_REASONS.notQueued),
      ...ids,
    };
  }
  return { status: WEBHOOK_STATUS.noContent, headers: {}, ...ids, queued: true };
}

function refuse(
  status: WebhookOutcome['status'],
  reason: string,
  headers: Record<string, string> = {},
): WebhookOutcome {
  return { status, headers, reason, queued: false };
}
