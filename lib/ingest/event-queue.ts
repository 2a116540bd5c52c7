/**
 * Puts validated partner events on the user-events FIFO queue (`sync-user` consumes it).
 * The message group derives from the partner user id, so one user's events are applied in order;
 * the deduplication id derives from the event id (both in `#lib/sqs/message-ids.ts`), so a partner re-sending an event within SQS's five-minute
 * deduplication interval does not enqueue it twice (and `sync-user`'s versioning makes later
 * duplicates harmless).
 *
 * Events go out with SendMessageBatch, packed by SQS's limits (10 entries, total payload size).
 * Entries SQS reports as failed are retried a bounded number of times; sender faults (our
 * request was wrong) are not retried.
 */
import {
  SendMessageBatchCommand,
  type SendMessageBatchCommandInput,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { SQS_ID_LIMITS, sqsEventDeduplicationId, sqsGroupId } from '#lib/sqs/message-ids.ts';

/** SQS's limits for one SendMessageBatch call and for its ids. */
export const SQS_LIMITS = {
  entriesPerBatch: 10,
  /** Total payload of one batch (and so of one message); the historical 256 KiB limit, valid everywhere. */
  batchBytes: 262_144,
  /** Maximum length of a MessageGroupId or MessageDeduplicationId. */
  idLength: SQS_ID_LIMITS.maxLength,
} as const;

/** How hard to try before reporting an event as not enqueued. */
export const ENQUEUE_RETRY = { maxAttempts: 3, baseDelayMs: 100 } as const;

/** What the queue needs of an event. */
export interface QueueableEvent {
  readonly eventId: string;
  readonly partnerUserId: string;
  /** The message body: the event's JSON. */
  readonly body: string;
}

/** An event that could not be enqueued. */
export interface EnqueueFailure {
  /** Index into the array given to `enqueue`. */
  readonly index: number;
  readonly reason: string;
  /** SQS refused the message itself (a sender fault): sending it again cannot succeed. */
  readonly permanent: boolean;
}

/** Enqueues events; resolves with those that could not be enqueued after retries. */
export interface EventQueue {
  enqueue(events: readonly QueueableEvent[]): Promise<readonly EnqueueFailure[]>;
}

/** One SendMessageBatch call (the port the queue adapter is tested through). */
export type SendBatch = (
  input: SendMessageBatchCommandInput,
) => Promise<SendMessageBatchCommandOutput>;

/** The SendBatch of a real SQS client. */
export function sqsSendBatch(sqs: SQSClient): SendBatch {
  return (input) => sqs.send(new SendMessageBatchCommand(input));
}

/** Options of `sqsEventQueue`. */
export interface SqsEventQueueOptions {
  readonly sendBatch: SendBatch;
  readonly queueUrl: string;
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Bytes a message body counts towards SQS's size limits. */
export function messageBytes(body: string): number {
  return Buffer.byteLength(body, 'utf8');
}

/** The EventQueue on an SQS FIFO queue. */
export function sqsEventQueue(options: SqsEventQueueOptions): EventQueue {
  const maxAttempts = options.maxAttempts ?? ENQUEUE_RETRY.maxAttempts;
  const baseDelayMs = options.baseDelayMs ?? ENQUEUE_RETRY.baseDelayMs;
  const sleep = options.sleep ?? ((ms: number) => new Promise((done) => setTimeout(done, ms)));

  /** Sends one batch with retries; returns the failures, indexed into `events`. */
  const sendWithRetries = async (
    events: readonly QueueableEvent[],
    indexes: readonly number[],
  ): Promise<EnqueueFailure[]> => {
    let pending = [...indexes];
    let lastReason = new Map<number, string>();
    const permanent: EnqueueFailure[] = [];
    for (let attempt = 1; attempt <= maxAttempts && pending.length > 0; attempt++) {
      if (attempt > 1) await sleep(baseDelayMs * 2 ** (attempt - 2));
      // Entry ids only need to be unique within the batch; the event's index is.
      const entries: SendMessageBatchRequestEntry[] = pending.map((index) => {
        const event = events[index]!;
        return {
          Id: entryId(index),
          MessageBody: event.body,
          MessageGroupId: sqsGroupId(event.partnerUserId),
          MessageDeduplicationId: sqsEventDeduplicationId(event.eventId),
        };
      });
      let output: SendMessageBatchCommandOutput;
      try {
        output = await options.sendBatch({ QueueUrl: options.queueUrl, Entries: entries });
      } catch (error) {
        // The whole call failed (throttling, network, SQS 5xx): every entry is retried.
        const reason = `SendMessageBatch failed: ${error instanceof Error ? error.name : 'unknown error'}`;
        lastReason = new Map(pending.map((index) => [index, reason]));
        continue;
      }
      const { permanent: rejected, retry } = settleBatch(pending, output);
      permanent.push(...rejected);
      pending = pending.filter((index) => retry.has(index));
      lastReason = retry;
    }
    return [
      ...permanent,
      ...pending.map((index) => ({
        index,
        reason: lastReason.get(index) ?? 'not sent',
        permanent: false,
      })),
    ];
  };

  return {
    async enqueue(events) {
      // Batches go one after another: FIFO order within a message group is the order of sending,
      // and a request's events for one user must reach sync-user in the order the partner gave.
      const failures: EnqueueFailure[] = [];
      for (const batch of packBatches(events))
        failures.push(...(await sendWithRetries(events, batch)));
      return failures.sort((a, b) => a.index - b.index);
    },
  };
}

/** The entry id of the event at `index` (unique within a batch, as SQS requires). */
const entryId = (index: number): string => `e${index}`;

/**
 * Sorts a batch's entries by SQS's answer: failures SQS blames on the sender are permanent; other
 * failures are retried, and so is an entry in neither `Successful` nor `Failed` (SQS always lists
 * each; an entry it did not list is not assumed sent, so nothing is reported accepted that is not
 * on the queue).
 */
function settleBatch(
  indexes: readonly number[],
  output: SendMessageBatchCommandOutput,
): { permanent: EnqueueFailure[]; retry: Map<number, string> } {
  const succeeded = new Set((output.Successful ?? []).map((entry) => entry.Id));
  const failed = new Map((output.Failed ?? []).map((entry) => [entry.Id, entry]));
  const permanent: EnqueueFailure[] = [];
  const retry = new Map<number, string>();
  for (const index of indexes) {
    const id = entryId(index);
    const failure = failed.get(id);
    if (failure) {
      const reason = `SQS ${failure.Code ?? 'error'}`;
      if (failure.SenderFault) permanent.push({ index, reason, permanent: true });
      else retry.set(index, reason);
    } else if (!succeeded.has(id)) {
      retry.set(index, 'SQS reported no result');
    }
  }
  return { permanent, retry };
}

/** Groups event indexes into batches within SQS's entry-count and payload-size limits, in order. */
export function packBatches(events: readonly QueueableEvent[]): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let currentBytes = 0;
  events.forEach((event, index) => {
    const bytes = messageBytes(event.body);
    const full =
      current.length === SQS_LIMITS.entriesPerBatch || currentBytes + bytes > SQS_LIMITS.batchBytes;
    if (current.length > 0 && full) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(index);
    currentBytes += bytes;
  });
  if (current.length > 0) batches.push(current);
  return batches;
}
