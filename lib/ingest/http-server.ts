/**
 * A local HTTP front for a function-URL handler, so the local stack and the CLI can POST to
 * `ingest` without AWS. It converts each `node:http` request into the payload-2.0 event a Lambda
 * function URL delivers (lower-case headers, raw body, base64 for non-text content types) and the
 * handler's result back into a response — the same conversion AWS does, so the handler under test
 * is the one that deploys.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayProxyStructuredResultV2,
  LambdaFunctionURLEvent,
  LambdaFunctionURLResult,
} from 'aws-lambda';

/** Lambda's limit on a synchronous invocation's request payload; larger bodies get 413 here, as on AWS. */
export const FUNCTION_URL_MAX_BODY_BYTES = 6 * 1024 * 1024;

/** Content types a function URL passes as text; everything else arrives base64-encoded. */
const TEXT_CONTENT_TYPE =
  /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded)\b)/i;

const LOOPBACK = '127.0.0.1';
const ACCOUNT_ID = '000000000000';
const HTTP_STATUS = { ok: 200, payloadTooLarge: 413, badGateway: 502 } as const;
const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** A function-URL handler (context is not provided locally). */
export type FunctionUrlHandler = (
  event: LambdaFunctionURLEvent,
) => Promise<LambdaFunctionURLResult>;

/** Options of `startIngestServer`. */
export interface IngestServerOptions {
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  readonly host?: string;
  readonly handler: FunctionUrlHandler;
}

/** A running local ingest endpoint. */
export interface IngestServer {
  /** The URL to POST events to, e.g. `http://127.0.0.1:40123/`. */
  readonly url: string;
  readonly port: number;
  /** Stops accepting, closes open connections and resolves when the server is closed. */
  stop(): Promise<void>;
}

/** Starts the local ingest endpoint on loopback. */
export async function startIngestServer(options: IngestServerOptions): Promise<IngestServer> {
  const host = options.host ?? LOOPBACK;
  const server = createServer((request, response) => {
    serve(request, response, options.handler, host).catch(() => {
      if (!response.headersSent) response.writeHead(HTTP_STATUS.badGateway);
      response.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    port,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function serve(
  request: IncomingMessage,
  response: ServerResponse,
  handler: FunctionUrlHandler,
  host: string,
): Promise<void> {
  const body = await readBody(request, FUNCTION_URL_MAX_BODY_BYTES);
  if (body === undefined) {
    response.writeHead(HTTP_STATUS.payloadTooLarge, JSON_HEADERS);
    response.end(JSON.stringify({ error: 'body too large' }));
    return;
  }
  const answer = await handler(toFunctionUrlEvent(request, body, host));
  // A bare string result means 200 with that JSON body, as on AWS.
  const result: APIGatewayProxyStructuredResultV2 =
    typeof answer === 'string'
      ? { statusCode: HTTP_STATUS.ok, body: answer, headers: JSON_HEADERS }
      : answer;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  if (result.cookies?.length) headers['set-cookie'] = result.cookies;
  response.writeHead(result.statusCode ?? HTTP_STATUS.ok, headers);
  response.end(
    result.body === undefined
      ? undefined
      : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8'),
  );
}

/** The whole body, or undefined once it passes `limit` bytes (the rest is drained, not kept). */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) tooLarge = true;
    if (!tooLarge) chunks.push(chunk as Buffer);
  }
  return tooLarge ? undefined : Buffer.concat(chunks);
}

/** The payload-2.0 event AWS would deliver for this request. */
export function toFunctionUrlEvent(
  request: IncomingMessage,
  body: Buffer,
  host: string = LOOPBACK,
): LambdaFunctionURLEvent {
  const url = new URL(request.url ?? '/', `http://${host}`);
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  // Function URLs lower-case header names and join repeated headers with commas.
  for (const [name, value] of Object.entries(request.headersDistinct)) {
    if (value === undefined) continue;
    if (name === 'cookie') cookies.push(...value.flatMap((each) => each.split(/;\s*/)));
    else headers[name] = value.join(',');
  }
  const contentType = headers['content-type'] ?? '';
  const isText = TEXT_CONTENT_TYPE.test(contentType);
  const now = new Date();
  const event: LambdaFunctionURLEvent = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: 'local',
      domainName: headers.host ?? host,
      domainPrefix: 'local',
      http: {
        method: request.method ?? 'GET',
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? LOOPBACK,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: body.length > 0 && !isText,
  };
  if (cookies.length > 0) event.cookies = cookies;
  if (url.search) {
    event.queryStringParameters = Object.fromEntries(url.searchParams.entries());
  }
  if (body.length > 0) event.body = isText ? body.toString('utf8') : body.toString('base64');
  return event;
}
