/**
 * Webhook delivery of outbound events against a real local HTTP server that verifies the
 * signature with the same code `ingest` uses.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryError } from '#lib/errors.ts';
import { deliverToWebhook } from '#lib/outbound/webhook.ts';
import { verify } from '#lib/signing.ts';

const SECRET = 'partner-webhook-secret-0123456789';
const REPLAY_WINDOW_MS = 300_000;

let server: Server;
let url: string;
let answer = 204;
const received: { body: string; verified: boolean }[] = [];

async function bodyOf(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

beforeAll(async () => {
  server = createServer(async (request, response) => {
    const body = await bodyOf(request);
    const check = verify([SECRET], request.headers, body, Date.now(), REPLAY_WINDOW_MS);
    received.push({ body, verified: check.ok });
    response.statusCode = check.ok ? answer : 401;
    response.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/upheal-sync`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const options = () => ({ url, secrets: async () => [SECRET], timeoutMs: 2_000 });

describe('deliverToWebhook', () => {
  it('POSTs the event body unchanged, signed so the ingest verifier accepts it', async () => {
    answer = 204;
    const body = JSON.stringify({
      type: 'user.created',
      partnerUserId: 'p-1',
      uphealUserId: 'u-1',
    });
    await deliverToWebhook(body, options());
    expect(received.at(-1)).toEqual({ body, verified: true });
  });

  it('throws a retryable DeliveryError with the status when the partner does not answer 2xx', async () => {
    answer = 503;
    const error = await deliverToWebhook('{"type":"user.updated"}', options()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ status: 503, retryable: true });
  });

  it('fails with a DeliveryError, not a successful send, when signed with the wrong secret', async () => {
    answer = 200;
    const error = await deliverToWebhook('{}', {
      ...options(),
      secrets: async () => ['wrong-secret-0123456789'],
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 401 });
  });

  it('throws a DeliveryError without a status when nothing answers', async () => {
    const error = await deliverToWebhook('{}', { ...options(), url: 'http://127.0.0.1:9/' }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeliveryError);
    expect((error as DeliveryError).status).toBeUndefined();
  });
});
