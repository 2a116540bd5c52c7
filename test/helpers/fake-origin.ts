/**
 * A scripted HTTP origin on a real local socket, for tests of code that sends HTTP requests: each
 * expected request is registered with `intercept` (path, method, and optionally headers and a body
 * matcher) and answered once with its reply, in order of registration. A request no interceptor
 * matches is answered 501 and recorded, and `assertNoPendingInterceptors` fails on it as it does
 * on an interceptor that was never used.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a request must look like to be answered by an interceptor. */
export interface Match {
  readonly path: string;
  readonly method: string;
  /** Headers it must carry (names lower-case), or a predicate on all its headers. */
  readonly headers?: Readonly<Record<string, string>> | ((headers: IncomingHttpHeaders) => boolean);
  /** A predicate on its raw body. */
  readonly body?: (body: string) => boolean;
}

/** How an interceptor answers. */
type Reply =
  | {
      readonly kind: 'answer';
      readonly status: number;
      readonly body: string;
      readonly headers: Record<string, string>;
    }
  | { readonly kind: 'reset' };

interface Interceptor {
  readonly match: Match;
  reply?: Reply;
}

/** The reply builder `intercept` returns. */
export interface Replier {
  /** Answers with `status` and `body` (an object is sent as JSON). */
  reply(status: number, body: unknown, options?: { headers?: Record<string, string> }): void;
  /** Destroys the connection instead of answering. */
  replyWithReset(): void;
}

function matches(match: Match, request: IncomingMessage, body: string): boolean {
  if (request.method !== match.method || request.url !== match.path) return false;
  if (typeof match.headers === 'function') {
    if (!match.headers(request.headers)) return false;
  } else if (match.headers !== undefined) {
    for (const [name, value] of Object.entries(match.headers)) {
      if (request.headers[name] !== value) return false;
    }
  }
  return match.body === undefined || match.body(body);
}

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A local origin answering scripted replies (see module comment). */
export class FakeOrigin {
  readonly url: string;
  readonly #server: Server;
  readonly #interceptors: Interceptor[] = [];
  readonly #unmatched: string[] = [];

  private constructor(server: Server) {
    this.#server = server;
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** Starts an origin on a free local port. */
  static async start(): Promise<FakeOrigin> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const origin = new FakeOrigin(server);
    server.on('request', (request, response) => {
      // A client that stops reading a long answer resets the socket; that is its right.
      response.on('error', () => {});
      void origin.#answer(request, response);
    });
    return origin;
  }

  /** Registers an expected request; its reply is set on what this returns. */
  intercept(match: Match): Replier {
    const interceptor: Interceptor = { match };
    this.#interceptors.push(interceptor);
    return {
      reply: (status, body, options) => {
        interceptor.reply = {
          kind: 'answer',
          status,
          body: typeof body === 'string' ? body : JSON.stringify(body),
          headers: options?.headers ?? {},
        };
      },
      replyWithReset: () => {
        interceptor.reply = { kind: 'reset' };
      },
    };
  }

  /** Throws when an interceptor was never used or a request matched none. */
  assertNoPendingInterceptors(): void {
    const pending = this.#interceptors.map(({ match }) => `${match.method} ${match.path}`);
    if (pending.length > 0 || this.#unmatched.length > 0) {
      throw new Error(
        `pending interceptors: [${pending.join(', ')}]; unmatched requests: [${this.#unmatched.join(', ')}]`,
      );
    }
  }

  /** Closes the origin and every connection to it. */
  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const body = await bodyOf(request);
    const index = this.#interceptors.findIndex(
      (interceptor) => interceptor.reply !== undefined && matches(interceptor.match, request, body),
    );
    const reply = index === -1 ? undefined : this.#interceptors.splice(index, 1)[0]?.reply;
    if (reply === undefined) {
      this.#unmatched.push(`${request.method} ${request.url}`);
      response.writeHead(501).end();
      return;
    }
    if (reply.kind === 'reset') {
      request.socket.destroy();
      return;
    }
    response.writeHead(reply.status, reply.headers).end(reply.body);
  }
}
