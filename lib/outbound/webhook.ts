/**
 * Optional delivery of outbound events to a partner's HTTPS endpoint, signed with the
 * same scheme `ingest` verifies (`lib/signing.ts`), so a partner needs one verifier for both
 * directions. Runs in `deliver-outbound`, which consumes the webhook queue: any failure — a
 * non-2xx answer, a timeout, a refused connection — is retried with backoff by the consumer and,
 * after the last attempt, dead-lettered for `upheal-sync redrive`. The body is sent exactly as
 * published; it may hold an `inviteUrl`, so it is never logged.
 */
import { DeliveryError } from '#lib/errors.ts';
import { sendHttp } from '#lib/http.ts';
import { sign } from '#lib/signing.ts';

/** Statuses from here up to (not including) 300 mean "accepted". */
const SUCCESS_MIN = 200;
const SUCCESS_MAX = 300;

/**
 * Most bytes of the partner's answer read (and dropped: it is not ours to keep); reading a short
 * answer to its end lets the connection be reused, a longer one is cut off.
 */
const MAX_ANSWER_BYTES = 65_536;

/** Where and how to deliver. */
export interface WebhookOptions {
  readonly url: string;
  /** Signing secrets (the current one first during a rotation). */
  readonly secrets: () => Promise<readonly string[]>;
  /** Longest wait to connect, for the answer's headers, and between chunks of its body. */
  readonly timeoutMs: number;
  readonly now?: () => number;
}

/** POSTs one outbound event body to the partner; throws DeliveryError unless it answers 2xx. */
export async function deliverToWebhook(body: string, options: WebhookOptions): Promise<void> {
  const headers = sign(await options.secrets(), body, (options.now ?? Date.now)());
  let status: number;
  try {
    const response = await sendHttp(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      timeoutMs: options.timeoutMs,
      maxBodyBytes: MAX_ANSWER_BYTES,
    });
    status = response.status;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason = typeof code === 'string' ? code : (error as Error).name;
    throw new DeliveryError(`partner webhook: no answer (${reason})`, undefined, { cause: error });
  }
  if (status < SUCCESS_MIN || status >= SUCCESS_MAX) {
    throw new DeliveryError(`partner webhook: HTTP ${status}`, status);
  }
}
