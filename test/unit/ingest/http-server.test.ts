import type { LambdaFunctionURLEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { type IngestServer, startIngestServer } from '#lib/ingest/http-server.ts';
import { postEvents } from '#lib/ingest/send.ts';
import { SIGNATURE_HEADERS, verify } from '#lib/signing.ts';

const SECRET = 'ingest-secret-0123456789';

let server: IngestServer | undefined;

afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** Starts a server whose handler records each event and answers 201 with a JSON body. */
async function recordingServer() {
  const received: LambdaFunctionURLEvent[] = [];
  server = await startIngestServer({
    handler: async (event) => {
      received.push(event);
      return {
        statusCode: 201,
        headers: { 'content-type': 'application/json', 'x-answer': 'yes' },
        body: '{"ok":true}',
      };
    },
  });
  return { received, url: server.url };
}

describe('startIngestServer', () => {
  it('delivers a JSON POST as a function-URL event with lower-case headers and the raw text body', async () => {
    const { received, url } = await recordingServer();

    const response = await fetch(`${url}events?x=1`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Upheal-Sync-Timestamp': '123' },
      body: '{"a": "é"}',
    });

    expect(response.status).toBe(201);
    expect(response.headers.get('x-answer')).toBe('yes');
    expect(await response.json()).toEqual({ ok: true });
    const [event] = received;
    expect(event).toMatchObject({
      version: '2.0',
      rawPath: '/events',
      rawQueryString: 'x=1',
      isBase64Encoded: false,
      body: '{"a": "é"}',
      headers: { 'content-type': 'application/json', 'x-upheal-sync-timestamp': '123' },
      requestContext: { http: { method: 'POST', path: '/events' } },
    });
  });

  it('base64-encodes a body whose content type is not text, byte for byte', async () => {
    const { received, url } = await recordingServer();
    const bytes = Buffer.from([0, 255, 1, 254]);

    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });

    expect(received[0]).toMatchObject({ isBase64Encoded: true, body: bytes.toString('base64') });
  });

  it('passes a GET without a body', async () => {
    const { received, url } = await recordingServer();
    await fetch(url);
    expect(received[0]?.requestContext.http.method).toBe('GET');
    expect(received[0]?.body).toBeUndefined();
  });

  it('answers 502 when the handler throws, and keeps serving', async () => {
    let calls = 0;
    server = await startIngestServer({
      handler: async () => {
        calls++;
        if (calls === 1) throw new Error('boom');
        return { statusCode: 204 };
      },
    });
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(502);
    expect((await fetch(server.url, { method: 'POST' })).status).toBe(204);
  });
});

describe('postEvents', () => {
  it('POSTs the events as JSON signed so that the receiver verifies the exact bytes', async () => {
    const { received, url } = await recordingServer();
    const events = [{ eventId: 'e-1', note: 'café' }];

    const result = await postEvents(url, SECRET, events, { now: 1_000 });

    expect(result).toEqual({ status: 201, body: { ok: true } });
    const event = received[0]!;
    expect(event.headers['content-type']).toBe('application/json');
    expect(event.headers[SIGNATURE_HEADERS.timestamp]).toBe('1000');
    expect(event.body).toBe(JSON.stringify(events));
    expect(verify([SECRET], event.headers, event.body!, 1_000, 1).ok).toBe(true);
  });
});
