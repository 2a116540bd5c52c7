/**
 * The one request-signing scheme of this product (`ingest`; outbound POSTs):
 * HMAC-SHA256 with a shared secret over `${timestamp}.${rawBody}`, where the timestamp is in
 * milliseconds since the epoch. The timestamp is signed so that a captured request cannot be
 * replayed outside the replay window; within the window, replays are stopped by the caller's
 * nonce store (see `lib/ingest/replay-guard.ts`).
 *
 * Header format (lower-case names, as Lambda function URLs deliver them):
 * - `x-upheal-sync-timestamp: 1795770000000`
 * - `x-upheal-sync-signature: v1=<64 hex chars>[,v1=<hex>…]` — several values let a sender sign
 *   with both the old and the new secret while a rotation is under way. Values of other schemes
 *   (`v2=…`) are ignored so the scheme can evolve without breaking verifiers.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** Names of the signing headers. */
export const SIGNATURE_HEADERS = {
  timestamp: 'x-upheal-sync-timestamp',
  signature: 'x-upheal-sync-signature',
} as const;

/** The scheme tag in front of each signature value. */
export const SIGNATURE_SCHEME = 'v1';

/** Why a signed request was refused; safe to return to the caller and to log. */
export const VERIFY_FAILURES = {
  missingTimestamp: 'missing timestamp',
  malformedTimestamp: 'malformed timestamp',
  staleTimestamp: 'stale timestamp',
  futureTimestamp: 'timestamp in the future',
  missingSignature: 'missing signature',
  malformedSignature: 'malformed signature',
  badSignature: 'bad signature',
} as const;

/** One of VERIFY_FAILURES. */
export type VerifyFailure = (typeof VERIFY_FAILURES)[keyof typeof VERIFY_FAILURES];

/** The outcome of `verify`. */
export type VerifyResult =
  | { readonly ok: true; readonly timestamp: number }
  | { readonly ok: false; readonly reason: VerifyFailure };

/** The two headers a signed request carries. */
export type SignatureHeaders = {
  readonly [SIGNATURE_HEADERS.timestamp]: string;
  readonly [SIGNATURE_HEADERS.signature]: string;
};

/** Request headers as any HTTP layer hands them over; names are matched case-insensitively. */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

/** A raw body: the exact bytes on the wire, or their UTF-8 text. */
export type RawBody = string | Uint8Array;

/** A timestamp is milliseconds since the epoch written as plain decimal digits (no sign). */
const TIMESTAMP_PATTERN = /^\d{1,16}$/;

/** A v1 signature is a lower- or upper-case hex SHA-256 digest. */
const SIGNATURE_HEX_PATTERN = /^[0-9a-fA-F]{64}$/;

/** Hex HMAC-SHA256 of `${timestamp}.${rawBody}` under `secret`. */
export function computeSignature(secret: string, timestamp: string, rawBody: RawBody): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex');
}

/** The headers that sign `rawBody` at `now` with each secret (the first is the current one). */
export function sign(
  secret: string | readonly string[],
  rawBody: RawBody,
  now: number = Date.now(),
): SignatureHeaders {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  const timestamp = String(Math.trunc(now));
  const values = secrets.map(
    (each) => `${SIGNATURE_SCHEME}=${computeSignature(each, timestamp, rawBody)}`,
  );
  return {
    [SIGNATURE_HEADERS.timestamp]: timestamp,
    [SIGNATURE_HEADERS.signature]: values.join(','),
  };
}

/**
 * A digest of what a signature covers (timestamp and body), independent of the secret. Two
 * deliveries with the same digest are the same signed request, whichever of its signatures they
 * carry: the replay guard keys on this.
 */
export function signedContentDigest(timestamp: number, rawBody: RawBody): string {
  return createHash('sha256').update(`${timestamp}.`).update(rawBody).digest('hex');
}

/**
 * Checks a request's signature against every accepted secret, in constant time per comparison.
 * The timestamp may differ from `now` by at most `replayWindowMs` either way (the future side
 * absorbs clock skew). Checks run cheapest first, and the reason names the first failure.
 */
export function verify(
  secrets: readonly string[],
  headers: HeaderBag,
  rawBody: RawBody,
  now: number,
  replayWindowMs: number,
): VerifyResult {
  const timestampHeader = headerValue(headers, SIGNATURE_HEADERS.timestamp);
  if (timestampHeader === undefined) return fail(VERIFY_FAILURES.missingTimestamp);
  const timestampText = timestampHeader.trim();
  if (!TIMESTAMP_PATTERN.test(timestampText)) return fail(VERIFY_FAILURES.malformedTimestamp);
  const timestamp = Number(timestampText);
  if (timestamp < now - replayWindowMs) return fail(VERIFY_FAILURES.staleTimestamp);
  if (timestamp > now + replayWindowMs) return fail(VERIFY_FAILURES.futureTimestamp);

  const signatureHeader = headerValue(headers, SIGNATURE_HEADERS.signature);
  if (signatureHeader === undefined || signatureHeader.trim() === '') {
    return fail(VERIFY_FAILURES.missingSignature);
  }
  const candidates = parseSignatures(signatureHeader);
  if (candidates.length === 0) return fail(VERIFY_FAILURES.malformedSignature);

  // Compare every candidate with every secret without stopping early, so the time taken does not
  // reveal which secret or which candidate matched.
  let matched = false;
  for (const secret of secrets) {
    const expected = Buffer.from(computeSignature(secret, timestampText, rawBody), 'hex');
    for (const candidate of candidates) {
      if (timingSafeEqual(expected, candidate)) matched = true;
    }
  }
  return matched ? { ok: true, timestamp } : fail(VERIFY_FAILURES.badSignature);
}

/** The `v1` digests in a signature header, decoded; malformed entries and other schemes dropped. */
function parseSignatures(header: string): Buffer[] {
  const digests: Buffer[] = [];
  for (const entry of header.split(',')) {
    const separator = entry.indexOf('=');
    if (separator < 0) continue;
    const scheme = entry.slice(0, separator).trim();
    const value = entry.slice(separator + 1).trim();
    if (scheme !== SIGNATURE_SCHEME || !SIGNATURE_HEX_PATTERN.test(value)) continue;
    digests.push(Buffer.from(value, 'hex'));
  }
  return digests;
}

/** A header's value by case-insensitive name; repeated headers are joined with commas (RFC 9110). */
export function headerValue(headers: HeaderBag, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return typeof value === 'string' ? value : value.join(',');
  }
  return undefined;
}

function fail(reason: VerifyFailure): VerifyResult {
  return { ok: false, reason };
}
