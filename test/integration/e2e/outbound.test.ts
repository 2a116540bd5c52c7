/**
 * Outbound events on the local stack (SPEC §5.1), with the built functions in worker processes:
 * every outcome is announced exactly once with the right ids — also when a message is delivered
 * twice and when workers are killed mid-batch — an email change is announced as not applied, and
 * with invite sharing off no `inviteUrl` appears anywhere (outbound events, table, logs).
 */

import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { PartnerEvent } from '#lib/events/partner-event.ts';
import { clientEvent, deleted, providerEvent, providersChanged } from '#test/helpers/events.ts';
import { useLocalStack } from '#test/helpers/local-stack.ts';
import { waitForDrain } from '#tools/cli/drain.ts';
import { targetFromEnv } from '#tools/cli/target.ts';

/** Short visibility so messages of killed workers come back within the test. */
const VISIBILITY_SECONDS = 3;
const DRAIN_TIMEOUT_MS = 90_000;

const handle = useLocalStack({
  functions: ['sync-user', 'assign-providers'],
  queues: { visibilityTimeoutSeconds: VISIBILITY_SECONDS },
  env: {
    UPHEAL_RATE_LIMIT: '300',
    UPHEAL_RATE_WINDOW_SECONDS: '10',
    UPHEAL_RATE_JITTER_MS: '150',
    // A handful of users: one delete is a large share of them, which the guard would stage.
    DELETE_GUARD_MAX_SHARE: '1',
  },
});

interface Outbound {
  type: string;
  partnerUserId?: string;
  uphealUserId?: string;
  eventId?: string;
  inviteUrl?: string;
  unappliedFields?: string[];
  providerUserIds?: string[];
}

/** Publishes events to the user-events queue; `duplicate` sends each twice (new dedup ids). */
async function publish(events: readonly PartnerEvent[], duplicate = false): Promise<void> {
  const { stack, sqs } = handle;
  const bodies = duplicate ? [...events, ...events] : events;
  for (let start = 0; start < bodies.length; start += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: stack.queueUrls.userEvents,
        Entries: bodies.slice(start, start + 10).map((event, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify(event),
          MessageGroupId: event.partnerUserId,
          MessageDeduplicationId: `${event.eventId}-${start + index}`,
        })),
      }),
    );
  }
}

async function settle(): Promise<void> {
  const target = targetFromEnv({ ...process.env, ...handle.stack.env });
  try {
    await waitForDrain(target, ['userEvents', 'assignments'], () => {}, DRAIN_TIMEOUT_MS);
  } finally {
    target.close();
  }
}

/** Consumes every outbound event (a FIFO group's next message shows only once the last is deleted). */
async function takeOutbound(): Promise<Outbound[]> {
  const events: Outbound[] = [];
  const queueUrl = handle.stack.queueUrls.outbound;
  for (;;) {
    const { Messages = [] } = await handle.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) return events;
    for (const message of Messages) {
      events.push(JSON.parse(message.Body ?? '{}') as Outbound);
      await handle.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
  }
}

describe('outbound events', () => {
  it('announces each outcome once, names an email change, and never carries an invite URL when sharing is off', async () => {
    const created = providerEvent('p-out-1', 0);
    const second = providerEvent('p-out-2', 0);
    const emailChange = providerEvent(
      'p-out-1',
      1,
      { email: 'p-out-1-new@example.com' },
      'provider.updated',
    );
    const client = clientEvent('c-out-1', ['p-out-1', 'p-out-2'], 2);
    const reassigned = providersChanged('c-out-1', ['p-out-2'], 3);
    const removed = deleted('p-out-2', 4);
    await publish([created, second], true);
    await settle();
    await publish([emailChange, client]);
    await settle();
    await publish([reassigned]);
    await settle();
    await publish([removed]);
    await settle();

    const outbound = await takeOutbound();
    const of = (type: string, partnerUserId: string) =>
      outbound.filter((event) => event.type === type && event.partnerUserId === partnerUserId);
    const users = handle.stack.simulator!.users();
    const uphealId = (partnerUserId: string) =>
      users.find((u) => u.partnerUserId === partnerUserId)?.userId;

    expect(of('user.created', 'p-out-1')).toEqual([
      expect.objectContaining({ eventId: created.eventId, uphealUserId: uphealId('p-out-1') }),
    ]);
    expect(of('user.created', 'p-out-2')).toHaveLength(1);
    expect(of('user.updated', 'p-out-1')).toEqual([
      expect.objectContaining({ eventId: emailChange.eventId, unappliedFields: ['email'] }),
    ]);
    expect(of('user.created', 'c-out-1')).toHaveLength(1);
    const assignments = of('client.providers_assigned', 'c-out-1');
    expect(assignments.map((event) => event.providerUserIds?.length)).toEqual([2, 1]);
    expect(of('user.deleted', 'p-out-2')).toEqual([
      expect.objectContaining({ eventId: removed.eventId }),
    ]);

    expect(outbound.some((event) => 'inviteUrl' in event)).toBe(false);
    const { Items = [] } = await targetFromEnv({
      ...process.env,
      ...handle.stack.env,
    }).documents.send(new ScanCommand({ TableName: handle.stack.tableName }));
    expect(JSON.stringify(Items)).not.toMatch(/invite/i);
    expect(handle.logs.map((entry) => entry.line).join('\n')).not.toMatch(
      /app\.upheal\.io\/invite/,
    );
  });

  it('announces exactly one outcome per user when workers are killed mid-batch', async () => {
    const simulator = handle.stack.simulator!;
    // Slow Upheal down so the kill lands while calls are in flight.
    simulator.setFaults({ latencyMs: { min: 150, max: 150 } });
    const ids = Array.from({ length: 12 }, (_, index) => `p-crash-${index}`);
    await publish(ids.map((id) => providerEvent(id, 0)));
    await new Promise((resolve) => setTimeout(resolve, 700));
    const killed = handle.stack.workerPids();
    for (const pid of killed) process.kill(pid, 'SIGKILL');
    simulator.setFaults({ latencyMs: { min: 0, max: 0 } });
    await settle();

    const outbound = await takeOutbound();
    const users = simulator.users();
    for (const id of ids) {
      const announced = outbound.filter(
        (event) =>
          event.partnerUserId === id &&
          (event.type === 'user.created' || event.type === 'user.linked'),
      );
      const inUpheal = users.filter((user) => user.partnerUserId === id);
      expect(inUpheal, id).toHaveLength(1);
      expect(
        announced.map((event) => event.uphealUserId),
        id,
      ).toEqual([inUpheal[0]!.userId]);
    }
    expect(killed.length).toBeGreaterThan(0);
  });
});
