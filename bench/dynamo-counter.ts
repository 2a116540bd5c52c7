/**
 * A counting HTTP proxy in front of the local DynamoDB (dynalite): the functions get its URL as
 * `AWS_ENDPOINT_URL_DYNAMODB`, so every request they make passes through it and is counted by its
 * `x-amz-target` operation. Writes (PutItem, UpdateItem, DeleteItem, BatchWriteItem) are what
 * DynamoDB bills as write units; a write that fails its condition still costs one, so it is
 * counted too (and separately). Reads are counted by the kind of item (or index) they read, so a
 * run's requests per call can be traced to their source. dynalite does not report consumed
 * capacity faithfully, hence counting requests ourselves.
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
/** The read operations whose item kinds are counted (`readsByItem`). */
export const READ_OPERATIONS = ['GetItem', 'BatchGetItem', 'Query', 'Scan'] as const;

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
  /**
   * Read requests by operation and what they read (`readKindOf`): `GetItem LIMITER#/STATE`,
   * `BatchGetItem USER#/MAPPING`, `Query <index or table> <pk kind>`; one entry per request.
   */
  readonly readsByItem: Readonly<Record<string, number>>;
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
    readsByItem: diffRecord(later.readsByItem, earlier.readsByItem),
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
    const request = JSON.parse(body) as { Key?: DynamoKey; Item?: DynamoKey };
    return kindOfKey(request.Key ?? request.Item);
  } catch {
    return 'unparsed';
  }
}

/** A DynamoDB JSON key: attribute name → typed value. */
type DynamoKey = Record<string, { S?: string }>;

/** Item kinds are names in capitals: a prefix (`USER#`) or a constant (`QUARANTINE`, `STATE`). */
const KIND_NAME = /^[A-Z][A-Z_]*#?$/;

/** The kind a key value names: its prefix up to `#` or the constant, else `?` (an id, a time). */
function kindOfValue(value: string | undefined): string {
  const kind = value?.match(KIND_PREFIX)?.[0];
  return kind !== undefined && KIND_NAME.test(kind) ? kind : '?';
}

/** `USER#/MAPPING` of a DynamoDB JSON key (ids cut off). */
function kindOfKey(key: DynamoKey | undefined): string {
  return `${kindOfValue(key?.pk?.S)}/${kindOfValue(key?.sk?.S)}`;
}

/**
 * What a read request reads, from its JSON body, prefixed with the operation: the item kind of a
 * GetItem; the kinds of a BatchGetItem's keys (distinct, sorted, joined by `+`); the index (or
 * table) of a Query or Scan, and for a Query the kind of the first key value it names. Only kinds
 * are kept, never ids or attribute values.
 */
export function readKindOf(operation: string, body: string): string {
  try {
    const request = JSON.parse(body) as {
      Key?: DynamoKey;
      RequestItems?: Record<string, { Keys?: DynamoKey[] }>;
      TableName?: string;
      IndexName?: string;
      ExpressionAttributeValues?: Record<string, { S?: string }>;
    };
    if (operation === 'GetItem') return `${operation} ${kindOfKey(request.Key)}`;
    if (operation === 'BatchGetItem') {
      const keys = Object.values(request.RequestItems ?? {}).flatMap((table) => table.Keys ?? []);
      const kinds = [...new Set(keys.map(kindOfKey))].sort();
      return `${operation} ${kinds.join('+') || '?'}`;
    }
    // An index is named by what it looks up; a query of the table by its partition's kind.
    if (request.IndexName !== undefined) return `${operation} ${request.IndexName}`;
    if (operation === 'Query') {
      const first = Object.values(request.ExpressionAttributeValues ?? {}).find(
        (value) => typeof value.S === 'string',
      );
      return `${operation} table ${kindOfValue(first?.S)}`;
    }
    return `${operation} table`;
  } catch {
    return `${operation} unparsed`;
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
  const readsByItem: Record<string, number> = {};
  const agent = new Agent({ keepAlive: true });

  const forward = (incoming: IncomingMessage, outgoing: ServerResponse): void => {
    const target = String(incoming.headers['x-amz-target'] ?? '');
    const operation = target.slice(target.lastIndexOf(TARGET_SEPARATOR) + 1) || 'unknown';
    const isWrite = (WRITE_OPERATIONS as readonly string[]).includes(operation);
    const isRead = (READ_OPERATIONS as readonly string[]).includes(operation);
    requests += 1;
    increment(byOperation, operation);
    if (isWrite) writes += 1;
    // A write's or read's body is kept (it is small) to learn which kind of item it touches.
    const sent: Buffer[] = [];
    if (isWrite || isRead) incoming.on('data', (chunk: Buffer) => sent.push(chunk));
    const body = () => Buffer.concat(sent).toString('utf8');
    const kind = () => itemKindOf(body());
    if (isRead) incoming.on('end', () => increment(readsByItem, readKindOf(operation, body())));
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
      readsByItem: { ...readsByItem },
    }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
