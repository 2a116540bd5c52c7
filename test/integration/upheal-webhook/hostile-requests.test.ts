/**
 * The `upheal-webhook` function URL on the local stack (bundled handler in a worker process, the
 * replay guard in dynalite, the queue in fauxqs): Upheal's signed deliveries are accepted with
 * 204, and hostile ones — bad or missing signature, old timestamp, replay, malformed JSON, a
 * 1 MiB body — are refused with their status, while the logs carry ids and reasons only.
 */
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentClient } from '#lib/store/document-client.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoHealStore } from '#lib/upheal-webhook/heal-store.ts';
import { signWebhook } from '#lib/upheal-webhook/signature.ts';
import { bundleHandlers, useLocalStack, waitFor } from '#test/helpers/local-stack.ts';
import {
  LOCAL_UPHEAL_WEBHOOK_SECRET,
  localClientConfig,
  PROJECT_ROOT,
} from '#tools/local/stack.ts';

/** Clinical-looking fields Upheal might add: they must never reach a log line. */
const CLINICAL = { firstName: 'Zebulon', lastName: 'Quartermaine', email: 'zeb.q@example.com' };
const MIB = 1024 * 1024;

let bundles: { dir: string; remove(): Promise<void> };
beforeAll(async () => {
  bundles = await bundleHandlers({
    'upheal-webhook': join(PROJECT_ROOT, 'functions/upheal-webhook.ts'),
    'apply-upheal-webhook': join(PROJECT_ROOT, 'functions/apply-upheal-webhook.ts'),
  });
}, 120_000);
afterAll(async () => {
  await bundles?.remove();
});

const local = useLocalStack(() => ({
  functionsDir: bundles.dir,
  functions: ['upheal-webhook', 'apply-upheal-webhook'],
  // This test is the sender: the simulator sends nothing.
  uphealWebhooks: false,
}));

function userCreated(partnerUserId: string, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    type: 'user.created',
    userId: `u-${partnerUserId}`,
    partnerUserId,
    organizationId: 'org-1',
    userType: 'Client',
    timestamp: new Date().toISOString(),
    ...CLINICAL,
    ...extra,
  });
}

/** POSTs `body` to the webhook URL with Upheal's headers (signed now unless overridden). */
async function post(
  body: string | Buffer,
  headers: Record<string, string> = signWebhook(
    'body',
    LOCAL_UPHEAL_WEBHOOK_SECRET,
    body,
    Date.now(),
  ),
) {
  const response = await fetch(local.stack.functionUrls['upheal-webhook']!, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'Upheal Webhook', ...headers },
    body,
  });
  return { status: response.status, text: await response.text() };
}

describe('the upheal-webhook function URL', () => {
  it('accepts a signed user-created event for a partner id we never sent, and only traces it', async () => {
    const answer = await post(userCreated('c-never-sent'));
    expect(answer).toEqual({ status: 204, text: '' });
    const dynamo = new DynamoDBClient(localClientConfig(local.stack.endpoints.dynamodb));
    try {
      const documents = documentClient(dynamo);
      const store = new DynamoHealStore(documents, local.stack.tableName);
      const trace = await waitFor(() => store.traceOf('c-never-sent'));
      expect(trace).toMatchObject({
        partnerUserId: 'c-never-sent',
        uphealUserId: 'u-c-never-sent',
        outcome: 'unknown-partner-user',
      });
      const mappings = new DynamoMappingStore({
        client: documents,
        tableName: local.stack.tableName,
      });
      expect(await mappings.get('c-never-sent')).toBeUndefined();
    } finally {
      dynamo.destroy();
    }
  });

  it('accepts unknown event types and unknown fields with 204', async () => {
    const answer = await post(
      JSON.stringify({ type: 'session.processed', sessionId: 's-1', more: { x: 1 } }),
    );
    expect(answer.status).toBe(204);
  });

  it.each([
    ['a bad signature', { 'x-upheal-signature': 'ab'.repeat(32) }, 'bad signature'],
    ['a missing signature', { 'x-upheal-signature': '' }, 'missing signature'],
    ['a malformed signature', { 'x-upheal-signature': 'not-hex' }, 'malformed signature'],
    ['a missing timestamp', { 'x-upheal-timestamp': '' }, 'missing timestamp'],
    [
      'an old timestamp',
      { 'x-upheal-timestamp': String(Date.now() - 10 * 60_000) },
      'stale timestamp',
    ],
  ])('refuses %s with 401', async (_case, override, reason) => {
    const body = userCreated('c-hostile');
    const headers = {
      ...signWebhook('body', LOCAL_UPHEAL_WEBHOOK_SECRET, body, Date.now()),
      ...override,
    };
    for (const [name, value] of Object.entries(headers))
      if (value === '') delete headers[name as keyof typeof headers];
    const answer = await post(body, headers);
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.text)).toEqual({ error: reason });
  });

  it('refuses a body signed with another secret, and a replay of an accepted delivery', async () => {
    const body = userCreated('c-replayed');
    expect(
      (await post(body, signWebhook('body', 'not-the-shared-secret', body, Date.now()))).status,
    ).toBe(401);
    const headers = signWebhook('body', LOCAL_UPHEAL_WEBHOOK_SECRET, body, Date.now());
    expect((await post(body, headers)).status).toBe(204);
    const replay = await post(body, headers);
    expect(replay.status).toBe(401);
    expect(JSON.parse(replay.text)).toEqual({ error: 'replayed' });
    // A fresh timestamp does not launder the body (the body scheme does not sign it).
    expect((await post(body)).status).toBe(401);
  });

  it('refuses malformed JSON and an envelope without a type with 400', async () => {
    const malformed = await post(`{"type":"user.created","email":"${CLINICAL.email}"`);
    expect(malformed.status).toBe(400);
    expect(JSON.parse(malformed.text)).toEqual({ error: 'malformed JSON' });
    const noUserId = await post(
      JSON.stringify({ type: 'user.created', partnerUserId: 'c-9', ...CLINICAL }),
    );
    expect(noUserId.status).toBe(400);
    expect(JSON.parse(noUserId.text).error).toContain('userId');
  });

  it('refuses a 1 MiB body with 413 before checking it', async () => {
    const body = JSON.stringify({ type: 'user.created', padding: 'x'.repeat(MIB) });
    const answer = await post(body);
    expect(answer.status).toBe(413);
  });

  it('logged ids and reasons only: no clinical field, no body, no secret', () => {
    const lines = local.logs.map((entry) => entry.line);
    expect(lines.some((line) => line.includes('upheal webhook refused'))).toBe(true);
    expect(lines.some((line) => line.includes('c-never-sent'))).toBe(true);
    for (const line of lines) {
      for (const value of [...Object.values(CLINICAL), LOCAL_UPHEAL_WEBHOOK_SECRET, 'xxxxxxxx']) {
        expect(line).not.toContain(value);
      }
    }
    // The refusals were counted for the signature alarm.
    expect(lines.some((line) => line.includes('WebhookSignatureFailures'))).toBe(true);
  });
});
