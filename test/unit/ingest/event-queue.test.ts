import type {
  SendMessageBatchCommandInput,
  SendMessageBatchCommandOutput,
} from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ENQUEUE_RETRY,
  packBatches,
  type QueueableEvent,
  SQS_LIMITS,
  sqsEventQueue,
} from '#lib/ingest/event-queue.ts';
import { sqsGroupId } from '#lib/sqs/message-ids.ts';

const QUEUE_URL = 'http://127.0.0.1:1/000000000000/upheal-sync-test-user-events.fifo';

function events(count: number, bodyBytes = 10): QueueableEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    eventId: `e-${i}`,
    partnerUserId: `u-${i % 3}`,
    body: 'x'.repeat(bodyBytes),
  }));
}

/**
 * A SendBatch that records calls and answers each with `answer(call number, input)`; entries the
 * answer lists in neither `Failed` nor `Successful` are reported successful, as SQS would.
 */
function scriptedSendBatch(
  answer: (
    call: number,
    input: SendMessageBatchCommandInput,
  ) => Partial<SendMessageBatchCommandOutput>,
) {
  const calls: SendMessageBatchCommandInput[] = [];
  const sendBatch = async (input: SendMessageBatchCommandInput) => {
    calls.push(input);
    const scripted = answer(calls.length, input);
    const failed = new Set((scripted.Failed ?? []).map((entry) => entry.Id));
    const successful = (input.Entries ?? [])
      .filter((entry) => !failed.has(entry.Id))
      .map((entry) => ({ Id: entry.Id, MessageId: `m-${entry.Id}`, MD5OfMessageBody: '' }));
    return {
      $metadata: {},
      Successful: successful,
      Failed: [],
      ...scripted,
    } as SendMessageBatchCommandOutput;
  };
  return { calls, sendBatch };
}

const noSleep = async () => {};

describe('packBatches', () => {
  it('packs at most 10 entries per batch, in order', () => {
    expect(packBatches(events(23))).toEqual([
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
      [10, 11, 12, 13, 14, 15, 16, 17, 18, 19],
      [20, 21, 22],
    ]);
  });

  it('never exceeds the batch payload limit', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: SQS_LIMITS.batchBytes }), { maxLength: 30 }),
        (sizes) => {
          const list = sizes.map((size, i) => ({
            eventId: `e-${i}`,
            partnerUserId: 'u',
            body: 'x'.repeat(size),
          }));
          const batches = packBatches(list);
          expect(batches.flat()).toEqual(list.map((_, i) => i));
          for (const batch of batches) {
            expect(batch.length).toBeLessThanOrEqual(SQS_LIMITS.entriesPerBatch);
            const bytes = batch.reduce((sum, i) => sum + sizes[i]!, 0);
            expect(bytes).toBeLessThanOrEqual(SQS_LIMITS.batchBytes);
          }
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe('sqsEventQueue', () => {
  it('sends FIFO entries with group = partner user id and deduplication id = event id', async () => {
    const { calls, sendBatch } = scriptedSendBatch(() => ({}));
    const queue = sqsEventQueue({ sendBatch, queueUrl: QUEUE_URL, sleep: noSleep });

    const failures = await queue.enqueue([
      { eventId: 'e-1', partnerUserId: 'c 1001', body: '{"a":1}' },
    ]);

    expect(failures).toEqual([]);
    expect(calls).toEqual([
      {
        QueueUrl: QUEUE_URL,
        Entries: [
          {
            Id: 'e0',
            MessageBody: '{"a":1}',
            MessageGroupId: sqsGroupId('c 1001'),
            MessageDeduplicationId: 'e-1',
          },
        ],
      },
    ]);
  });

  it('sends batches one after another so one user keeps the request order', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const scripted = scriptedSendBatch(() => ({}));
    const sendBatch = async (input: SendMessageBatchCommandInput) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((done) => setTimeout(done, 1));
      inFlight--;
      return scripted.sendBatch(input);
    };
    const failures = await sqsEventQueue({ sendBatch, queueUrl: QUEUE_URL }).enqueue(events(25));
    expect(failures).toEqual([]);
    expect(scripted.calls).toHaveLength(3);
    expect(maxInFlight).toBe(1);
  });

  it('retries only the entries SQS reported as failed, then succeeds', async () => {
    const { calls, sendBatch } = scriptedSendBatch((call) =>
      call === 1 ? { Failed: [{ Id: 'e3', Code: 'InternalError', SenderFault: false }] } : {},
    );
    const failures = await sqsEventQueue({
      sendBatch,
      queueUrl: QUEUE_URL,
      sleep: noSleep,
    }).enqueue(events(5));
    expect(failures).toEqual([]);
    expect(calls.map((call) => call.Entries?.map((entry) => entry.Id))).toEqual([
      ['e0', 'e1', 'e2', 'e3', 'e4'],
      ['e3'],
    ]);
  });

  it('gives up after the bounded number of attempts and reports those events with the reason', async () => {
    const slept: number[] = [];
    const { calls, sendBatch } = scriptedSendBatch((_, input) => ({
      Failed: (input.Entries ?? [])
        .filter((entry) => entry.Id === 'e1')
        .map((entry) => ({ Id: entry.Id, Code: 'ServiceUnavailable', SenderFault: false })),
    }));
    const queue = sqsEventQueue({
      sendBatch,
      queueUrl: QUEUE_URL,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });

    const failures = await queue.enqueue(events(3));

    expect(failures).toEqual([{ index: 1, reason: 'SQS ServiceUnavailable', permanent: false }]);
    expect(calls).toHaveLength(ENQUEUE_RETRY.maxAttempts);
    expect(slept).toEqual([ENQUEUE_RETRY.baseDelayMs, ENQUEUE_RETRY.baseDelayMs * 2]);
  });

  it('retries an entry SQS listed neither as successful nor as failed, instead of assuming it sent', async () => {
    const { calls, sendBatch } = scriptedSendBatch((call, input) =>
      call === 1
        ? {
            Successful: (input.Entries ?? [])
              .filter((entry) => entry.Id !== 'e1')
              .map((entry) => ({ Id: entry.Id, MessageId: 'm', MD5OfMessageBody: '' })),
          }
        : {},
    );
    const failures = await sqsEventQueue({
      sendBatch,
      queueUrl: QUEUE_URL,
      sleep: noSleep,
    }).enqueue(events(3));
    expect(failures).toEqual([]);
    expect(calls.map((call) => call.Entries?.map((entry) => entry.Id))).toEqual([
      ['e0', 'e1', 'e2'],
      ['e1'],
    ]);
  });

  it('does not retry an entry SQS rejected as the sender’s fault', async () => {
    const { calls, sendBatch } = scriptedSendBatch((call) =>
      call === 1
        ? { Failed: [{ Id: 'e0', Code: 'InvalidParameterValue', SenderFault: true }] }
        : {},
    );
    const failures = await sqsEventQueue({
      sendBatch,
      queueUrl: QUEUE_URL,
      sleep: noSleep,
    }).enqueue(events(2));
    expect(failures).toEqual([{ index: 0, reason: 'SQS InvalidParameterValue', permanent: true }]);
    expect(calls).toHaveLength(1);
  });

  it('retries a whole batch when the call itself fails, and reports the error name only', async () => {
    let call = 0;
    const sendBatch = async (): Promise<SendMessageBatchCommandOutput> => {
      call++;
      const error = new Error('connect ECONNREFUSED 127.0.0.1:1');
      error.name = 'TimeoutError';
      throw error;
    };
    const failures = await sqsEventQueue({
      sendBatch,
      queueUrl: QUEUE_URL,
      sleep: noSleep,
    }).enqueue(events(2));
    expect(call).toBe(ENQUEUE_RETRY.maxAttempts);
    expect(failures).toEqual([
      { index: 0, reason: 'SendMessageBatch failed: TimeoutError', permanent: false },
      { index: 1, reason: 'SendMessageBatch failed: TimeoutError', permanent: false },
    ]);
  });

  it('reports failures by index across batches', async () => {
    const { sendBatch } = scriptedSendBatch((_, input) => ({
      Failed: (input.Entries ?? [])
        .filter((entry) => entry.Id === 'e12')
        .map((entry) => ({ Id: entry.Id, Code: 'InternalError', SenderFault: false })),
    }));
    const failures = await sqsEventQueue({
      sendBatch,
      queueUrl: QUEUE_URL,
      sleep: noSleep,
    }).enqueue(events(15));
    expect(failures).toEqual([{ index: 12, reason: 'SQS InternalError', permanent: false }]);
  });
});
