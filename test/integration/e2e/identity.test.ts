/**
 * Identity and field safety on the local stack, with the built functions in worker processes and
 * the simulator enforcing unique emails: a family email and a client given its therapist's email
 * leave both Upheal accounts untouched and fail the second partner user with a reason code on
 * the outbound queue; a provider's pronoun and date of birth reach Upheal.
 */
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import type { PartnerEvent } from '#lib/events/partner-event.ts';
import { clientEvent, providerEvent } from '#test/helpers/events.ts';
import { useLocalStack } from '#test/helpers/local-stack.ts';
import { waitForDrain } from '#tools/cli/drain.ts';
import { targetFromEnv } from '#tools/cli/target.ts';

const DRAIN_TIMEOUT_MS = 90_000;

const handle = useLocalStack({
  functions: ['sync-user', 'assign-providers'],
  queues: { visibilityTimeoutSeconds: 3 },
  env: { UPHEAL_RATE_LIMIT: '300', UPHEAL_RATE_WINDOW_SECONDS: '10' },
});

interface Outbound {
  type: string;
  partnerUserId?: string;
  reason?: string;
}

/** Publishes events to the user-events queue, grouped by partner user. */
async function publish(events: readonly PartnerEvent[]): Promise<void> {
  await handle.sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: handle.stack.queueUrls.userEvents,
      Entries: events.map((event, index) => ({
        Id: String(index),
        MessageBody: JSON.stringify(event),
        MessageGroupId: event.partnerUserId,
        MessageDeduplicationId: event.eventId,
      })),
    }),
  );
  const target = targetFromEnv({ ...process.env, ...handle.stack.env });
  try {
    await waitForDrain(target, ['userEvents', 'assignments'], () => {}, DRAIN_TIMEOUT_MS);
  } finally {
    target.close();
  }
}

/** Consumes every outbound event. */
async function takeOutbound(): Promise<Outbound[]> {
  const events: Outbound[] = [];
  const queueUrl = handle.stack.queueUrls.outbound;
  for (;;) {
    const { Messages = [] } = await handle.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }),
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

describe('identity on the local stack', () => {
  it('leaves both accounts untouched for a shared email and fails the second partner user clearly', async () => {
    await publish([
      providerEvent('p-e2e-family', 0),
      providerEvent('p-e2e-therapist', 0, { email: 'therapist-e2e@example.com' }),
      providerEvent('p-e2e-pronoun', 0, { pronoun: 'FeminineHer', dateOfBirth: '1970-03-04' }),
    ]);
    await publish([
      clientEvent('c-e2e-parent', ['p-e2e-family'], 1, { email: 'family-e2e@example.com' }),
    ]);
    const simulator = handle.stack.simulator!;
    const before = structuredClone(simulator.users());

    await publish([
      clientEvent('c-e2e-child', ['p-e2e-family'], 2, {
        email: 'family-e2e@example.com',
        firstName: 'Child',
      }),
      clientEvent('c-e2e-therapist-email', ['p-e2e-therapist'], 2, {
        email: 'therapist-e2e@example.com',
      }),
    ]);

    const outbound = await takeOutbound();
    const failure = (partnerUserId: string) =>
      outbound.find((e) => e.type === 'user.failed' && e.partnerUserId === partnerUserId);
    expect(failure('c-e2e-child')?.reason).toMatch(
      /^email_owned_by_other_partner_user: .*client c-e2e-parent/,
    );
    expect(failure('c-e2e-therapist-email')?.reason).toMatch(
      /^email_owned_by_other_partner_user: .*provider p-e2e-therapist/,
    );
    const after = simulator.users();
    for (const id of ['c-e2e-parent', 'p-e2e-therapist']) {
      expect(after.find((u) => u.partnerUserId === id)).toEqual(
        before.find((u) => u.partnerUserId === id),
      );
    }
    expect(after.some((u) => u.partnerUserId?.startsWith('c-e2e-child'))).toBe(false);
    expect(after.find((u) => u.partnerUserId === 'p-e2e-pronoun')).toMatchObject({
      pronoun: 'FeminineHer',
      dateOfBirth: '1970-03-04',
    });
    const logs = handle.logs.map((entry) => entry.line).join('\n');
    expect(logs).not.toMatch(/family-e2e|therapist-e2e/);
  });
});
