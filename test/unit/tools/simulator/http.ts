/** Test helpers: talk to a started simulator over real HTTP with `fetch`. */
import type { Simulator } from '#tools/simulator/server.ts';

/** The default key of the simulator. */
export const KEY = 'local-dev-key';

/** A parsed answer: status, headers and JSON body (undefined when empty). */
export interface Answer {
  readonly status: number;
  readonly headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are inspected field by field
  readonly body: any;
}

/** Sends one request; `body` is JSON-encoded unless it is a string (sent raw). */
export async function call(
  simulator: Pick<Simulator, 'url'>,
  method: string,
  path: string,
  body?: unknown,
  options: { key?: string | null; signal?: AbortSignal } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const key = options.key === undefined ? KEY : options.key;
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const response = await fetch(`${simulator.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    signal: options.signal,
  });
  const text = await response.text();
  return {
    status: response.status,
    headers: response.headers,
    body: text ? JSON.parse(text) : undefined,
  };
}

/** A valid provider body; `n` keeps emails and partner ids apart. */
export function providerBody(n: number, extra: Record<string, unknown> = {}) {
  return {
    partnerUserId: `p-${n}`,
    firstName: 'Pat',
    lastName: `Provider${n}`,
    email: `provider${n}@example.test`,
    ...extra,
  };
}

/** A valid client body for the given therapist. */
export function clientBody(
  n: number,
  therapistUserId: string,
  extra: Record<string, unknown> = {},
) {
  return {
    therapistUserId,
    partnerUserId: `c-${n}`,
    firstName: 'Cam',
    lastName: `Client${n}`,
    email: `client${n}@example.test`,
    ...extra,
  };
}

/** Creates a provider and returns its Upheal id. */
export async function createProvider(
  simulator: Pick<Simulator, 'url'>,
  n: number,
): Promise<string> {
  const answer = await call(simulator, 'POST', '/users/providers', providerBody(n));
  if (answer.status !== 200) throw new Error(`provider create answered ${answer.status}`);
  return answer.body.userId;
}

/** Fires `count` checks at once and returns their statuses in send order. */
export async function burst(simulator: Pick<Simulator, 'url'>, count: number): Promise<number[]> {
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      call(simulator, 'POST', '/users/check', { email: `burst${i}@example.test` }),
    ),
  );
  return answers.map((answer) => answer.status);
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every few ms until it holds; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const pollMs = 5;
  for (let waited = 0; waited < timeoutMs; waited += pollMs) {
    if (condition()) return;
    await sleep(pollMs);
  }
  throw new Error(`condition not met within ${timeoutMs} ms`);
}
