/**
 * The partner side of `ingest`: POSTs events as one signed JSON request. Used by the CLI
 * (`upheal-sync send-events` over HTTPS), the local stack and the tests; partners may copy it.
 */
import { type Dispatcher, request } from 'undici';
import { type SignatureHeaders, sign } from '#lib/signing.ts';

/** The answer of an ingest endpoint: its status and parsed JSON body. */
export interface PostEventsResult {
  readonly status: number;
  readonly body: unknown;
}

/** Options of `postEvents`. */
export interface PostEventsOptions {
  /** Signing time in ms since the epoch; defaults to now. */
  readonly now?: number;
  /** undici dispatcher (e.g. a MockAgent in tests). */
  readonly dispatcher?: Dispatcher;
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
  const response = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...signature, ...options.headers },
    body: rawBody,
    ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
  });
  const text = await response.body.text();
  return { status: response.statusCode, body: parseJsonOrText(text) };
}

function parseJsonOrText(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
