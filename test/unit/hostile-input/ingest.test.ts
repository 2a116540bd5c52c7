/**
 * Hostile bodies through the ingest handler (signed, so they reach validation): arbitrary bytes,
 * broken JSON and events with planted canaries. Never a crash, an unhandled rejection or a 5xx; every
 * refused event names a field; no planted value in the answer or in any log line.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createIngestHandler } from '#functions/ingest.ts';
import { staticSecrets } from '#lib/ingest/secrets.ts';
import { sign } from '#lib/signing.ts';
import {
  capturingLogger,
  functionUrlEvent,
  memoryNonceStore,
  recordingQueue,
} from '#test/unit/ingest/fakes.ts';
import {
  breakBytes,
  hasCanary,
  hostileEventArbitrary,
  unhandledRejectionsDuring,
} from './hostile.ts';

const SECRET = 'ingest-secret-0123456789';
const NOW = Date.parse('2026-11-27T09:00:00.000Z');
/** Statuses a hostile body may get: an answer per event, or a refusal of the whole request. */
const ALLOWED_STATUSES = [202, 400, 413];

/** Sends `body` signed to a fresh handler; returns the answer and every log line. */
async function post(body: Uint8Array) {
  const logger = capturingLogger();
  const queue = recordingQueue();
  const handler = createIngestHandler({
    secrets: staticSecrets(SECRET),
    nonces: memoryNonceStore(),
    queue,
    limits: { maxBodyBytes: 256 * 1024, replayWindowMs: 300_000 },
    now: () => NOW,
    logger,
  });
  const result = await handler(
    functionUrlEvent({
      headers: { 'content-type': 'application/json', ...sign(SECRET, body, NOW) },
      body: Buffer.from(body).toString('base64'),
      isBase64Encoded: true,
    }),
  );
  return { result, logs: logger.lines, queue };
}

/** Checks the invariants of one answer. */
function expectSafeAnswer(
  answer: Awaited<ReturnType<typeof post>>,
  itemCount: number | undefined,
): void {
  const { result, logs, queue } = answer;
  if (typeof result === 'string') throw new Error('ingest answers with a structured result');
  expect(ALLOWED_STATUSES).toContain(result.statusCode);
  const text = String(result.body);
  expect(hasCanary(text)).toBe(false);
  for (const line of logs) expect(hasCanary(line)).toBe(false);
  const body = JSON.parse(text) as {
    error?: string;
    accepted?: string[];
    rejected?: { index: number; errors: { field: string; reason: string }[] }[];
  };
  if (body.error !== undefined) return;
  for (const rejected of body.rejected ?? []) {
    expect(rejected.errors.length).toBeGreaterThan(0);
    for (const issue of rejected.errors) {
      expect(issue.field.length).toBeGreaterThan(0);
      expect(issue.reason.length).toBeGreaterThan(0);
    }
  }
  if (itemCount !== undefined) {
    expect((body.accepted?.length ?? 0) + (body.rejected?.length ?? 0)).toBe(itemCount);
  }
  expect(queue.sent.map((sent) => sent.eventId)).toEqual(body.accepted);
}

describe('ingest under hostile input', () => {
  it('answers arrays of hostile events per event, never echoing a planted value', async () => {
    const unhandled = await unhandledRejectionsDuring(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(hostileEventArbitrary, { minLength: 1, maxLength: 6 }),
          async (events) => {
            const answer = await post(Buffer.from(JSON.stringify(events), 'utf8'));
            expectSafeAnswer(answer, events.length);
          },
        ),
        { seed: 1301, numRuns: 300 },
      ),
    );
    expect(unhandled).toEqual([]);
  });

  it('answers arbitrary bytes and broken JSON with 400, never a crash or an echo', async () => {
    const brokenJson = fc
      .tuple(
        fc.array(hostileEventArbitrary, { minLength: 1, maxLength: 3 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        fc.boolean(),
      )
      .map(([events, position, byte, truncate]) =>
        breakBytes(JSON.stringify(events), position, byte, truncate),
      );
    const unhandled = await unhandledRejectionsDuring(() =>
      fc.assert(
        fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 300 }), brokenJson), async (bytes) => {
          expectSafeAnswer(await post(bytes), undefined);
        }),
        { seed: 1302, numRuns: 300 },
      ),
    );
    expect(unhandled).toEqual([]);
  });
});
