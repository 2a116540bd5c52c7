/**
 * Every queue the product sends to carries any partner id the contract accepts: ids with spaces,
 * letters beyond ASCII and the full 128 characters reach fauxqs from ingest's queue adapter,
 * `send-events`, the import fan-out, the assignment queue and the outbound queue, with group and
 * deduplication ids inside SQS's rules (fauxqs does not check those, so the test reads them back)
 * and one partner id always in one group.
 */
import { randomUUID } from 'node:crypto';
import { DeleteMessageCommand, type Message, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueKey } from '#infra/resources.ts';
import { type PartnerEvent, parsePartnerEvent } from '#lib/events/partner-event.ts';
import { sqsEventQueue, sqsSendBatch } from '#lib/ingest/event-queue.ts';
import { SqsImportQueue } from '#lib/jobs/import-queue.ts';
import { DynamoJobStore } from '#lib/jobs/job-store.ts';
import { SqsOutboundPublisher } from '#lib/outbound/outbound-events.ts';
import { SQS_ID_PATTERN, sqsGroupId } from '#lib/sqs/message-ids.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { SqsAssignmentQueue } from '#lib/sync/assignment-queue.ts';
import { DynamoStagedDeletes } from '#lib/sync/staged-deletes.ts';
import { type SyncFixture, startSyncFixture } from '#test/helpers/sync-fixture.ts';
import { publishEvents } from '#tools/cli/commands/send-events.ts';
import type { Target } from '#tools/cli/target.ts';

/** Partner ids the contract accepts that SQS would refuse as group ids. */
const HOSTILE_IDS = ['c 1001', 'ü-1', `${'Ω'.repeat(60)} ${'z'.repeat(67)}`] as const;

let fixture: SyncFixture;

beforeAll(async () => {
  fixture = await startSyncFixture();
});

afterAll(async () => {
  await fixture?.stop();
});

/** Receives and deletes every message now on a queue (FIFO hands out a group's next only then). */
async function receiveAll(key: QueueKey): Promise<Message[]> {
  const all: Message[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await fixture.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: fixture.queues.queueUrls[key],
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) empty += 1;
    all.push(...Messages);
    for (const message of Messages) {
      await fixture.sqs.send(
        new DeleteMessageCommand({
          QueueUrl: fixture.queues.queueUrls[key],
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
    }
  }
  return all;
}

/** Group and deduplication ids of the messages received, checked against SQS's rules. */
function idsOf(messages: readonly Message[]) {
  return messages.map((message) => {
    const group = message.Attributes?.MessageGroupId ?? '';
    const dedup = message.Attributes?.MessageDeduplicationId ?? '';
    expect(group).toMatch(SQS_ID_PATTERN);
    expect(dedup).toMatch(SQS_ID_PATTERN);
    return group;
  });
}

/** A valid `user.deleted` event of `partnerUserId` with a fresh, hostile-looking event id. */
function deletedEvent(partnerUserId: string): PartnerEvent {
  return parsePartnerEvent({
    eventId: `évt ${randomUUID()}`,
    type: 'user.deleted',
    occurredAt: '2026-11-27T10:00:00.000Z',
    partnerUserId,
  });
}

describe('SQS group and deduplication ids of hostile partner ids', () => {
  it('are valid on the user-events queue from ingest and from send-events alike', async () => {
    const queue = sqsEventQueue({
      sendBatch: sqsSendBatch(fixture.sqs),
      queueUrl: fixture.queues.queueUrls.userEvents,
    });
    const viaIngest = HOSTILE_IDS.map(deletedEvent);
    const failures = await queue.enqueue(
      viaIngest.map((event) => ({ ...event, body: JSON.stringify(event) })),
    );
    expect(failures).toEqual([]);
    const target: Target = {
      tableName: fixture.tableName,
      sqs: fixture.sqs,
      documents: fixture.documents,
      jobs: new DynamoJobStore(fixture.documents, fixture.tableName),
      failures: new DynamoFailureStore(fixture.documents, fixture.tableName),
      stagedDeletes: new DynamoStagedDeletes(fixture.documents, fixture.tableName),
      queueUrl: (key) => fixture.queues.queueUrls[key],
      controlQueue: () => {
        throw new Error('no import-control queue in this test');
      },
      close: () => {},
    };
    await publishEvents(target, HOSTILE_IDS.map(deletedEvent));

    const messages = await receiveAll('userEvents');
    const groups = idsOf(messages);
    expect(groups.sort()).toEqual(
      [...HOSTILE_IDS, ...HOSTILE_IDS].map((id) => sqsGroupId(id)).sort(),
    );
  });

  it('are valid on the import, assignment and outbound queues, one group per partner id', async () => {
    const jobId = `job-${randomUUID()}`;
    await new SqsImportQueue(fixture.sqs, fixture.queues.queueUrls.imports).sendBatch(
      jobId,
      '2026-11-27T10:00:00.000Z',
      HOSTILE_IDS.map((partnerUserId, index) => ({
        line: index + 2,
        record: {
          kind: 'client' as const,
          partnerUserId,
          fields: { firstName: 'Ana', lastName: 'Ruiz', providerPartnerUserIds: ['ü-1'] },
        },
      })),
    );
    const assignments = new SqsAssignmentQueue(fixture.sqs, fixture.queues.queueUrls.assignments);
    const outbound = new SqsOutboundPublisher(fixture.sqs, fixture.queues.queueUrls.outbound);
    for (const partnerUserId of HOSTILE_IDS) {
      await assignments.enqueue(partnerUserId, { eventId: `évt ${randomUUID()}` });
      await outbound.publish({
        type: 'user.failed',
        partnerUserId,
        eventId: `évt ${randomUUID()}`,
        operation: 'user.deleted',
        reason: 'test',
        occurredAt: new Date().toISOString(),
      });
    }

    const expected = HOSTILE_IDS.map((id) => sqsGroupId(id)).sort();
    for (const key of ['imports', 'assignments', 'outbound'] as const) {
      expect(idsOf(await receiveAll(key)).sort()).toEqual(expected);
    }
  });
});
