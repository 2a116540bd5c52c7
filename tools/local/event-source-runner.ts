/**
 * The local counterpart of one Lambda SQS event source mapping (queue → function). It emulates:
 * - long polling with up to `batchSize` messages per invocation (no batching window, so at most
 *   10, SQS's ReceiveMessage limit, as on AWS without `MaximumBatchingWindowInSeconds`);
 * - at most `maximumConcurrency` invocations in flight (ScalingConfig.MaximumConcurrency): one
 *   polling lane per allowed invocation, each receiving only when its previous batch is settled;
 * - `ReportBatchItemFailures`: after an invocation, the records the answer lets go are deleted,
 *   nothing else is touched. Failed records reappear when their visibility timeout ends (the
 *   handler may have changed it itself to defer them), and SQS's redrive policy moves a record to
 *   the DLQ after `maxReceiveCount` receives. fauxqs implements both, FIFO included, so the
 *   mapping never resets visibility or moves messages itself.
 * FIFO order within a message group holds because SQS hands out a group's messages only while
 * none of them is in flight, and each batch is settled before its lane receives again.
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { recordsToDelete, toSqsEvent } from '#tools/local/sqs-event.ts';
import type { InvokeOutcome } from '#tools/local/worker-pool.ts';

/** SQS returns at most 10 messages per ReceiveMessage. */
export const MAX_RECEIVE_BATCH = 10;
/** Lambda's pollers long-poll for the longest time SQS allows. */
export const DEFAULT_POLL_WAIT_SECONDS = 20;
/** Pause after a failed ReceiveMessage/DeleteMessageBatch before the lane tries again. */
const ERROR_BACKOFF_MS = 1_000;

/** Something that runs one invocation of the function (a WorkerPool). */
export interface Invoker {
  invoke(event: unknown): Promise<InvokeOutcome>;
}

/** What happened to one batch: for tests, diagnostics and the CLI's counters. */
export interface InvocationReport {
  readonly functionName: string;
  readonly queueArn: string;
  readonly event: SQSEvent;
  readonly outcome: InvokeOutcome;
  /** Message ids deleted after the invocation. */
  readonly deleted: readonly string[];
}

/** One event source mapping. */
export interface EventSourceOptions {
  readonly functionName: string;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly batchSize: number;
  readonly maximumConcurrency: number;
  readonly invoker: Invoker;
  /** ReceiveMessage WaitTimeSeconds; shorter only makes stopping faster, never changes delivery. */
  readonly pollWaitSeconds?: number;
  readonly onInvocation?: (report: InvocationReport) => void;
  /** Unexpected SQS errors (the lane backs off and continues). Defaults to stderr. */
  readonly onError?: (error: unknown) => void;
}

/** Polls one queue and feeds its function, until stopped. */
export class EventSourceRunner {
  readonly #options: EventSourceOptions;
  readonly #abort = new AbortController();
  #lanes: Promise<void>[] = [];

  constructor(options: EventSourceOptions) {
    if (options.batchSize < 1 || options.batchSize > MAX_RECEIVE_BATCH)
      throw new RangeError(`batchSize must be 1–${MAX_RECEIVE_BATCH} without a batching window`);
    if (options.maximumConcurrency < 1) throw new RangeError('maximumConcurrency must be ≥ 1');
    this.#options = options;
  }

  /** Starts the polling lanes. */
  start(): void {
    if (this.#lanes.length > 0) return;
    this.#lanes = Array.from({ length: this.#options.maximumConcurrency }, () => this.#lane());
  }

  /** Stops receiving at once (an open long poll is aborted); in-flight invocations continue. */
  stopPolling(): void {
    this.#abort.abort();
  }

  /** Stops receiving and resolves when every in-flight batch is settled. */
  async stop(): Promise<void> {
    this.stopPolling();
    await Promise.all(this.#lanes);
  }

  async #lane(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        const messages = await this.#receive(signal);
        if (messages.length > 0) await this.#process(messages);
      } catch (error) {
        if (signal.aborted) break;
        (this.#options.onError ?? defaultOnError)(error);
        await sleep(ERROR_BACKOFF_MS, signal);
      }
    }
  }

  async #receive(signal: AbortSignal): Promise<Message[]> {
    const { sqs, queueUrl, batchSize, pollWaitSeconds } = this.#options;
    const { Messages } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: batchSize,
        WaitTimeSeconds: pollWaitSeconds ?? DEFAULT_POLL_WAIT_SECONDS,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
      { abortSignal: signal },
    );
    return Messages ?? [];
  }

  async #process(messages: Message[]): Promise<void> {
    const { functionName, queueArn, region, invoker, onInvocation } = this.#options;
    const event = toSqsEvent(messages, queueArn, region);
    const outcome = await invoker.invoke(event);
    // A thrown error, a crash or a timeout fails the whole batch: nothing is deleted.
    const settled = outcome.kind === 'response' ? recordsToDelete(event, outcome.response) : [];
    await this.#delete(settled.map((record) => record.receiptHandle));
    onInvocation?.({
      functionName,
      queueArn,
      event,
      outcome,
      deleted: settled.map((record) => record.messageId),
    });
  }

  async #delete(receiptHandles: string[]): Promise<void> {
    if (receiptHandles.length === 0) return;
    const { Failed } = await this.#options.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: this.#options.queueUrl,
        Entries: receiptHandles.map((handle, index) => ({
          Id: String(index),
          ReceiptHandle: handle,
        })),
      }),
    );
    // An expired receipt handle (the invocation outlived the visibility timeout) fails here, as
    // on AWS: the message has been or will be delivered again.
    if (Failed && Failed.length > 0)
      (this.#options.onError ?? defaultOnError)(
        new Error(`DeleteMessageBatch failed for ${Failed.length} record(s): ${Failed[0]?.Code}`),
      );
  }
}

function defaultOnError(error: unknown): void {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  process.stderr.write(`[event-source] ${message}\n`);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
