/** The webhook use case with in-memory replay guard and queue: statuses, replay, what is queued. */
import { describe, expect, it } from 'vitest';
import { staticSecrets } from '#lib/ingest/secrets.ts';
import { parseHealCommand } from '#lib/upheal-webhook/heal-command.ts';
import {
  BODY_ONLY_REPLAY_MEMORY_MS,
  type ReceiveWebhookDependencies,
  receiveWebhook,
} from '#lib/upheal-webhook/receive-webhook.ts';
import { signWebhook } from '#lib/upheal-webhook/signature.ts';
import { memoryNonceStore, recordingQueue } from '#test/unit/ingest/fakes.ts';

const SECRET = 'upheal-webhook-secret-0001';
const NOW = 1_795_770_000_000;

function setup(overrides: Partial<ReceiveWebhookDependencies> = {}) {
  const queue = recordingQueue();
  const nonces = memoryNonceStore();
  const deps: ReceiveWebhookDependencies = {
    scheme: 'body',
    secrets: staticSecrets(SECRET, 'UPHEAL_WEBHOOK_SECRET'),
    nonces,
    queue,
    limits: { maxBodyBytes: 65_536, toleranceMs: 300_000 },
    now: () => NOW,
    ...overrides,
  };
  return { deps, queue, nonces };
}

function request(
  body: string,
  headers: Record<string, string> = signWebhook('body', SECRET, body, NOW),
) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: Buffer.from(body),
  };
}

const CREATED = JSON.stringify({
  type: 'user.created',
  userId: 'u-1',
  partnerUserId: 'c-1',
  userType: 'Client',
});

describe('receiveWebhook', () => {
  it('queues a user-created event naming a partner user, grouped by it, and answers 204', async () => {
    const { deps, queue } = setup();
    const outcome = await receiveWebhook(request(CREATED), deps);
    expect(outcome).toMatchObject({
      status: 204,
      queued: true,
      partnerUserId: 'c-1',
      uphealUserId: 'u-1',
    });
    expect(queue.sent).toHaveLength(1);
    expect(queue.sent[0]!.partnerUserId).toBe('c-1');
    expect(parseHealCommand(queue.sent[0]!.body, 'message')).toEqual({
      type: 'user.created',
      partnerUserId: 'c-1',
      uphealUserId: 'u-1',
      userKind: 'client',
      receivedAt: new Date(NOW).toISOString(),
    });
  });

  it('accepts without queueing an unknown event and a user created outside our sync', async () => {
    const { deps, queue } = setup();
    const other = await receiveWebhook(request('{"type":"processing.finished","id":"p-1"}'), deps);
    const foreign = await receiveWebhook(request('{"type":"user.created","userId":"u-7"}'), deps);
    expect([other.status, foreign.status]).toEqual([204, 204]);
    expect(queue.sent).toEqual([]);
  });

  it('remembers a body-signed delivery for days: a fresh timestamp does not replay it', async () => {
    const { deps, nonces } = setup();
    expect((await receiveWebhook(request(CREATED), deps)).status).toBe(204);
    expect([...nonces.nonces.values()]).toEqual([NOW + BODY_ONLY_REPLAY_MEMORY_MS]);
    const later = { ...deps, now: () => NOW + 60_000 };
    const again = request(CREATED, signWebhook('body', SECRET, CREATED, NOW + 60_000));
    expect(await receiveWebhook(again, later)).toMatchObject({ status: 401, reason: 'replayed' });
  });

  it('remembers a timestamp-signed delivery until its timestamp leaves the tolerance', async () => {
    const { deps, nonces } = setup({ scheme: 'timestamp-body' });
    const signed = request(CREATED, signWebhook('timestamp-body', SECRET, CREATED, NOW));
    expect((await receiveWebhook(signed, deps)).status).toBe(204);
    expect([...nonces.nonces.values()]).toEqual([NOW + 300_000]);
  });

  it('answers 503 and forgets the delivery when the queue does not take it, so the retry is accepted', async () => {
    const failing = recordingQueue();
    let fail = true;
    const { deps } = setup({
      queue: {
        enqueue: async (events) =>
          fail
            ? events.map((_, index) => ({ index, reason: 'x', permanent: false }))
            : failing.enqueue(events),
      },
    });
    expect(await receiveWebhook(request(CREATED), deps)).toMatchObject({ status: 503 });
    fail = false;
    expect(await receiveWebhook(request(CREATED), deps)).toMatchObject({
      status: 204,
      queued: true,
    });
  });

  it.each([
    ['GET', 'application/json', CREATED, 405],
    ['POST', 'text/plain', CREATED, 415],
    ['POST', 'application/json', JSON.stringify({ type: 'x', pad: 'y'.repeat(70_000) }), 413],
  ])('refuses %s %s (%#) with %i before the signature', async (method, type, body, status) => {
    const { deps } = setup();
    const outcome = await receiveWebhook(
      { ...request(body), method, headers: { ...request(body).headers, 'content-type': type } },
      deps,
    );
    expect(outcome.status).toBe(status);
    expect(outcome.signatureFailure).toBeUndefined();
  });

  it('marks signature refusals for the alarm, and checks the signature before the JSON', async () => {
    const { deps } = setup();
    const forged = await receiveWebhook(
      request('{not json', signWebhook('body', 'another-secret-000000', '{not json', NOW)),
      deps,
    );
    expect(forged).toMatchObject({ status: 401, reason: 'bad signature', signatureFailure: true });
    expect(await receiveWebhook(request('{not json'), deps)).toMatchObject({
      status: 400,
      reason: 'malformed JSON',
    });
  });
});
