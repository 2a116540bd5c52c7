/**
 * The SQS consumer shared by `sync-user` and `assign-providers`: Powertools' batch processor
 * answering with a partial batch response, with the records of different message groups run
 * concurrently (up to `recordsInParallel`, counted per queue: two in a new instance, more after
 * larger batches without refusals, fewer while records have to wait for limiter slots, down to
 * one for an import's records) and those of one group in order, a failure skipping the rest of
 * that group only (`group-order.ts`); plus the queue side of each record's outcome
 * (`outcome-policy.ts`): deferring without counting towards the dead-letter limit, counting real
 * failures and dead-lettering after the last one, and recording permanent failures. After a
 * refusal of a limiter slot, the instance sits out: the next records of that queue wait
 * in-process or are deferred unread (`capacity-gate.ts`), so instances the API cannot serve do
 * not poll DynamoDB; and its next import record of that queue awaits its turn at the limiter
 * before it reads the user's state, so a refusal that comes again costs no read of that state.
 *
 * Requires `ReportBatchItemFailures` on the event source mapping (serverless.yml does it).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  type MessageAttributeValue,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { HeldAtGateError, SlotUnavailableError } from '#lib/errors.ts';
import { callTimeNeededMs, type InvocationClock } from '#lib/limiter/guarded-upheal.ts';
import { AdaptiveParallelism, SLOT_OUTCOMES, type SlotOutcome } from '#lib/limiter/parallelism.ts';
import type { Logger } from '#lib/observability/logger.ts';
import { METRIC_NAMES, type Metrics, MetricUnit } from '#lib/observability/metrics.ts';
import { CapacityGate } from '#lib/sqs/capacity-gate.ts';
import { GroupOrder } from '#lib/sqs/group-order.ts';
import { backoff, decide, describeError } from '#lib/sqs/outcome-policy.ts';
import { QueueUrls } from '#lib/sqs/queue-urls.ts';
import type { FailureRecord } from '#lib/store/failure-store.ts';
import { MS_PER_SECOND } from '#lib/time.ts';

/** SQS accepts visibility timeouts up to 12 hours. */
const MAX_VISIBILITY_SECONDS = 43_200;
/** ChangeMessageVisibilityBatch takes at most 10 entries. */
const SQS_BATCH_LIMIT = 10;
/**
 * Records of one invocation run at once at most, by default (of different message groups; fewer
 * while records have to wait for limiter slots, see AdaptiveParallelism). Several records in
 * flight keep the API busy with few Lambda instances, and let the limiter book a lease of slots
 * for them with one write (docs/limits.md); more would mostly wait for slots.
 */
export const DEFAULT_RECORDS_IN_PARALLEL = 5;

/** Where failures and attempts are kept. */
export interface FailureSink {
  record(failure: Omit<FailureRecord, 'at'>): Promise<FailureRecord>;
  countAttempt(messageId: string): Promise<number>;
}

/** The work a consumer does per record, and how to describe a record in failure records. */
export interface RecordWork {
  /**
   * Applies one record; throws to let the outcome policy decide. `invocation` tells how much
   * time the Lambda invocation has left.
   */
  run(record: SQSRecord, invocation?: InvocationClock): Promise<void>;
  /** Ids and operation of a record, for failure records and logs (no clinical data). */
  describe(record: SQSRecord): Omit<FailureRecord, 'at' | 'reason' | 'status'>;
  /**
   * Whether a record is import work (the limiter's bulk lane), read before it runs. A batch of
   * import work only may run one record at a time (lib/limiter/parallelism.ts); without this,
   * every record counts as live work.
   */
  isImportWork?(record: SQSRecord): boolean;
  /** Called once a record has failed for good (e.g. to tell the partner). */
  onFailed?(failure: FailureRecord): Promise<void>;
}

/** How an import record awaits its turn at the limiter. */
export interface BulkTurn {
  /**
   * Resolves when an import call could book a limiter slot (RateLimiter `awaitTurn`), or throws
   * SlotUnavailableError.
   */
  readonly await: () => Promise<void>;
  /** The longest that `await` waits (out a 429's pause) before it resolves or throws. */
  readonly longestWaitMs: number;
}

/** The consumer's collaborators and limits. */
export interface ConsumerDeps {
  readonly sqs: SQSClient;
  readonly failures: FailureSink;
  readonly logger: Logger;
  /** Real (non-deferral) failed attempts before a message is dead-lettered. */
  readonly maxAttempts: number;
  /** How long a record may wait for a dependency before it fails. */
  readonly dependencyWaitMs: number;
  /** How long a create answered 409 may wait for Upheal's webhook before it fails. */
  readonly webhookWaitMs?: number | undefined;
  /** The queues' own dead-letter limit (maxReceiveCount), so a deferral never hits it silently. */
  readonly maxReceives?: number | undefined;
  /** Deferral after a 429 that came without Retry-After (the limiter pauses everyone meanwhile). */
  readonly rateLimitDeferMs?: number | undefined;
  /** Counts outcomes and applied latency; published at the end of each invocation. */
  readonly metrics?: Metrics | undefined;
  /** Most records of different message groups run at once (default DEFAULT_RECORDS_IN_PARALLEL). */
  readonly recordsInParallel?: number | undefined;
  readonly now?: () => number;
  /** Sleeps `ms` (a record waiting at the capacity gate); default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
  /**
   * How long the instance sits out after the limiter refused one of its records a slot (mean;
   * see CapacityGate). Default 0: only until the slot is expected.
   */
  readonly capacitySitOutMs?: number | undefined;
  /**
   * The invocation time one Upheal call needs (lib/runtime.ts `callGuardOf`): a record waits at
   * the capacity gate only if that much would be left after the wait, else it is deferred unread.
   */
  readonly callBudgetMs?: number | undefined;
  /** Uniform in [0, 1): the sit-out's spread and the retries' jitter; default Math.random. */
  readonly random?: () => number;
  /**
   * After a bulk refusal, the next import record of that queue awaits its turn before it reads
   * anything, so an instance the API still cannot serve is refused again without reading the
   * user's state. Without it, records never await a turn.
   */
  readonly bulkTurn?: BulkTurn | undefined;
}

/** Builds an SQS handler that processes each record with `work`. */
export function sqsConsumer(
  deps: ConsumerDeps,
  work: RecordWork,
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const now = deps.now ?? Date.now;
  const queues = new QueueUrls(deps.sqs);
  // Live as long as the Lambda instance, one per queue (a batch comes from one queue): each
  // invocation's deferrals tune the next one of its queue, so an import's refusals leave the
  // instance's live batches as they were.
  const parallelismByQueue = new Map<string, AdaptiveParallelism>();
  const parallelismOf = (queue: string): AdaptiveParallelism => {
    let parallelism = parallelismByQueue.get(queue);
    if (parallelism === undefined) {
      parallelism = new AdaptiveParallelism(deps.recordsInParallel ?? DEFAULT_RECORDS_IN_PARALLEL);
      parallelismByQueue.set(queue, parallelism);
    }
    return parallelism;
  };
  // Also per instance: a refusal of a slot holds back the next records of its queue.
  const random = deps.random ?? Math.random;
  const gate = new CapacityGate({ sitOutMs: deps.capacitySitOutMs ?? 0, random });
  // Per queue, the bulk refusals since one of its import records was last given its turn: while
  // there are any, its next import records await their turn before they read.
  const unproven = new Map<string, number>();
  const sleep =
    deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));

  return async (event, context) => {
    const processor = new BatchProcessor(EventType.SQS);
    // As the call guard counts it: a record waits at the gate only while a call could still
    // start after the wait.
    const callNeedsMs = callTimeNeededMs(
      deps.callBudgetMs ?? 0,
      context.getRemainingTimeInMillis(),
    );
    const parallelism = parallelismOf(event.Records[0]?.eventSourceARN ?? '');
    const importOnly =
      event.Records.length > 0 &&
      event.Records.every((record) => work.isImportWork?.(record) ?? false);
    const order = new GroupOrder(parallelism.forBatch(importOnly));
    const invocation: Invocation = {
      deps,
      work,
      queues,
      now,
      timed: new Set(),
      slots: SLOT_OUTCOMES.served,
      gate,
      parallelism,
      importOnly,
      unproven,
      random,
    };

    const recordHandler = async (record: SQSRecord): Promise<void> => {
      try {
        const queue = record.eventSourceARN;
        const timeLeftAfter = (waitMs: number) =>
          context.getRemainingTimeInMillis() - waitMs >= callNeedsMs;
        await passGate(gate, queue, now, sleep, timeLeftAfter);
        const refusals = unproven.get(queue);
        const { bulkTurn } = deps;
        // Without time for the await and a call after it, the record runs as it would without a
        // refusal (the call's own guard defers it if need be).
        if (
          bulkTurn !== undefined &&
          refusals !== undefined &&
          (work.isImportWork?.(record) ?? false) &&
          timeLeftAfter(bulkTurn.longestWaitMs)
        ) {
          await bulkTurn.await();
          // Refusals that came while it awaited its turn still count.
          if (unproven.get(queue) === refusals) unproven.delete(queue);
        }
        await work.run(record, context);
        count(deps, METRIC_NAMES.applied);
        const sent = Number(record.attributes.SentTimestamp);
        if (Number.isFinite(sent))
          count(deps, METRIC_NAMES.appliedLatency, now() - sent, MetricUnit.Milliseconds);
      } catch (error) {
        await settleFailure(error, record, invocation);
      }
    };

    const response = await processPartialResponse(
      event,
      (record: SQSRecord) =>
        order.run(record.attributes.MessageGroupId ?? record.messageId, () =>
          recordHandler(record),
        ),
      processor,
      { context, throwOnFullBatchFailure: false },
    );
    const skipped = event.Records.filter(
      (record) =>
        !invocation.timed.has(record.messageId) &&
        response.batchItemFailures.some((failure) => failure.itemIdentifier === record.messageId),
    );
    await releaseNow(deps.sqs, queues, skipped);
    parallelism.settle(invocation.slots, event.Records.length, importOnly);
    deps.metrics?.publishStoredMetrics();
    return response;
  };
}

/** What the records of one invocation share while their failures are settled. */
interface Invocation {
  readonly deps: ConsumerDeps;
  readonly work: RecordWork;
  readonly queues: QueueUrls;
  readonly now: () => number;
  /**
   * Records whose visibility the policy set; the others that fail were skipped by the FIFO
   * processor behind a failed record of their group and are released right away (in order).
   */
  readonly timed: Set<string>;
  /** Whether a record was deferred for want of a limiter slot, and whether for the bulk lane. */
  slots: SlotOutcome;
  /** This instance's capacity gate (told of every refusal of a slot). */
  readonly gate: CapacityGate;
  /** How many records this instance runs at once from the batch's queue (sits out at the fewest). */
  readonly parallelism: AdaptiveParallelism;
  /** Whether every record of the batch is import work (it may then run one at a time). */
  readonly importOnly: boolean;
  /** Bulk refusals per queue since an import record was last given its turn (told of each). */
  readonly unproven: Map<string, number>;
  /** Uniform in [0, 1), for the retries' jitter. */
  readonly random: () => number;
}

/**
 * Lets a record start once its queue's capacity gate is open: waits out a short closure once,
 * and throws HeldAtGateError (deferring the record unread until the closure ends) for a longer
 * one, for one the invocation has no time to wait out (`timeLeftAfter`: a call could no longer
 * start; the record would be read only to be deferred), or for one that another refusal
 * extended while this record waited.
 */
async function passGate(
  gate: CapacityGate,
  queue: string,
  now: () => number,
  sleep: (ms: number) => Promise<void>,
  timeLeftAfter: (waitMs: number) => boolean,
): Promise<void> {
  const first = gate.admit(queue, now());
  if (first.action === 'run') return;
  if (first.action === 'wait' && timeLeftAfter(first.ms)) {
    await sleep(first.ms);
    const again = gate.admit(queue, now());
    if (again.action === 'run') return;
    throw new HeldAtGateError(again.ms);
  }
  throw new HeldAtGateError(first.ms);
}

/** Adds one metric value, when the consumer publishes metrics. */
function count(
  deps: ConsumerDeps,
  name: string,
  value = 1,
  unit: (typeof MetricUnit)[keyof typeof MetricUnit] = MetricUnit.Count,
): void {
  deps.metrics?.addMetric(name, unit, value);
}

/**
 * Applies the policy's decision to a record whose work threw: defers or retries it (rethrowing,
 * so the batch response returns it) or dead-letters it, records the failure and tells the work.
 */
async function settleFailure(error: unknown, record: SQSRecord, run: Invocation): Promise<void> {
  const { deps, work, queues, now, random } = run;
  const ids = work.describe(record);
  const firstReceived = Number(record.attributes.ApproximateFirstReceiveTimestamp);
  const receives = Number(record.attributes.ApproximateReceiveCount) || 1;
  const decision = decide(error, {
    receives,
    waitedMs: Number.isFinite(firstReceived) ? now() - firstReceived : 0,
    dependencyWaitMs: deps.dependencyWaitMs,
    ...(deps.webhookWaitMs === undefined ? {} : { webhookWaitMs: deps.webhookWaitMs }),
    ...(deps.maxReceives === undefined ? {} : { receivesLeft: deps.maxReceives - receives }),
    ...(deps.rateLimitDeferMs === undefined ? {} : { rateLimitDeferMs: deps.rateLimitDeferMs }),
  });
  const setVisibility = async (delayMs: number): Promise<void> => {
    await deps.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: await queues.urlOf(record.eventSourceARN),
        ReceiptHandle: record.receiptHandle,
        VisibilityTimeout: toVisibilitySeconds(delayMs),
      }),
    );
    run.timed.add(record.messageId);
  };
  if (decision.action === 'defer') {
    if (decision.forCapacity) {
      const bulk = error instanceof SlotUnavailableError && error.bulk;
      if (bulk) {
        run.unproven.set(record.eventSourceARN, (run.unproven.get(record.eventSourceARN) ?? 0) + 1);
      }
      if (bulk && run.importOnly) run.slots = SLOT_OUTCOMES.refusedBulk;
      else if (run.slots === SLOT_OUTCOMES.served) run.slots = SLOT_OUTCOMES.refused;
      // A bulk refusal at the fewest records sits out; any other closes the queue only until its
      // slot (a record held at the gate: the closure it was held by).
      const sitOut = bulk && run.parallelism.atFewest(run.importOnly);
      run.gate.refused(record.eventSourceARN, now(), decision.delayMs, sitOut);
    }
    count(deps, METRIC_NAMES.deferred);
    deps.logger.debug('deferred', {
      ...ids,
      delayMs: decision.delayMs,
      error: describeError(error),
    });
    await setVisibility(decision.delayMs);
    throw error;
  }
  if (decision.action === 'retry') {
    const attempts = await deps.failures.countAttempt(record.messageId);
    if (attempts < deps.maxAttempts) {
      deps.logger.warn('retrying', { ...ids, attempts, error: describeError(error) });
      await setVisibility(backoff(attempts, random));
      throw error;
    }
    await deadLetter(deps.sqs, queues, record);
    const failure = await deps.failures.record({
      ...ids,
      reason: `dead-lettered after ${attempts} attempts: ${describeError(error)}`,
    });
    deps.logger.error('dead-lettered', { ...ids, attempts, error: describeError(error) });
    count(deps, METRIC_NAMES.failed);
    await work.onFailed?.(failure);
    return;
  }
  if (decision.deadLetter) await deadLetter(deps.sqs, queues, record);
  const failure = await deps.failures.record({
    ...ids,
    reason: decision.reason,
    status: decision.status,
  });
  deps.logger.error('failed', { ...ids, status: decision.status, reason: decision.reason });
  count(deps, METRIC_NAMES.failed);
  await work.onFailed?.(failure);
}

/** Makes skipped records visible again at once; FIFO order keeps them behind the failed one. */
async function releaseNow(sqs: SQSClient, queues: QueueUrls, records: SQSRecord[]): Promise<void> {
  for (let start = 0; start < records.length; start += SQS_BATCH_LIMIT) {
    const chunk = records.slice(start, start + SQS_BATCH_LIMIT);
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: await queues.urlOf(chunk[0]!.eventSourceARN),
        Entries: chunk.map((record, index) => ({
          Id: String(index),
          ReceiptHandle: record.receiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
  }
}

/** Sends a copy of the record to its queue's DLQ (the caller then acknowledges the original). */
async function deadLetter(sqs: SQSClient, queues: QueueUrls, record: SQSRecord): Promise<void> {
  const messageAttributes: Record<string, MessageAttributeValue> = {};
  for (const [name, value] of Object.entries(record.messageAttributes)) {
    messageAttributes[name] = { DataType: value.dataType, StringValue: value.stringValue };
  }
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: await queues.deadLetterUrlOf(record.eventSourceARN),
      MessageBody: record.body,
      MessageAttributes: messageAttributes,
      MessageGroupId: record.attributes.MessageGroupId,
      MessageDeduplicationId: record.messageId,
    }),
  );
}

/** Whole seconds for ChangeMessageVisibility, within SQS's bounds. */
export function toVisibilitySeconds(delayMs: number): number {
  return Math.min(MAX_VISIBILITY_SECONDS, Math.max(0, Math.ceil(delayMs / MS_PER_SECOND)));
}
