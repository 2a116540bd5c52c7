/**
 * The partner side of `ingest`: POSTs events as one signed JSON request. Used by the CLI
 * (`upheal-sync send-events` over HTTPS), the local stack and the tests; partners may copy it.
 */
import { sendHttp } from '#lib/http.ts';
import { type SignatureHeaders, sign } from '#lib/signing.ts';

/**
 * Longest wait to connect, for the answer's headers, and between chunks of its body. Generous:
 * an ingest call writes to SQS before it answers, and a sender gives up only on a dead endpoint.
 */
const TIMEOUT_MS = 300_000;

/** Most bytes of an answer read: a list of per-event results, far below this. */
const MAX_ANSWER_BYTES = 16_777_216;

/** The answer of an ingest endpoint: its status and parsed JSON body. */
export interface PostEventsResult {
  readonly status: number;
  readonly body: unknown;
}

/** Options of `postEvents`. */
export interface PostEventsOptions {
  /** Signing time in ms since the epoch; defaults to now. */
  readonly now?: number;
  /** Extra or overriding headers (tests use it to send wrong content types). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Signs and POSTs `events` (one event object or an array of them) to `url`. `secret` may list
 * several secrets during a rotation (the current one first). Never throws on an HTTP status: the
 * caller reads `status` and the body (202 accepted, 400 rejected, 503 retry the listed events…).
 */
export async function postEvents(
  url: string,
  secret: string | readonly string[],
  events: unknown,
  options: PostEventsOptions = {},
): Promise<PostEventsResult> {
  return postSigned(url, secret, JSON.stringify(events), options);
}

/** Signs and POSTs an exact raw body (what `postEvents` does after serialising). */
export async function postSigned(
  url: string,
  secret: string | readonly string[],
  rawBody: string,
  options: PostEventsOptions = {},
): Promise<PostEventsResult> {
  const signature: SignatureHeaders = sign(secret, rawBody, options.now ?? Date.now());
  const response = await sendHttp(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signature, ...options.headers },
    body: rawBody,
    timeoutMs: TIMEOUT_MS,
    maxBodyBytes: MAX_ANSWER_BYTES,
  });
  if (response.truncated) {
    throw new Error(`ingest answer exceeds ${MAX_ANSWER_BYTES} bytes (HTTP ${response.status})`);
  }
  return { status: response.status, body: parseJsonOrText(response.text) };
}

function parseJsonOrText(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
