/**
 * One HTTP request on Node's own `node:http` / `node:https`, with the three timeouts a call to a
 * remote service needs and keep-alive connection reuse, and the answer's body read up to a
 * bound. The Upheal client and the partner webhook send through it; it knows nothing of either.
 *
 * Timeouts, each `timeoutMs` long: connecting (TCP and TLS) a new connection, waiting for the
 * answer's headers once the connection is there, and waiting for the next chunk of the body. One
 * that runs out fails the request with an HttpTimeoutError whose `code` names the phase; a
 * connection that fails, closes or is reset fails it with Node's own error (`ECONNRESET`, …).
 */
import {
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

/** The `code` of an HttpTimeoutError, one per phase. */
export const HTTP_TIMEOUT_CODES = {
  connect: 'CONNECT_TIMEOUT',
  headers: 'HEADERS_TIMEOUT',
  body: 'BODY_TIMEOUT',
} as const;

type TimeoutCode = (typeof HTTP_TIMEOUT_CODES)[keyof typeof HTTP_TIMEOUT_CODES];

/** A phase of a request that ran out of time. */
export class HttpTimeoutError extends Error {
  readonly code: TimeoutCode;

  constructor(code: TimeoutCode, timeoutMs: number) {
    super(`${code} after ${timeoutMs} ms`);
    this.name = 'HttpTimeoutError';
    this.code = code;
  }
}

/** Keep-alive connection pools, one per scheme, owned by whoever created them. */
export interface KeepAliveAgents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
}

/** Pools that keep an idle connection for `idleMs` for the next request to the same origin. */
export function keepAliveAgents(idleMs: number): KeepAliveAgents {
  // An agent's `timeout` closes a pooled connection after that long idle.
  const options = { keepAlive: true, timeout: idleMs };
  return { http: new HttpAgent(options), https: new HttpsAgent(options) };
}

/** Closes every connection of `agents`. */
export function closeAgents(agents: KeepAliveAgents): void {
  agents.http.destroy();
  agents.https.destroy();
}

/** One request. */
export interface HttpRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Sent with its `content-length`; absent for a request without a body. */
  readonly body?: string | undefined;
  /** Longest wait to connect, for the headers, and between two chunks of the body. */
  readonly timeoutMs: number;
  /** Most bytes of the answer's body read; beyond it the connection is closed unread. */
  readonly maxBodyBytes: number;
  /** Connection pools; default: Node's global agents (which keep connections alive too). */
  readonly agents?: KeepAliveAgents | undefined;
}

/** One answer, its body read as UTF-8 up to the bound. */
export interface HttpResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
  /** Whether the body went on beyond `maxBodyBytes`. */
  readonly truncated: boolean;
}

/** Sends `request` to `url`; rejects on a timeout or a broken connection, never on a status. */
export async function sendHttp(url: string, request: HttpRequest): Promise<HttpResponse> {
  const response = await responseHead(new URL(url), request);
  const { text, truncated } = await readBounded(response, request);
  return { status: response.statusCode ?? 0, headers: response.headers, text, truncated };
}

/** Sends the request and resolves with the answer as soon as its headers are in. */
function responseHead(url: URL, request: HttpRequest): Promise<IncomingMessage> {
  const secure = url.protocol === 'https:';
  const headers: Record<string, string> = { ...request.headers };
  if (request.body !== undefined) {
    headers['content-length'] = String(Buffer.byteLength(request.body));
  }
  const agent =
    request.agents === undefined ? undefined : request.agents[secure ? 'https' : 'http'];
  const send = secure ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const outgoing = send(url, { method: request.method, headers, agent });
    let timer: NodeJS.Timeout | undefined;
    const expireAfter = (code: TimeoutCode) => {
      clearTimeout(timer);
      timer = setTimeout(
        () => outgoing.destroy(new HttpTimeoutError(code, request.timeoutMs)),
        request.timeoutMs,
      );
    };
    outgoing.once('socket', (socket) => {
      if (!socket.connecting) {
        // A pooled connection, already open.
        expireAfter(HTTP_TIMEOUT_CODES.headers);
        return;
      }
      expireAfter(HTTP_TIMEOUT_CODES.connect);
      socket.once(secure ? 'secureConnect' : 'connect', () =>
        expireAfter(HTTP_TIMEOUT_CODES.headers),
      );
    });
    outgoing.once('response', (response) => {
      clearTimeout(timer);
      resolve(response);
    });
    // `on`, not `once`: an error after the answer (the body's stream reports it) must not crash.
    outgoing.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    outgoing.end(request.body);
  });
}

/** Reads at most `maxBodyBytes` of the body, failing when no chunk arrives within the timeout. */
async function readBounded(
  response: IncomingMessage,
  request: HttpRequest,
): Promise<{ text: string; truncated: boolean }> {
  const limit = request.maxBodyBytes;
  const chunks: Buffer[] = [];
  let size = 0;
  const stall = setTimeout(
    () => response.destroy(new HttpTimeoutError(HTTP_TIMEOUT_CODES.body, request.timeoutMs)),
    request.timeoutMs,
  );
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      stall.refresh();
      if (size + chunk.length > limit) {
        chunks.push(chunk.subarray(0, limit - size));
        // Leaving the loop destroys the stream, so the rest is never buffered.
        return { text: Buffer.concat(chunks).toString('utf8'), truncated: true };
      }
      chunks.push(chunk);
      size += chunk.length;
    }
    return { text: Buffer.concat(chunks).toString('utf8'), truncated: false };
  } finally {
    clearTimeout(stall);
  }
}
