/**
 * Verification of Upheal's webhook signatures. Upheal documents the headers (`x-upheal-signature`,
 * `x-upheal-timestamp` in milliseconds) but not the algorithm, so the scheme is a setting:
 * - `body` (default): hex HMAC-SHA256 of the raw body bytes with the shared secret;
 * - `timestamp-body`: the same over `${timestamp}.${rawBody}`, as this product's own signing
 *   (`lib/signing.ts`) does, which also binds the timestamp to the body.
 * Every accepted secret is tried (two during a rotation), always against the exact bytes received,
 * never re-serialised JSON. The header may hold several comma-separated values, each optionally
 * prefixed `sha256=`.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  computeSignature,
  type HeaderBag,
  headerValue,
  type RawBody,
  VERIFY_FAILURES,
  type VerifyFailure,
} from '#lib/signing.ts';

/** The headers Upheal sends with each webhook. */
export const UPHEAL_WEBHOOK_HEADERS = {
  signature: 'x-upheal-signature',
  timestamp: 'x-upheal-timestamp',
} as const;

/** The signature schemes, by their configuration value. */
export const SIGNATURE_SCHEMES = { body: 'body', timestampBody: 'timestamp-body' } as const;

/** One of SIGNATURE_SCHEMES. */
export type SignatureScheme = (typeof SIGNATURE_SCHEMES)[keyof typeof SIGNATURE_SCHEMES];

/**
 * Why a webhook was refused before its body was read; safe to answer and to log. The same reasons
 * as a partner's signed request to `ingest`.
 */
export const WEBHOOK_VERIFY_FAILURES = VERIFY_FAILURES;

/** One of WEBHOOK_VERIFY_FAILURES. */
export type WebhookVerifyFailure = VerifyFailure;

/** The outcome of `verifyWebhook`. */
export type WebhookVerifyResult =
  | { readonly ok: true; readonly timestamp: number }
  | { readonly ok: false; readonly reason: WebhookVerifyFailure };

/** Milliseconds since the epoch, as plain decimal digits. */
const TIMESTAMP_PATTERN = /^\d{1,16}$/;
/** A hex SHA-256 digest. */
const DIGEST_PATTERN = /^[0-9a-fA-F]{64}$/;
/** Optional prefix some senders put before the digest. */
const DIGEST_PREFIX = 'sha256=';

/** Hex HMAC-SHA256 of what `scheme` signs. */
export function webhookSignature(
  scheme: SignatureScheme,
  secret: string,
  timestamp: string,
  rawBody: RawBody,
): string {
  return scheme === SIGNATURE_SCHEMES.timestampBody
    ? computeSignature(secret, timestamp, rawBody)
    : createHmac('sha256', secret).update(rawBody).digest('hex');
}

/** The headers Upheal would send for `rawBody` at `now` (the simulator and tests sign with it). */
export function signWebhook(
  scheme: SignatureScheme,
  secret: string,
  rawBody: RawBody,
  now: number,
): Record<string, string> {
  const timestamp = String(Math.trunc(now));
  return {
    [UPHEAL_WEBHOOK_HEADERS.timestamp]: timestamp,
    [UPHEAL_WEBHOOK_HEADERS.signature]: webhookSignature(scheme, secret, timestamp, rawBody),
  };
}

/**
 * Checks the timestamp (at most `toleranceMs` from `now` either way) and then the signature with
 * every secret, comparing in constant time and without stopping at the first match.
 */
export function verifyWebhook(
  scheme: SignatureScheme,
  secrets: readonly string[],
  headers: HeaderBag,
  rawBody: RawBody,
  now: number,
  toleranceMs: number,
): WebhookVerifyResult {
  const timestampText = headerValue(headers, UPHEAL_WEBHOOK_HEADERS.timestamp)?.trim();
  if (timestampText === undefined) return fail(WEBHOOK_VERIFY_FAILURES.missingTimestamp);
  if (!TIMESTAMP_PATTERN.test(timestampText)) {
    return fail(WEBHOOK_VERIFY_FAILURES.malformedTimestamp);
  }
  const timestamp = Number(timestampText);
  if (timestamp < now - toleranceMs) return fail(WEBHOOK_VERIFY_FAILURES.staleTimestamp);
  if (timestamp > now + toleranceMs) return fail(WEBHOOK_VERIFY_FAILURES.futureTimestamp);

  const signatureText = headerValue(headers, UPHEAL_WEBHOOK_HEADERS.signature)?.trim();
  if (!signatureText) return fail(WEBHOOK_VERIFY_FAILURES.missingSignature);
  const candidates = parseDigests(signatureText);
  if (candidates.length === 0) return fail(WEBHOOK_VERIFY_FAILURES.malformedSignature);

  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(webhookSignature(scheme, secret, timestampText, rawBody), 'hex');
    for (const candidate of candidates) {
      if (timingSafeEqual(expected, candidate)) matched = true;
    }
  }
  return matched ? { ok: true, timestamp } : fail(WEBHOOK_VERIFY_FAILURES.badSignature);
}

/** The well-formed digests of a signature header, decoded. */
function parseDigests(header: string): Buffer[] {
  return header
    .split(',')
    .map((entry) => entry.trim())
    .map((entry) =>
      entry.toLowerCase().startsWith(DIGEST_PREFIX) ? entry.slice(DIGEST_PREFIX.length) : entry,
    )
    .filter((digest) => DIGEST_PATTERN.test(digest))
    .map((digest) => Buffer.from(digest, 'hex'));
}

function fail(reason: WebhookVerifyFailure): WebhookVerifyResult {
  return { ok: false, reason };
}
