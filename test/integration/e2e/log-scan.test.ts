/**
 * No clinical data and no secret in any log line (SPEC §10): runs the built functions on the
 * local stack with events full of names, emails, phone numbers and dates of birth — including
 * invalid events and failures, whose error paths are where data tends to leak — captures every
 * line every worker printed, and searches it for each of those values, the API key and the
 * providers' invite URLs. The failure records in DynamoDB are searched too.
 */
import { readFileSync } from 'node:fs';
import { ReceiveMessageCommand, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { clientEvent, deleted, providerEvent } from '#test/helpers/events.ts';
import { useLocalStack } from '#test/helpers/local-stack.ts';
import { waitForDrain } from '#tools/cli/drain.ts';
import { targetFromEnv } from '#tools/cli/target.ts';

const API_KEY = 'log-scan-secret-api-key-0123456789';

const handle = useLocalStack({
  functions: ['sync-user', 'assign-providers'],
  uphealApiKey: API_KEY,
  simulator: { apiKeys: [API_KEY] },
  env: {
    SHARE_INVITE_URL: 'true',
    DEPENDENCY_WAIT_SECONDS: '2',
    UPHEAL_RATE_LIMIT: '300',
    UPHEAL_RATE_WINDOW_SECONDS: '10',
    UPHEAL_RATE_JITTER_MS: '150',
  },
});

/** Every string value inside the events' `data`: the clinical data this test must not find. */
function sensitiveValues(bodies: readonly string[]): string[] {
  const values = new Set<string>();
  const walk = (value: unknown) => {
    if (typeof value === 'string') values.add(value);
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') Object.values(value).forEach(walk);
  };
  for (const body of bodies) {
    try {
      const event = JSON.parse(body) as {
        data?: { providerPartnerUserIds?: unknown } & Record<string, unknown>;
      };
      const {
        providerPartnerUserIds: _ids,
        defaultNoteTemplateIds: _templates,
        ...data
      } = event.data ?? {};
      walk(data);
    } catch {
      values.add(body);
    }
  }
  // Short enumerations (pronouns, note identifiers, locales) are not personal data.
  return [...values].filter(
    (value) =>
      value.length >= 6 && !/^[A-Z][a-zA-Z]+$/.test(value) && !/^[a-z]{2}-[A-Z]{2}$/.test(value),
  );
}

describe('logs of an end-to-end run', () => {
  it('contain no name, email, phone number, date of birth, API key or invite URL', async () => {
    const { stack, sqs } = handle;
    const target = targetFromEnv({ ...process.env, ...stack.env });
    const samples = readFileSync('samples/events.ndjson', 'utf8').split('\n').filter(Boolean);
    const extra = [
      providerEvent('p-scan-1', 0, {
        phoneNumber: '555-0199',
        phoneCountryCode: '+1',
        firstName: 'Philippa',
      }),
      clientEvent('c-scan-1', ['p-scan-1'], 1, {
        dateOfBirth: '1979-03-14',
        lastName: 'Zimmerbottom',
      }),
      clientEvent('c-scan-2', ['p-scan-1', 'p-scan-missing'], 2, {
        email: 'wanda.waitsforever@example.com',
      }),
      clientEvent('c-scan-3', ['p-scan-missing'], 3, { firstName: 'Orphelia' }),
      providerEvent('p-scan-1', 4, { email: 'philippa.changed@example.com' }, 'provider.updated'),
      deleted('c-scan-1', 5),
    ].map((event) => JSON.stringify(event));
    const invalid = [
      JSON.stringify({
        eventId: 'evt-bad-1',
        type: 'client.created',
        occurredAt: '2026-11-27T10:00:00.000Z',
        partnerUserId: 'c-bad-1',
        data: {
          firstName: 'Bartholomew',
          lastName: 'Invalidson',
          email: 'not-an-email-bartholomew',
          providerPartnerUserIds: ['p-scan-1'],
          dateOfBirth: '31/12/1980',
        },
      }),
      '{"this is": "not an event", "name": "Gertrude Brokenjson"',
    ];
    const bodies = [...samples, ...extra, ...invalid];
    for (let start = 0; start < bodies.length; start += 10) {
      await sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: stack.queueUrls.userEvents,
          Entries: bodies.slice(start, start + 10).map((body, index) => ({
            Id: String(index),
            MessageBody: body,
            MessageGroupId: `g-${(start + index) % 7}`,
            MessageDeduplicationId: `scan-${start + index}`,
          })),
        }),
      );
    }
    await waitForDrain(target, ['userEvents', 'assignments'], () => {}, 60_000);

    const outbound = [];
    for (;;) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: stack.queueUrls.outbound,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
        }),
      );
      if (Messages.length === 0) break;
      outbound.push(
        ...Messages.map(
          (message) => JSON.parse(message.Body ?? '{}') as { type: string; inviteUrl?: string },
        ),
      );
    }
    const inviteUrls = outbound.flatMap((event) => (event.inviteUrl ? [event.inviteUrl] : []));
    const failures = await new DynamoFailureStore(target.documents, target.tableName).list();
    target.close();

    // The run did what it should, so the scan covers the success and the failure paths.
    expect(inviteUrls.length).toBeGreaterThan(0);
    expect(failures.map((failure) => failure.partnerUserId)).toEqual(
      expect.arrayContaining(['c-bad-1', 'c-scan-3']),
    );
    const logText = handle.logs.map((entry) => entry.line).join('\n');
    expect(logText).toContain('"outcome":"created"');

    const secrets = [...sensitiveValues(bodies), API_KEY, ...inviteUrls];
    const failureText = JSON.stringify(failures);
    const leaks = secrets.filter(
      (value) =>
        logText.toLowerCase().includes(value.toLowerCase()) ||
        failureText.toLowerCase().includes(value.toLowerCase()),
    );
    expect(leaks).toEqual([]);
    expect(secrets.length).toBeGreaterThan(30);
  });
});
