/**
 * What the healer reads and writes besides mappings, on the product's DynamoDB table:
 * - whether a partner user has a create claim (`USER#<id>` / `CLAIM`: we tried to create it);
 * - its failure records: live events (`FAILURES`) and rows of the most recent import jobs
 *   (`JOB#<id>` / `FAIL#…`), found by partner id and removed once the user is healed; a healed
 *   row moves from `failed` to `created` in its job's counts first (`DynamoJobStore.healRow`,
 *   once per row, so a redelivery that finds the record again moves nothing);
 * - the webhook trace (`USER#<id>` / `UPHEAL-WEBHOOK`): the last user-created webhook for this
 *   partner id and what came of it, ids only, for `trace` and operators.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { TABLE } from '#infra/resources.ts';
import { DynamoJobStore, JOBS_INDEX_PK } from '#lib/jobs/job-store.ts';
import { expiresAt, KEY, type TableKey } from '#lib/store/keys.ts';

/** Sort key of the webhook trace item of a partner user. */
export const WEBHOOK_TRACE_SK = 'UPHEAL-WEBHOOK';
/** How long a webhook trace is kept (TTL), as long as failure records. */
const TRACE_RETENTION_MS = 90 * 24 * 60 * 60 * 1000;
/** Import jobs whose row failures are searched for a healed user, newest first. */
export const RECENT_JOBS_SEARCHED = 10;

/** What came of a user-created webhook. */
export const HEAL_OUTCOMES = {
  healed: 'healed',
  alreadyMapped: 'already-mapped',
  unknownPartnerUser: 'unknown-partner-user',
  conflict: 'conflict',
  deleted: 'deleted',
  unknownKind: 'unknown-kind',
} as const;

/** The stored name of a trace's Upheal id (never `uphealUserId`, the reverse index's key). */
const TRACE_UPHEAL_ID = 'tracedUphealUserId';

/** One of HEAL_OUTCOMES. */
export type HealOutcomeKind = (typeof HEAL_OUTCOMES)[keyof typeof HEAL_OUTCOMES];

/** The trace of the last user-created webhook of a partner user (ids and reasons only). */
export interface WebhookTrace {
  readonly partnerUserId: string;
  readonly uphealUserId: string;
  readonly outcome: HealOutcomeKind;
  /** Why nothing was healed (ids only), when nothing was. */
  readonly reason?: string | undefined;
  readonly receivedAt: string;
  readonly at: string;
}

/** A failure record of a partner user, by its table key. */
export interface FoundFailure {
  readonly key: TableKey;
  readonly partnerUserId?: string | undefined;
  /** True for an import row's own failure (it has a line), counted as `failed` by its job. */
  readonly row?: boolean | undefined;
  readonly eventId?: string | undefined;
  readonly jobId?: string | undefined;
}

/** The healer's storage port. */
export interface HealStore {
  /** The failure records naming this partner user (live events and recent import jobs). */
  failuresOf(partnerUserId: string): Promise<FoundFailure[]>;
  /**
   * Removes failure records (the user they were about is now mapped); an import row's failure
   * is moved from `failed` to `created` in its job's counts first.
   */
  clearFailures(failures: readonly FoundFailure[]): Promise<void>;
  /** Records the trace of a webhook, replacing the previous one of the user. */
  recordTrace(trace: Omit<WebhookTrace, 'at'>): Promise<void>;
  /** The last webhook trace of a partner user. */
  traceOf(partnerUserId: string): Promise<WebhookTrace | undefined>;
}

/** The HealStore on the product's table. */
export class DynamoHealStore implements HealStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(client: DynamoDBDocumentClient, tableName: string, now: () => number = Date.now) {
    this.#client = client;
    this.#table = tableName;
    this.#now = now;
  }

  async failuresOf(partnerUserId: string): Promise<FoundFailure[]> {
    const found = await this.#query({ pk: KEY.failuresPk }, partnerUserId);
    const { Items: jobs = [] } = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': JOBS_INDEX_PK },
        ScanIndexForward: false,
        Limit: RECENT_JOBS_SEARCHED,
      }),
    );
    for (const job of jobs) {
      if (typeof job.jobId !== 'string') continue;
      found.push(
        ...(await this.#query(
          { pk: `${KEY.jobPrefix}${job.jobId}`, skPrefix: KEY.jobFailurePrefix },
          partnerUserId,
        )),
      );
    }
    return found;
  }

  async clearFailures(failures: readonly FoundFailure[]): Promise<void> {
    const jobs = new DynamoJobStore(this.#client, this.#table, this.#now);
    for (const failure of failures) {
      if (failure.jobId && failure.row && failure.partnerUserId) {
        await jobs.healRow(failure.jobId, failure.partnerUserId);
      }
      await this.#client.send(new DeleteCommand({ TableName: this.#table, Key: failure.key }));
    }
  }

  async recordTrace(trace: Omit<WebhookTrace, 'at'>): Promise<void> {
    const now = this.#now();
    // The Upheal id is stored under a name of its own: an item with `uphealUserId` would enter
    // the reverse index of mappings (and the active-user count) as if it were one.
    const { uphealUserId, ...rest } = trace;
    const item = Object.fromEntries(
      Object.entries({
        ...rest,
        [TRACE_UPHEAL_ID]: uphealUserId,
        at: new Date(now).toISOString(),
      }).filter(([, value]) => value !== undefined),
    );
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          ...traceKey(trace.partnerUserId),
          ...item,
          [TABLE.ttlAttribute]: expiresAt(now, TRACE_RETENTION_MS),
        },
      }),
    );
  }

  async traceOf(partnerUserId: string): Promise<WebhookTrace | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: traceKey(partnerUserId),
        ConsistentRead: true,
      }),
    );
    if (!Item) return undefined;
    const { pk: _pk, sk: _sk, [TABLE.ttlAttribute]: _ttl, [TRACE_UPHEAL_ID]: id, ...trace } = Item;
    return { ...trace, uphealUserId: id } as WebhookTrace;
  }

  /** The items of one partition (and sort-key prefix) that name the partner user. */
  async #query(
    where: { pk: string; skPrefix?: string },
    partnerUserId: string,
  ): Promise<FoundFailure[]> {
    const found: FoundFailure[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: where.skPrefix
            ? 'pk = :pk AND begins_with(sk, :prefix)'
            : 'pk = :pk',
          FilterExpression: 'partnerUserId = :partnerUserId',
          ExpressionAttributeValues: {
            ':pk': where.pk,
            ':partnerUserId': partnerUserId,
            ...(where.skPrefix ? { ':prefix': where.skPrefix } : {}),
          },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        found.push({
          key: { pk: String(item.pk), sk: String(item.sk) },
          partnerUserId,
          row: typeof item.line === 'number',
          eventId: typeof item.eventId === 'string' ? item.eventId : undefined,
          jobId: typeof item.jobId === 'string' ? item.jobId : undefined,
        });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return found;
  }
}

/** The webhook trace item of a partner user. */
export const traceKey = (partnerUserId: string): TableKey => ({
  pk: `${KEY.userPrefix}${partnerUserId}`,
  sk: WEBHOOK_TRACE_SK,
});
