/**
 * The ongoing sync end to end on the local stack (issue 4): partner events are published to the
 * user-events FIFO queue (group = partner user id, deduplication id = event id, as `ingest` does),
 * and the built `sync-user` and `assign-providers` bundles run in worker processes fed by the
 * Lambda-like event sources, against the Upheal simulator. Each test waits for the queues to drain
 * and then looks at what Upheal and the mapping table hold.
 */
import { GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartnerEvent } from '#lib/events/partner-event.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { clientEvent, deleted, providerEvent } from '#test/helpers/events.ts';
import { useLocalStack, waitFor } from '#test/helpers/local-stack.ts';
import { waitForDrain } from '#tools/cli/drain.ts';
import { type Target, targetFromEnv } from '#tools/cli/target.ts';

/** A crashed invocation's messages come back after this (short, so the test is quick). */
const VISIBILITY_SECONDS = 4;
/** How long a client waits for its provider before it fails (short, so the test is quick). */
const DEPENDENCY_WAIT_SECONDS = 2;
/** Upper bound for one scenario's queues to drain (deferrals come back after 5–10 s). */
const DRAIN_TIMEOUT_MS = 45_000;
/**
 * Latency of every Upheal answer while a worker is to be killed mid-call: long enough to catch a
 * create in flight, short enough that the check and the create both fit in the first half of the
 * 3 s invocation (the deadline guard defers a call that could outlive it).
 */
const KILL_LATENCY_MS = 600;

const handle = useLocalStack({
  functions: ['sync-user', 'assign-providers'],
  env: {
    DEPENDENCY_WAIT_SECONDS: String(DEPENDENCY_WAIT_SECONDS),
    // A handful of users: the default share (10 %) would stage every delete for an operator.
    DELETE_GUARD_MAX_SHARE: '1',
    UPHEAL_RATE_LIMIT: '300',
    UPHEAL_RATE_WINDOW_SECONDS: '10',
    UPHEAL_RATE_JITTER_MS: '150',
  },
  queues: {
    queues: {
      userEvents: { visibilityTimeoutSeconds: VISIBILITY_SECONDS },
      assignments: { visibilityTimeoutSeconds: VISIBILITY_SECONDS },
    },
  },
  timeoutSeconds: {
    'sync-user': VISIBILITY_SECONDS - 1,
    'assign-providers': VISIBILITY_SECONDS - 1,
  },
});

let target: Target;
let mappings: DynamoMappingStore;

beforeAll(() => {
  target = targetFromEnv({ ...process.env, ...handle.stack.env });
  mappings = new DynamoMappingStore({ client: target.documents, tableName: target.tableName });
});

afterAll(() => {
  target?.close();
});

/** Publishes events as a partner (or `ingest`) does; `dedupSuffix` makes a second copy distinct. */
async function publish(events: readonly PartnerEvent[], dedupSuffix = ''): Promise<void> {
  for (const event of events) {
    await handle.sqs.send(
      new SendMessageCommand({
        QueueUrl: handle.stack.queueUrls.userEvents,
        MessageBody: JSON.stringify(event),
        MessageGroupId: event.partnerUserId,
        MessageDeduplicationId: `${event.eventId}${dedupSuffix}`,
      }),
    );
  }
}

async function drained(): Promise<void> {
  await waitForDrain(target, ['userEvents', 'assignments'], () => {}, DRAIN_TIMEOUT_MS);
}

/** The simulator's users of one partner id. */
function uphealUsers(partnerUserId: string) {
  return handle.stack.simulator!.users().filter((user) => user.partnerUserId === partnerUserId);
}

async function dlqDepth(sqs: SQSClient, url: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: url,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

describe('ongoing sync on the local stack', () => {
  it('creates one user when one event is delivered twice (two messages, two dedup ids)', async () => {
    const event = providerEvent('e2e-p-dup', 0);
    await publish([event]);
    await publish([event], '-again');
    await drained();
    expect(uphealUsers('e2e-p-dup')).toHaveLength(1);
    expect(await mappings.get('e2e-p-dup')).toMatchObject({
      state: 'active',
      uphealUserId: uphealUsers('e2e-p-dup')[0]!.userId,
    });
  });

  it('links an Upheal user that already has the email instead of creating another', async () => {
    const [existing] = handle.stack.simulator!.seedUsers({
      userType: 'HealthcareProvider',
      firstName: 'Already',
      lastName: 'There',
      email: 'e2e-p-exists@example.com',
    });
    await publish([providerEvent('e2e-p-exists', 0)]);
    await drained();
    const sameEmail = handle.stack
      .simulator!.users()
      .filter((user) => user.email === 'e2e-p-exists@example.com');
    expect(sameEmail.map((user) => user.userId)).toEqual([existing!.userId]);
    expect((await mappings.get('e2e-p-exists'))?.uphealUserId).toBe(existing!.userId);
  });

  it('creates the user from an update that arrives before its create, and drops the older create', async () => {
    await publish([
      providerEvent('e2e-p-early', 2, { lastName: 'Updated' }, 'provider.updated'),
      providerEvent('e2e-p-early', 1, { lastName: 'Created' }),
    ]);
    await drained();
    expect(uphealUsers('e2e-p-early')).toEqual([expect.objectContaining({ lastName: 'Updated' })]);
  });

  it('does not resurrect a deleted user when a stale create arrives after the delete', async () => {
    await publish([providerEvent('e2e-p-del', 0)]);
    await drained();
    expect(uphealUsers('e2e-p-del')).toHaveLength(1);
    await publish([deleted('e2e-p-del', 5), providerEvent('e2e-p-del', 3)]);
    await drained();
    expect(uphealUsers('e2e-p-del')).toEqual([]);
    expect((await mappings.get('e2e-p-del'))?.state).toBe('deleted');
  });

  it('neither loses nor duplicates users when the workers are killed while Upheal creates them', async () => {
    const ids = ['e2e-p-kill-1', 'e2e-p-kill-2', 'e2e-p-kill-3'];
    const simulator = handle.stack.simulator!;
    const from = simulator.arrivals().length;
    simulator.setFaults({ latencyMs: { min: KILL_LATENCY_MS, max: KILL_LATENCY_MS } });
    try {
      await publish(ids.map((id) => providerEvent(id, 0)));
      // Kill every worker once a create has reached Upheal and is still unanswered: Upheal
      // creates the user, the worker never stores the mapping.
      await waitFor(
        () =>
          simulator
            .arrivals(from)
            .some((arrival) => arrival.route === 'createProvider' && arrival.status === 0),
        { timeoutMs: 20_000, intervalMs: 20 },
      );
      const killed = handle.stack.workerPids();
      for (const pid of killed) process.kill(pid, 'SIGKILL');
      expect(killed.length).toBeGreaterThan(0);
    } finally {
      simulator.setFaults({ latencyMs: { min: 0, max: 0 } });
    }
    await drained();
    for (const id of ids) {
      expect(uphealUsers(id), id).toHaveLength(1);
      expect((await mappings.get(id))?.uphealUserId, id).toBe(uphealUsers(id)[0]!.userId);
    }
    // The killed create took effect in Upheal; its redelivery found the user by email and linked it.
    const linked = handle.logs.filter(
      (entry) =>
        entry.line.includes('"outcome":"linked"') &&
        ids.some((id) => entry.line.includes(`"${id}"`)),
    );
    expect(linked.length).toBeGreaterThan(0);
    expect(await dlqDepth(handle.sqs, handle.stack.dlqUrls.userEvents)).toBe(0);
  });

  it('gives a client with two providers the full list in Upheal, primary first', async () => {
    await publish([providerEvent('e2e-p-a', 0), providerEvent('e2e-p-b', 0)]);
    await publish([clientEvent('e2e-c-two', ['e2e-p-b', 'e2e-p-a'], 1)]);
    await drained();
    const [client] = uphealUsers('e2e-c-two');
    expect(client?.providerUserIds).toEqual([
      uphealUsers('e2e-p-b')[0]!.userId,
      uphealUsers('e2e-p-a')[0]!.userId,
    ]);
  });

  it('waits for an unmapped primary provider, then records a failure naming it', async () => {
    const event = clientEvent('e2e-c-orphan', ['e2e-p-never'], 0);
    await publish([event]);
    await drained();
    expect(uphealUsers('e2e-c-orphan')).toEqual([]);
    const failures = await new DynamoFailureStore(target.documents, target.tableName).list();
    expect(failures.find((failure) => failure.eventId === event.eventId)).toMatchObject({
      partnerUserId: 'e2e-c-orphan',
      operation: 'client.created',
      reason: expect.stringMatching(/^gave up waiting: .*e2e-p-never/),
    });
    expect(await dlqDepth(handle.sqs, handle.stack.dlqUrls.userEvents)).toBe(0);
  });
});
