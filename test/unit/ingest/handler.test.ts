import { describe, expect, it } from 'vitest';
import { createIngestHandler, type IngestHandlerDependencies } from '#functions/ingest.ts';
import { ConfigError } from '#lib/errors.ts';
import { staticSecrets } from '#lib/ingest/secrets.ts';
import { sign } from '#lib/signing.ts';
import {
  capturingLogger,
  functionUrlEvent,
  memoryNonceStore,
  providerCreated,
  recordingQueue,
} from './fakes.ts';

const SECRET = 'ingest-secret-0123456789';
const NOW = 1_795_770_000_000;

function setup(overrides: Partial<IngestHandlerDependencies> = {}) {
  const logger = capturingLogger();
  const queue = recordingQueue();
  const handler = createIngestHandler({
    secrets: staticSecrets(SECRET),
    nonces: memoryNonceStore(),
    queue,
    limits: { maxBodyBytes: 65_536, replayWindowMs: 300_000 },
    now: () => NOW,
    logger,
    ...overrides,
  });
  return { handler, logger, queue };
}

/** A signed function-URL event carrying `payload`, base64-encoded when asked (as AWS may). */
function signedEvent(payload: unknown, base64 = false) {
  const text = JSON.stringify(payload);
  return functionUrlEvent({
    headers: { 'content-type': 'application/json', ...sign(SECRET, text, NOW) },
    body: base64 ? Buffer.from(text).toString('base64') : text,
    isBase64Encoded: base64,
  });
}

describe('ingest handler', () => {
  it.each([false, true])(
    'answers a signed POST with 202 and a JSON body (base64: %s)',
    async (base64) => {
      const { handler, queue } = setup();

      const result = await handler(signedEvent(providerCreated('e-1', 'p-7'), base64));

      expect(result).toEqual({
        statusCode: 202,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ accepted: ['e-1'], rejected: [] }),
      });
      expect(queue.sent.map((sent) => sent.eventId)).toEqual(['e-1']);
    },
  );

  it('maps a refusal to its status with a JSON reason', async () => {
    const { handler } = setup();
    const event = signedEvent(providerCreated('e-1', 'p-7'));
    event.headers['content-type'] = 'text/plain';
    expect(await handler(event)).toMatchObject({
      statusCode: 415,
      body: JSON.stringify({ error: 'content type must be application/json' }),
    });
  });

  it('treats a request without a body as malformed JSON once authenticated', async () => {
    const { handler } = setup();
    const event = functionUrlEvent({
      headers: { 'content-type': 'application/json', ...sign(SECRET, '', NOW) },
    });
    expect(await handler(event)).toMatchObject({
      statusCode: 400,
      body: JSON.stringify({ error: 'malformed JSON' }),
    });
  });

  it('logs event ids, partner user ids, counts and field names, never the event data', async () => {
    const { handler, logger } = setup();
    const valid = providerCreated('e-1', 'p-7');
    const invalid = {
      ...providerCreated('e-2', 'p-8'),
      data: { ...valid.data, email: 'not-an-email' },
    };

    await handler(signedEvent([valid, invalid]));

    expect(logger.lines).toHaveLength(1);
    const line = JSON.parse(logger.lines[0]!);
    expect(line).toMatchObject({
      level: 'INFO',
      requestId: 'req-1',
      status: 202,
      acceptedCount: 1,
      rejectedCount: 1,
      enqueued: [{ eventId: 'e-1', partnerUserId: 'p-7' }],
      rejected: [{ index: 1, eventId: 'e-2', fields: ['data.email'] }],
    });
    for (const secretOrClinical of ['Ana', 'Ruiz', 'clinic.example.com', 'not-an-email', SECRET]) {
      expect(logger.lines[0]).not.toContain(secretOrClinical);
    }
  });

  it('answers 503 with Retry-After when a dependency fails, logging only the error class', async () => {
    const { handler, logger } = setup({
      nonces: {
        claim: async () => {
          throw Object.assign(new Error('Ana Ruiz broke DynamoDB'), {
            name: 'InternalServerError',
          });
        },
        release: async () => {},
      },
    });

    const result = await handler(signedEvent(providerCreated('e-1', 'p-7')));

    expect(result).toMatchObject({ statusCode: 503, headers: { 'retry-after': '1' } });
    expect(logger.lines).toEqual([
      JSON.stringify({
        level: 'ERROR',
        message: 'ingest failed',
        requestId: 'req-1',
        errorName: 'InternalServerError',
      }),
    ]);
  });

  it('answers 500 when the secret cannot be configured (not worth retrying)', async () => {
    const { handler } = setup({
      secrets: {
        current: async () => {
          throw new ConfigError('ingest secret parameter holds no secret');
        },
        refreshAfterMiss: async () => undefined,
      },
    });
    expect(await handler(signedEvent(providerCreated('e-1', 'p-7')))).toMatchObject({
      statusCode: 500,
    });
  });
});
