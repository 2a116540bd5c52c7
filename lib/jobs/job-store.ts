/**
 * The job ledger in DynamoDB: one item per import job (`JOB#<jobId>` / `JOB`) plus one
 * small index item per job (`JOBS` / `<startedAt>#<jobId>`) so the latest job can be found without
 * a scan. Single-item conditional writes only (dynalite has no transactions): counters move with
 * `ADD`, phases move with an update conditioned on the phase they leave, so of many workers that
 * see the same "all settled" only one moves the job on. One file, a little over 400 lines: every
 * write of the ledger item shares its key, its counter attributes and the conditional-write helper.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { TABLE } from '#infra/resources.ts';
import type { ImportFormat } from '#lib/import/format.ts';
import { DEFAULT_IMPORT_MODE, type ImportMode, importModeOf } from '#lib/import/import-mode.ts';
import type { ImportPlan } from '#lib/import/plan.ts';
import {
  emptyCounts,
  type FanOutPhase,
  JOB_PHASES,
  type Job,
  type JobPhase,
  type JobSource,
  OUTCOME_COUNTERS,
  type OutcomeCounter,
  type OutcomeCounts,
} from '#lib/jobs/job.ts';
import { jobPk } from '#lib/store/failure-store.ts';
import { expiresAt, KEY } from '#lib/store/keys.ts';

/**
 * A job whose records came inline holds them (clinical data) in its item: DynamoDB removes the
 * item this long after the job started, as S3 forgets an uploaded import file.
 */
export const INLINE_JOB_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** Partition of the job index items (one per job, sorted by start time). */
export const JOBS_INDEX_PK = 'JOBS';
/** Prefix of the outcome counter attributes (`count_created`, …): flat, so `ADD` needs no map. */
const COUNT_PREFIX = 'count_';
/** Rows moved from `failed` to `created` by a webhook (not an outcome: `settled` is unchanged). */
const HEALED_COUNT = 'healed';
/** The string set of the partner ids whose failed row was healed (moves each row once). */
const HEALED_IDS = 'healedPartnerUserIds';

/** Attribute names that are DynamoDB reserved words, referenced through placeholders. */
const RESERVED_NAMES = { '#rows': 'rows', '#plan': 'plan', '#cursor': 'cursor' } as const;

/** What a new job starts with. */
export interface NewJob {
  readonly jobId: string;
  readonly format: ImportFormat;
  readonly source: JobSource;
  readonly dryRun: boolean;
  /** How the job's new users are created; default check-first. */
  readonly mode?: ImportMode | undefined;
  /** The export time given in the start message, if any (planning resolves it otherwise). */
  readonly exportedAt?: string | undefined;
}

/** The totals that end planning. */
export interface JobTotals {
  /** The export time planning resolved (given, or stated by the file). */
  readonly exportedAt: string;
  readonly providers: number;
  readonly clients: number;
  readonly invalid: number;
  readonly plan: ImportPlan;
}

/** The ledger's storage operations. */
export interface JobStore {
  /** Creates the job in phase `planning`; false when a job with that id exists already. */
  create(job: NewJob): Promise<boolean>;
  get(jobId: string): Promise<Job | undefined>;
  /** The most recently started job. */
  latest(): Promise<Job | undefined>;
  /** Ends planning with the totals and moves to `next`; false if the job was not planning. */
  finishPlanning(jobId: string, totals: JobTotals, next: JobPhase): Promise<boolean>;
  /**
   * Saves how far planning got (the last line counted) and the counts so far, so a `continue`
   * goes on from there; false if the job left planning or is already further.
   */
  savePlanning(jobId: string, cursor: number, plan: ImportPlan): Promise<boolean>;
  /** Moves the fan-out cursor of `phase` forward; false if the job left that phase. */
  saveCursor(jobId: string, phase: FanOutPhase, cursor: number): Promise<boolean>;
  /** Adds settled outcomes in one atomic write and answers the job as it is after it. */
  addOutcomes(jobId: string, counts: Partial<OutcomeCounts>): Promise<Job | undefined>;
  /**
   * Moves the job from `from` to the next phase if every row of `from` is settled (checked by the
   * same conditional write); true for exactly one caller.
   */
  advance(jobId: string, from: FanOutPhase): Promise<boolean>;
  /** Marks the job failed with a reason (ids and field names only); no-op once final. */
  fail(jobId: string, reason: string): Promise<void>;
  /**
   * Moves the failed row of `partnerUserId` to `created`: Upheal's webhook showed its create
   * took effect. Once per partner user and job (the ids moved are kept on the item); true when
   * this call moved it, false when it was moved before. The row's own `failed` may be added
   * after this move (sync-user counts a batch's outcomes when its invocation ends): for that
   * moment the failed count is one lower, then right.
   */
  healRow(jobId: string, partnerUserId: string): Promise<boolean>;
}

/** The stored item (keys and flat counters besides the Job fields). */
type JobItem = Record<string, unknown>;

/** The job ledger on the single table. */
export class DynamoJobStore implements JobStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(client: DynamoDBDocumentClient, tableName: string, now: () => number = Date.now) {
    this.#client = client;
    this.#table = tableName;
    this.#now = now;
  }

  async create(job: NewJob): Promise<boolean> {
    const at = this.#iso();
    const source =
      'records' in job.source
        ? {
            sourceRecords: JSON.stringify(job.source.records),
            [TABLE.ttlAttribute]: expiresAt(this.#now(), INLINE_JOB_RETENTION_MS),
          }
        : { sourceBucket: job.source.bucket, sourceKey: job.source.key };
    const counters = Object.fromEntries(
      Object.values(OUTCOME_COUNTERS).map((counter) => [`${COUNT_PREFIX}${counter}`, 0]),
    );
    const created = await this.#conditional(
      new PutCommand({
        TableName: this.#table,
        Item: {
          ...jobKey(job.jobId),
          jobId: job.jobId,
          phase: JOB_PHASES.planning,
          format: job.format,
          ...source,
          dryRun: job.dryRun,
          mode: job.mode ?? DEFAULT_IMPORT_MODE,
          ...(job.exportedAt === undefined ? {} : { exportedAt: job.exportedAt }),
          providers: 0,
          clients: 0,
          rows: 0,
          invalid: 0,
          settled: 0,
          cursor: 0,
          ...counters,
          startedAt: at,
          updatedAt: at,
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
    if (created) {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: { pk: JOBS_INDEX_PK, sk: `${at}#${job.jobId}`, jobId: job.jobId },
        }),
      );
    }
    return created;
  }

  async get(jobId: string): Promise<Job | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: jobKey(jobId), ConsistentRead: true }),
    );
    return Item ? toJob(Item) : undefined;
  }

  async latest(): Promise<Job | undefined> {
    const { Items } = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': JOBS_INDEX_PK },
        ScanIndexForward: false,
        Limit: 1,
      }),
    );
    const jobId = Items?.[0]?.jobId;
    return typeof jobId === 'string' ? this.get(jobId) : undefined;
  }

  async finishPlanning(jobId: string, totals: JobTotals, next: JobPhase): Promise<boolean> {
    const at = this.#iso();
    return this.#conditional(
      new UpdateCommand({
        TableName: this.#table,
        Key: jobKey(jobId),
        UpdateExpression:
          'SET phase = :next, providers = :providers, clients = :clients, #rows = :rows, ' +
          'invalid = :invalid, #plan = :plan, #cursor = :zero, exportedAt = :exportedAt, ' +
          'updatedAt = :at, phaseStartedAt = :at' +
          (next === JOB_PHASES.completed ? ', completedAt = :at' : ''),
        ConditionExpression: 'phase = :planning',
        ExpressionAttributeNames: RESERVED_NAMES,
        ExpressionAttributeValues: {
          ':next': next,
          ':providers': totals.providers,
          ':clients': totals.clients,
          ':rows': totals.providers + totals.clients,
          ':invalid': totals.invalid,
          ':plan': totals.plan,
          ':exportedAt': totals.exportedAt,
          ':zero': 0,
          ':at': at,
          ':planning': JOB_PHASES.planning,
        },
      }),
    );
  }

  async savePlanning(jobId: string, cursor: number, plan: ImportPlan): Promise<boolean> {
    return this.#conditional(
      new UpdateCommand({
        TableName: this.#table,
        Key: jobKey(jobId),
        UpdateExpression: 'SET #cursor = :cursor, #plan = :plan, updatedAt = :at',
        ConditionExpression: 'phase = :planning AND #cursor < :cursor',
        ExpressionAttributeNames: {
          '#cursor': RESERVED_NAMES['#cursor'],
          '#plan': RESERVED_NAMES['#plan'],
        },
        ExpressionAttributeValues: {
          ':cursor': cursor,
          ':plan': plan,
          ':planning': JOB_PHASES.planning,
          ':at': this.#iso(),
        },
      }),
    );
  }

  async saveCursor(jobId: string, phase: FanOutPhase, cursor: number): Promise<boolean> {
    return this.#conditional(
      new UpdateCommand({
        TableName: this.#table,
        Key: jobKey(jobId),
        UpdateExpression: 'SET #cursor = :cursor, updatedAt = :at',
        // Only forward, and only in the phase the caller is fanning out.
        ConditionExpression: 'phase = :phase AND #cursor < :cursor',
        ExpressionAttributeNames: { '#cursor': RESERVED_NAMES['#cursor'] },
        ExpressionAttributeValues: { ':cursor': cursor, ':phase': phase, ':at': this.#iso() },
      }),
    );
  }

  async addOutcomes(jobId: string, counts: Partial<OutcomeCounts>): Promise<Job | undefined> {
    const entries = Object.entries(counts).filter(([, n]) => n !== undefined && n > 0) as [
      OutcomeCounter,
      number,
    ][];
    const settled = entries.reduce((sum, [, n]) => sum + n, 0);
    if (settled === 0) return this.get(jobId);
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':settled': settled, ':at': this.#iso() };
    const adds = ['settled :settled'];
    entries.forEach(([counter, n], index) => {
      names[`#c${index}`] = `${COUNT_PREFIX}${counter}`;
      values[`:c${index}`] = n;
      adds.push(`#c${index} :c${index}`);
    });
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: jobKey(jobId),
          UpdateExpression: `ADD ${adds.join(', ')} SET updatedAt = :at`,
          // Never conjure a job item out of a stray message of a deleted or unknown job.
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          // The whole item as written by this very update: the caller decides on the phase
          // move from the totals and the new settled count without a second (racy) read.
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? toJob(Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async advance(jobId: string, from: FanOutPhase): Promise<boolean> {
    const at = this.#iso();
    const toClients = from === JOB_PHASES.providers;
    return this.#conditional(
      new UpdateCommand({
        TableName: this.#table,
        Key: jobKey(jobId),
        // Leaving the provider phase also keeps its created and linked counts (for `auto`),
        // copied by the same write.
        UpdateExpression: toClients
          ? 'SET phase = :to, #cursor = :zero, updatedAt = :at, phaseStartedAt = :at, ' +
            `providersCreated = ${COUNT_PREFIX}created, providersLinked = ${COUNT_PREFIX}linked`
          : 'SET phase = :to, updatedAt = :at, completedAt = :at',
        // The phase it leaves (so one caller wins) and "every row of that phase settled": the
        // provider phase is done at `providers` settled rows, the client phase at all rows.
        ConditionExpression: `phase = :from AND settled >= ${toClients ? 'providers' : '#rows'}`,
        ExpressionAttributeNames: toClients
          ? { '#cursor': RESERVED_NAMES['#cursor'] }
          : { '#rows': RESERVED_NAMES['#rows'] },
        ExpressionAttributeValues: {
          ':from': from,
          ':to': toClients ? JOB_PHASES.clients : JOB_PHASES.completed,
          ':at': at,
          ...(toClients ? { ':zero': 0 } : {}),
        },
      }),
    );
  }

  async fail(jobId: string, reason: string): Promise<void> {
    const at = this.#iso();
    await this.#conditional(
      new UpdateCommand({
        TableName: this.#table,
        Key: jobKey(jobId),
        UpdateExpression:
          'SET phase = :failed, #error = :reason, updatedAt = :at, completedAt = :at',
        ConditionExpression: 'attribute_exists(pk) AND NOT phase IN (:completed, :failed)',
        ExpressionAttributeNames: { '#error': 'error' },
        ExpressionAttributeValues: {
          ':failed': JOB_PHASES.failed,
          ':completed': JOB_PHASES.completed,
          ':reason': reason,
          ':at': at,
        },
      }),
    );
  }

  async healRow(jobId: string, partnerUserId: string): Promise<boolean> {
    return this.#conditional(
      new UpdateCommand({
        TableName: this.#table,
        Key: jobKey(jobId),
        UpdateExpression:
          'ADD #failed :minusOne, #created :one, #healed :one, #ids :id SET updatedAt = :at',
        // No condition on the failed count: the row's own `failed` may not be flushed yet (it is
        // added when its invocation ends); the two `ADD`s meet whatever their order.
        ConditionExpression:
          'attribute_exists(pk) AND (attribute_not_exists(#ids) OR NOT contains(#ids, :partnerUserId))',
        ExpressionAttributeNames: {
          '#failed': `${COUNT_PREFIX}${OUTCOME_COUNTERS.failed}`,
          '#created': `${COUNT_PREFIX}${OUTCOME_COUNTERS.created}`,
          '#healed': HEALED_COUNT,
          '#ids': HEALED_IDS,
        },
        ExpressionAttributeValues: {
          ':minusOne': -1,
          ':one': 1,
          ':id': new Set([partnerUserId]),
          ':partnerUserId': partnerUserId,
          ':at': this.#iso(),
        },
      }),
    );
  }

  /** Sends a conditional write; a failed condition is the answer `false`, not an error. */
  async #conditional(command: PutCommand | UpdateCommand): Promise<boolean> {
    try {
      await this.#client.send(command as UpdateCommand);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  #iso(): string {
    return new Date(this.#now()).toISOString();
  }
}

/** The key of a job's ledger item. */
export function jobKey(jobId: string): { pk: string; sk: string } {
  return { pk: jobPk(jobId), sk: KEY.jobSk };
}

/** The Job of a stored item. */
function toJob(item: JobItem): Job {
  const counts = emptyCounts();
  for (const counter of Object.values(OUTCOME_COUNTERS)) {
    counts[counter] = Number(item[`${COUNT_PREFIX}${counter}`] ?? 0);
  }
  const source: JobSource =
    typeof item.sourceRecords === 'string'
      ? { records: JSON.parse(item.sourceRecords) as Record<string, unknown>[] }
      : { bucket: String(item.sourceBucket), key: String(item.sourceKey) };
  return {
    jobId: String(item.jobId),
    phase: item.phase as JobPhase,
    format: item.format as ImportFormat,
    source,
    dryRun: item.dryRun === true,
    mode: importModeOf(typeof item.mode === 'string' ? item.mode : undefined),
    exportedAt: typeof item.exportedAt === 'string' ? item.exportedAt : undefined,
    providers: Number(item.providers ?? 0),
    clients: Number(item.clients ?? 0),
    invalid: Number(item.invalid ?? 0),
    settled: Number(item.settled ?? 0),
    counts,
    healed: Number(item[HEALED_COUNT] ?? 0),
    providerPhaseCounts:
      item.providersCreated === undefined
        ? undefined
        : { created: Number(item.providersCreated), linked: Number(item.providersLinked ?? 0) },
    cursor: Number(item.cursor ?? 0),
    plan: item.plan as ImportPlan | undefined,
    error: item.error as string | undefined,
    startedAt: String(item.startedAt),
    updatedAt: String(item.updatedAt),
    phaseStartedAt: item.phaseStartedAt as string | undefined,
    completedAt: item.completedAt as string | undefined,
  };
}
