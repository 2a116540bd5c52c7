/**
 * A counting HTTP proxy in front of the local DynamoDB (dynalite): the functions get its URL as
 * `AWS_ENDPOINT_URL_DYNAMODB`, so every request they make passes through it and is counted by its
 * `x-amz-target` operation. Writes (PutItem, UpdateItem, DeleteItem, BatchWriteItem) are what
 * DynamoDB bills as write units; a write that fails its condition still costs one, so it is
 * counted too (and separately). dynalite does not report consumed capacity faithfully
 * (research/rate-limiting.md §6.2), hence counting requests ourselves.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

/** The operations DynamoDB bills as writes. */
export const WRITE_OPERATIONS = ['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem'] as const;

/** The error type dynalite and DynamoDB answer a failed condition with. */
const CONDITIONAL_FAILURE = 'ConditionalCheckFailedException';
/** `x-amz-target: DynamoDB_20120810.PutItem` → `PutItem`. */
const TARGET_SEPARATOR = '.';
/** Answer when the upstream is not set or fails (the SDK retries 5xx). */
const BAD_GATEWAY = 502;

/** Counts since start (or the last snapshot taken as a baseline). */
export interface DynamoCounts {
  /** Requests per operation name. */
  readonly byOperation: Readonly<Record<string, number>>;
  /** Write requests, failed conditional writes included. */
  readonly writes: number;
  /** Write requests answered ConditionalCheckFailedException. */
  readonly conditionalFailures: number;
  /** Every request. */
  readonly requests: number;
  /**
   * Writes by the item they touch, `<pk prefix>/<sk prefix>` (e.g. `LIMITER#/STATE`,
   * `USER#/CLAIM`, `USER#/MAPPING`), failed conditional writes included.
   */
  readonly writesByItem: Readonly<Record<string, number>>;
  /** Failed conditional writes by item, likewise. */
  readonly conditionalFailuresByItem: Readonly<Record<string, number>>;
}

/** A running counting proxy. */
export interface DynamoCounter {
  readonly url: string;
  /** Where requests go (set once dynalite is up). */
  setUpstream(url: string): void;
  counts(): DynamoCounts;
  stop(): Promise<void>;
}

/** `later − earlier`, operation by operation. */
export function diffCounts(later: DynamoCounts, earlier: DynamoCounts): DynamoCounts {
  return {
    byOperation: diffRecord(later.byOperation, earlier.byOperation),
    writes: later.writes - earlier.writes,
    conditionalFailures: later.conditionalFailures - earlier.conditionalFailures,
    requests: later.requests - earlier.requests,
    writesByItem: diffRecord(later.writesByItem, earlier.writesByItem),
    conditionalFailuresByItem: diffRecord(
      later.conditionalFailuresByItem,
      earlier.conditionalFailuresByItem,
    ),
  };
}

function diffRecord(
  later: Readonly<Record<string, number>>,
  earlier: Readonly<Record<string, number>>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [key, count] of Object.entries(later)) {
    const change = count - (earlier[key] ?? 0);
    if (change !== 0) delta[key] = change;
  }
  return delta;
}

/** Leading part of a key value that names the item kind: `USER#c-001` → `USER#`. */
const KIND_PREFIX = /^[^#]*#?/;

/**
 * The kind of item a write request touches, from its JSON body (`Key` or `Item`, DynamoDB JSON):
 * ids are cut off, so only kinds are kept (never user ids, never attribute values).
 */
export function itemKindOf(body: string): string {
  try {
    const request = JSON.parse(body) as {
      Key?: Record<string, { S?: string }>;
      Item?: Record<string, { S?: string }>;
    };
    const key = request.Key ?? request.Item;
    const pk = key?.pk?.S?.match(KIND_PREFIX)?.[0] ?? '?';
    const sk = key?.sk?.S?.match(KIND_PREFIX)?.[0] ?? '?';
    return `${pk}/${sk}`;
  } catch {
    return 'unparsed';
  }
}

const increment = (record: Record<string, number>, key: string) => {
  record[key] = (record[key] ?? 0) + 1;
};

/** Starts the proxy on a random loopback port. */
export async function startDynamoCounter(): Promise<DynamoCounter> {
  let upstream: URL | undefined;
  const byOperation: Record<string, number> = {};
  let writes = 0;
  let conditionalFailures = 0;
  let requests = 0;
  const writesByItem: Record<string, number> = {};
  const conditionalFailuresByItem: Record<string, number> = {};
  const agent = new Agent({ keepAlive: true });

  const forward = (incoming: IncomingMessage, outgoing: ServerResponse): void => {
    const target = String(incoming.headers['x-amz-target'] ?? '');
    const operation = target.slice(target.lastIndexOf(TARGET_SEPARATOR) + 1) || 'unknown';
    const isWrite = (WRITE_OPERATIONS as readonly string[]).includes(operation);
    requests += 1;
    increment(byOperation, operation);
    if (isWrite) writes += 1;
    // A write's body is kept (it is small) to learn which kind of item it touches.
    const sent: Buffer[] = [];
    if (isWrite) incoming.on('data', (chunk: Buffer) => sent.push(chunk));
    const kind = () => itemKindOf(Buffer.concat(sent).toString('utf8'));
    if (!upstream) {
      incoming.resume();
      outgoing.writeHead(BAD_GATEWAY).end();
      return;
    }
    const proxied = httpRequest(
      {
        agent,
        host: upstream.hostname,
        port: upstream.port,
        method: incoming.method,
        path: incoming.url,
        headers: { ...incoming.headers, host: upstream.host },
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? BAD_GATEWAY, answer.headers);
        // Only a failed write's body is inspected; everything else streams straight through.
        const inspect = isWrite && (answer.statusCode ?? 0) >= 400;
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => {
          if (inspect) chunks.push(chunk);
          outgoing.write(chunk);
        });
        answer.on('end', () => {
          if (isWrite) increment(writesByItem, kind());
          if (inspect && Buffer.concat(chunks).toString('utf8').includes(CONDITIONAL_FAILURE)) {
            conditionalFailures += 1;
            increment(conditionalFailuresByItem, kind());
          }
          outgoing.end();
        });
      },
    );
    proxied.on('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(BAD_GATEWAY);
      outgoing.end();
    });
    incoming.pipe(proxied);
  };

  const server = createServer(forward);
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setUpstream(url) {
      upstream = new URL(url);
    },
    counts: () => ({
      byOperation: { ...byOperation },
      writes,
      conditionalFailures,
      requests,
      writesByItem: { ...writesByItem },
      conditionalFailuresByItem: { ...conditionalFailuresByItem },
    }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
