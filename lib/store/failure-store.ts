/**
 * Failure records (nothing is lost): every event that ends as a permanent failure is
 * recorded with ids, the operation, the HTTP status and a reason — never clinical data. Import
 * failures are also filed under their job, by line, for `upheal-sync failures JOB`.
 */
import {
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { TABLE } from '#infra/resources.ts';
import { attemptsKey, expiresAt, KEY } from '#lib/store/keys.ts';

/** How long failure records are kept (TTL). */
const FAILURE_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;
/** Attempt counters outlive any message (SQS keeps messages at most 14 days). */
const ATTEMPTS_RETENTION_MS = 15 * 24 * 60 * 60 * 1000;
/** Width of zero-padded line numbers, so job failures sort by line. */
const LINE_WIDTH = 9;

/** One recorded failure. */
export interface FailureRecord {
  readonly partnerUserId?: string | undefined;
  readonly eventId?: string | undefined;
  readonly jobId?: string | undefined;
  /** The import file's line, for import rows. */
  readonly line?: number | undefined;
  /** What was attempted, e.g. `client.created`, `assign-providers`, `import-row`. */
  readonly operation: string;
  readonly status?: number | undefined;
  /** Why it failed: ids, field names and status codes only. */
  readonly reason: string;
  readonly at: string;
}

/** Failure records and attempt counters in DynamoDB. */
export class DynamoFailureStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(client: DynamoDBDocumentClient, tableName: string, now: () => number = Date.now) {
    this.#client = client;
    this.#table = tableName;
    this.#now = now;
  }

  /** Records a permanent failure. */
  async record(failure: Omit<FailureRecord, 'at'>): Promise<FailureRecord> {
    const now = this.#now();
    const record: FailureRecord = { ...compact(failure), at: new Date(now).toISOString() };
    const key = failure.jobId
      ? { pk: jobPk(failure.jobId), sk: `${KEY.jobFailurePrefix}${jobFailureSuffix(failure)}` }
      : {
          pk: KEY.failuresPk,
          sk: `${record.at}#${failure.eventId ?? failure.partnerUserId ?? ''}`,
        };
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { ...key, ...record, [TABLE.ttlAttribute]: expiresAt(now, FAILURE_RETENTION_MS) },
      }),
    );
    return record;
  }

  /** The failures of a job (by line), or the latest failures of live events. */
  async list(jobId?: string, limit = 1000): Promise<FailureRecord[]> {
    const records: FailureRecord[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: jobId ? 'pk = :pk AND begins_with(sk, :prefix)' : 'pk = :pk',
          ExpressionAttributeValues: jobId
            ? { ':pk': jobPk(jobId), ':prefix': KEY.jobFailurePrefix }
            : { ':pk': KEY.failuresPk },
          ScanIndexForward: Boolean(jobId),
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const { pk: _pk, sk: _sk, [TABLE.ttlAttribute]: _ttl, ...record } = item;
        records.push(record as FailureRecord);
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey && records.length < limit);
    return records.slice(0, limit);
  }

  /** Counts one failed attempt of a message and resolves with the total so far. */
  async countAttempt(messageId: string): Promise<number> {
    const now = this.#now();
    const { Attributes } = await this.#client.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: attemptsKey(messageId),
        UpdateExpression: 'ADD attempts :one SET #ttl = :ttl',
        ExpressionAttributeNames: { '#ttl': TABLE.ttlAttribute },
        ExpressionAttributeValues: { ':one': 1, ':ttl': expiresAt(now, ATTEMPTS_RETENTION_MS) },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(Attributes?.attempts ?? 1);
  }
}

/** The partition of a job's items. */
export const jobPk = (jobId: string): string => `${KEY.jobPrefix}${jobId}`;

/** Sort-key suffix of a job failure: the zero-padded line, else the partner id. */
function jobFailureSuffix(failure: Omit<FailureRecord, 'at'>): string {
  return failure.line !== undefined
    ? String(failure.line).padStart(LINE_WIDTH, '0')
    : `user#${failure.partnerUserId ?? failure.eventId ?? ''}`;
}

/** Drops undefined members (DynamoDB rejects them). */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
