/**
 * The simulator's webhooks, received by a real local HTTP server: signed as configured, sent for
 * every created user (also one whose answer was a 500), retried on failure, duplicated on demand.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyWebhook } from '#lib/upheal-webhook/signature.ts';
import { type Simulator, startSimulator } from '#tools/simulator/server.ts';
import { call } from './http.ts';

const SECRET = 'simulator-webhook-secret';

interface Received {
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

let server: Server | undefined;
let simulator: Simulator | undefined;
afterEach(async () => {
  await simulator?.stop();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = undefined;
  simulator = undefined;
});

/** A receiver answering the statuses in `answers` in turn (then 204). */
async function receiver(answers: number[] = []): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  server = createServer(async (request, response) => {
    let body = '';
    for await (const chunk of request) body += String(chunk);
    received.push({ headers: request.headers, body });
    response.writeHead(answers.shift() ?? 204);
    response.end();
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, received };
}

async function createProvider(partnerUserId: string) {
  return call(simulator!, 'POST', '/users/providers', {
    email: `${partnerUserId}@example.com`,
    firstName: 'Pat',
    lastName: 'Provider',
    partnerUserId,
  });
}

describe('simulator webhooks', () => {
  it('announces a created user with a signed user-created event', async () => {
    const { url, received } = await receiver();
    simulator = await startSimulator({
      webhooks: { url, secret: SECRET, scheme: 'timestamp-body' },
    });
    const created = await createProvider('p-1');
    await simulator.webhooksSettled();

    expect(received).toHaveLength(1);
    const [delivery] = received;
    expect(JSON.parse(delivery!.body)).toMatchObject({
      type: 'user.created',
      userId: created.body.userId,
      partnerUserId: 'p-1',
      userType: 'HealthcareProvider',
    });
    expect(delivery!.headers['user-agent']).toBe('Upheal Webhook');
    const headers = delivery!.headers as Record<string, string>;
    expect(
      verifyWebhook('timestamp-body', [SECRET], headers, delivery!.body, Date.now(), 60_000).ok,
    ).toBe(true);
    expect(simulator.webhookStats()).toEqual({
      events: 1,
      attempts: 1,
      delivered: 1,
      abandoned: 0,
    });
  });

  it('announces a create whose answer was a 500, and nothing for a refused create', async () => {
    const { url, received } = await receiver();
    simulator = await startSimulator({
      faults: { createdButFailed: 1 },
      webhooks: { url, secret: SECRET },
    });
    expect((await createProvider('p-ghost')).status).toBe(500);
    simulator.setFaults({ createdButFailed: 0 });
    expect((await createProvider('p-ghost')).status).toBe(400);
    await simulator.webhooksSettled();
    expect(received.map((delivery) => JSON.parse(delivery.body).partnerUserId)).toEqual([
      'p-ghost',
    ]);
  });

  it('retries a failed delivery with backoff, up to the configured retries', async () => {
    const { url, received } = await receiver([500, 503, 500, 500]);
    simulator = await startSimulator({
      webhooks: { url, secret: SECRET, retries: 2, backoffMs: 5 },
    });
    await createProvider('p-retry');
    await simulator.webhooksSettled();
    expect(received).toHaveLength(3);
    expect(simulator.webhookStats()).toMatchObject({ attempts: 3, delivered: 0, abandoned: 1 });
  });

  it('delivers an event twice when duplicates are on, and is silent without a URL', async () => {
    const { url, received } = await receiver();
    simulator = await startSimulator({ webhooks: { url, secret: SECRET, duplicates: 1 } });
    await createProvider('p-twice');
    await simulator.webhooksSettled();
    expect(received).toHaveLength(2);
    expect(received[0]!.body).toBe(received[1]!.body);

    simulator.setWebhooks({ url: undefined });
    await createProvider('p-silent');
    await simulator.webhooksSettled();
    expect(received).toHaveLength(2);
  });
});
