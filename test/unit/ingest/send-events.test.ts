import type { LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { createIngestHandler } from '#functions/ingest.ts';
import type { EventQueue, QueueableEvent } from '#lib/ingest/event-queue.ts';
import { type IngestServer, startIngestServer } from '#lib/ingest/http-server.ts';
import { staticSecrets } from '#lib/ingest/secrets.ts';
import { chunkIndexes, sendEvents } from '#lib/ingest/send-events.ts';
import { capturingLogger, memoryNonceStore, userDeleted } from './fakes.ts';

const SECRET = 'ingest-secret-0123456789';
const noSleep = async () => {};

let server: IngestServer | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

/** A queue that takes everything except, on its first `failingCalls` calls, the listed event ids. */
function flakyQueue(failIds: readonly string[], failingCalls: number) {
  const sent: QueueableEvent[] = [];
  let calls = 0;
  const queue: EventQueue = {
    async enqueue(events) {
      calls++;
      return events.flatMap((event, index) => {
        if (calls <= failingCalls && failIds.includes(event.eventId)) {
          return [{ index, reason: 'SQS InternalError', permanent: false }];
        }
        sent.push(event);
        return [];
      });
    },
  };
  return { queue, sent };
}

/** Serves the real ingest handler (in-memory ports) and records every request body it received. */
async function ingestEndpoint(
  queue: EventQueue = flakyQueue([], 0).queue,
  maxBodyBytes = 1_048_576,
) {
  const bodies: string[] = [];
  const handler = createIngestHandler({
    secrets: staticSecrets(SECRET),
    nonces: memoryNonceStore(),
    queue,
    limits: { maxBodyBytes, replayWindowMs: 300_000 },
    now: Date.now,
    logger: capturingLogger(),
  });
  server = await startIngestServer({
    handler: async (event) => {
      bodies.push(event.body ?? '');
      return handler(event);
    },
  });
  return { url: server.url, bodies };
}

/** Serves scripted answers in turn (the last one repeats). */
async function scriptedEndpoint(answers: LambdaFunctionURLResult[]) {
  const received: LambdaFunctionURLEvent[] = [];
  server = await startIngestServer({
    handler: async (event) => {
      received.push(event);
      return answers[Math.min(received.length - 1, answers.length - 1)]!;
    },
  });
  return { url: server.url, received };
}

const deletes = (count: number) =>
  Array.from({ length: count }, (_, i) => userDeleted(`e-${i}`, `c-${i}`));

describe('sendEvents', () => {
  it('splits into requests of at most 100 events and reports every event accepted, in order', async () => {
    const { url, bodies } = await ingestEndpoint();
    const events = deletes(250);

    const report = await sendEvents(url, SECRET, events, { sleep: noSleep });

    expect(report).toEqual({
      accepted: events.map((event) => event.eventId),
      rejected: [],
      failed: [],
    });
    expect(bodies.map((body) => JSON.parse(body).length)).toEqual([100, 100, 50]);
  });

  it('rejects every event sharing an eventId, even when they would go in different requests', async () => {
    const { url, bodies } = await ingestEndpoint();
    const events = [...deletes(150), userDeleted('e-0', 'c-dupe')];

    const report = await sendEvents(url, SECRET, events, { sleep: noSleep });

    const reason = 'is used by more than one event (events 0, 150)';
    expect(report.rejected).toEqual([
      { index: 0, eventId: 'e-0', errors: [{ field: 'eventId', reason }] },
      { index: 150, eventId: 'e-0', errors: [{ field: 'eventId', reason }] },
    ]);
    expect(report.accepted).toEqual(events.slice(1, 150).map((event) => event.eventId));
    expect(bodies.flatMap((body) => JSON.parse(body) as unknown[])).toHaveLength(149);
  });

  it('keeps every request under the body limit', async () => {
    const maxBodyBytes = 1_000;
    const { url, bodies } = await ingestEndpoint(undefined, maxBodyBytes);
    const report = await sendEvents(url, SECRET, deletes(30), { sleep: noSleep, maxBodyBytes });
    expect(report.accepted).toHaveLength(30);
    expect(bodies.length).toBeGreaterThan(1);
    for (const body of bodies) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(maxBodyBytes);
  });

  it('reports invalid events as rejected by their position in the input, across requests', async () => {
    const { url } = await ingestEndpoint();
    const events: unknown[] = deletes(5);
    events[3] = { ...userDeleted('e-3', 'c-3'), partnerUserId: '' };

    const report = await sendEvents(url, SECRET, events, {
      sleep: noSleep,
      maxEventsPerRequest: 2,
    });

    expect(report.accepted).toEqual(['e-0', 'e-1', 'e-2', 'e-4']);
    expect(report.rejected).toEqual([
      { index: 3, eventId: 'e-3', errors: [expect.objectContaining({ field: 'partnerUserId' })] },
    ]);
  });

  it('resends, re-signed, only the events a 503 listed as not accepted', async () => {
    const { queue, sent } = flakyQueue(['e-1'], 1);
    const { url, bodies } = await ingestEndpoint(queue);

    const report = await sendEvents(url, SECRET, deletes(3), { sleep: noSleep });

    expect(report).toEqual({ accepted: ['e-0', 'e-2', 'e-1'], rejected: [], failed: [] });
    expect(JSON.parse(bodies[1]!)).toEqual([userDeleted('e-1', 'c-1')]);
    expect(sent.map((event) => event.eventId)).toEqual(['e-0', 'e-2', 'e-1']);
  });

  it('resends a whole request after a 503 without a list, and gives up after the attempts', async () => {
    const unavailable = {
      statusCode: 503,
      body: JSON.stringify({ error: 'temporarily unavailable' }),
    };
    const { url, received } = await scriptedEndpoint([unavailable]);
    const slept: number[] = [];

    const report = await sendEvents(url, SECRET, deletes(2), {
      maxAttempts: 3,
      baseDelayMs: 10,
      sleep: async (ms) => {
        slept.push(ms);
      },
    });

    expect(received).toHaveLength(3);
    expect(slept).toEqual([10, 20]);
    expect(report.failed).toEqual([
      { index: 0, reason: 'status 503: temporarily unavailable' },
      { index: 1, reason: 'status 503: temporarily unavailable' },
    ]);
  });

  it('does not resend a request refused as a whole with a 4xx, and says why', async () => {
    const { url, received } = await scriptedEndpoint([
      { statusCode: 401, body: JSON.stringify({ error: 'bad signature' }) },
    ]);
    const report = await sendEvents(url, SECRET, deletes(1), { sleep: noSleep });
    expect(received).toHaveLength(1);
    expect(report).toEqual({
      accepted: [],
      rejected: [],
      failed: [{ index: 0, reason: 'status 401: bad signature' }],
    });
  });

  it('names the transport error of a request that got no answer', async () => {
    // Port 9 (discard) has no listener here: the connection is refused.
    const report = await sendEvents('http://127.0.0.1:9/', SECRET, deletes(1), {
      sleep: noSleep,
    });
    expect(report.failed).toEqual([{ index: 0, reason: 'request failed: ECONNREFUSED' }]);
  });

  it('fails an event too large for any request without sending it', async () => {
    const { url, bodies } = await ingestEndpoint(undefined, 200);
    const big = { ...userDeleted('e-big', 'c-1'), padding: 'x'.repeat(300) };
    const report = await sendEvents(url, SECRET, [big, userDeleted('e-1', 'c-1')], {
      sleep: noSleep,
      maxBodyBytes: 200,
    });
    expect(report.failed).toEqual([{ index: 0, reason: 'event larger than the body limit' }]);
    expect(report.accepted).toEqual(['e-1']);
    expect(bodies).toHaveLength(1);
  });
});

describe('chunkIndexes', () => {
  it('fills requests in order up to the count and byte limits', () => {
    const serialised = ['"aaaa"', '"bb"', '"cccccc"', '"d"'];
    // Sizes 6, 4, 8, 3; brackets 2, commas 1.
    expect(chunkIndexes([0, 1, 2, 3], serialised, 10, 13)).toEqual([[0, 1], [2], [3]]);
    expect(chunkIndexes([0, 1, 2, 3], serialised, 2, 1_000)).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});
