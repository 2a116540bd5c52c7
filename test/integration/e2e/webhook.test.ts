/**
 * Outbound events delivered to a partner's HTTPS endpoint by `deliver-outbound`, on the local
 * stack: signed so the partner can verify them with the ingest scheme, and kept (dead-lettered,
 * with a failure record) when the partner keeps failing.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verify } from '#lib/signing.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { providerEvent } from '#test/helpers/events.ts';
import { useLocalStack, waitFor } from '#test/helpers/local-stack.ts';
import { targetFromEnv } from '#tools/cli/target.ts';

const SECRET = 'partner-webhook-secret-for-tests';
const REPLAY_WINDOW_MS = 300_000;

let server: Server;
let port = 0;
let failing = false;
const received: { type?: string; partnerUserId?: string; verified: boolean }[] = [];

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const body = await bodyOf(request);
    const verified = verify([SECRET], request.headers, body, Date.now(), REPLAY_WINDOW_MS).ok;
    const event = JSON.parse(body) as { type?: string; partnerUserId?: string };
    received.push({ type: event.type, partnerUserId: event.partnerUserId, verified });
    response.statusCode = failing ? 503 : 204;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const handle = useLocalStack(() => ({
  functions: ['sync-user', 'deliver-outbound'],
  queues: { visibilityTimeoutSeconds: 2 },
  env: {
    OUTBOUND_WEBHOOK_URL: `http://127.0.0.1:${port}/hooks/upheal-sync`,
    OUTBOUND_WEBHOOK_SECRET: SECRET,
    SYNC_MAX_ATTEMPTS: '2',
  },
}));

describe('deliver-outbound', () => {
  it('POSTs each outcome to the partner, signed with the ingest scheme', async () => {
    const { stack, sqs } = handle;
    const event = providerEvent('p-hook-1', 0);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queueUrls.userEvents,
        MessageBody: JSON.stringify(event),
        MessageGroupId: event.partnerUserId,
        MessageDeduplicationId: event.eventId,
      }),
    );
    const delivered = await waitFor(() =>
      received.find((entry) => entry.partnerUserId === 'p-hook-1'),
    );
    expect(delivered).toEqual({ type: 'user.created', partnerUserId: 'p-hook-1', verified: true });
  });

  it('keeps an event the partner keeps refusing: dead-lettered for re-drive, with a failure record', async () => {
    const { stack, sqs } = handle;
    failing = true;
    const event = providerEvent('p-hook-2', 0);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: stack.queueUrls.userEvents,
        MessageBody: JSON.stringify(event),
        MessageGroupId: event.partnerUserId,
        MessageDeduplicationId: event.eventId,
      }),
    );
    const dead = await waitFor(
      async () => {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: stack.dlqUrls.outboundWebhook,
            MaxNumberOfMessages: 10,
          }),
        );
        return Messages.find((message) => message.Body?.includes('p-hook-2'));
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    failing = false;
    expect(JSON.parse(dead.Body ?? '{}')).toMatchObject({
      type: 'user.created',
      partnerUserId: 'p-hook-2',
    });
    expect(
      received.filter((entry) => entry.partnerUserId === 'p-hook-2').length,
    ).toBeGreaterThanOrEqual(2);
    const target = targetFromEnv({ ...process.env, ...stack.env });
    const failures = await new DynamoFailureStore(target.documents, target.tableName).list();
    target.close();
    expect(failures.some((failure) => failure.operation === 'deliver-outbound')).toBe(true);
    expect(JSON.stringify(failures)).not.toContain('invite');
  });
});
