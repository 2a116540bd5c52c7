import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { unknownKeyName } from '#lib/events/validation.ts';
import {
  EVENT_FIELD,
  INGEST_REASONS,
  INGEST_STATUS,
  type IngestDependencies,
  type IngestRequest,
  ingestEvents,
  MAX_EVENTS_PER_REQUEST,
} from '#lib/ingest/ingest-events.ts';
import { secretList, staticSecrets } from '#lib/ingest/secrets.ts';
import { configuredSecret } from '#lib/secrets.ts';
import { SIGNATURE_HEADERS, sign, VERIFY_FAILURES } from '#lib/signing.ts';
import {
  memoryNonceStore,
  providerCreated,
  providersChanged,
  recordingQueue,
  userDeleted,
} from './fakes.ts';

const SECRET = 'ingest-secret-0123456789';
const NOW = 1_795_770_000_000;
const WINDOW_MS = 300_000;
const MAX_BODY_BYTES = 64 * 1024;

function dependencies(overrides: Partial<IngestDependencies> = {}) {
  const nonces = memoryNonceStore();
  const queue = recordingQueue();
  return {
    nonces,
    queue,
    deps: {
      secrets: staticSecrets(SECRET),
      nonces,
      queue,
      limits: { maxBodyBytes: MAX_BODY_BYTES, replayWindowMs: WINDOW_MS },
      now: () => NOW,
      ...overrides,
    } satisfies IngestDependencies,
  };
}

/** A POST of `payload` as JSON, signed with SECRET at NOW unless told otherwise. */
function signedRequest(
  payload: unknown,
  options: { secret?: string; at?: number; headers?: Record<string, string>; raw?: string } = {},
): IngestRequest {
  const text = options.raw ?? JSON.stringify(payload);
  const body = Buffer.from(text, 'utf8');
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...sign(options.secret ?? SECRET, body, options.at ?? NOW),
      ...options.headers,
    },
    body,
  };
}

describe('ingestEvents', () => {
  describe('a valid request', () => {
    it('accepts a single event object with 202 and enqueues it with its ids and its own JSON', async () => {
      const { deps, queue } = dependencies();
      const event = providerCreated('e-1', 'p-7');

      const outcome = await ingestEvents(signedRequest(event), deps);

      expect(outcome.status).toBe(INGEST_STATUS.accepted);
      expect(outcome.body).toEqual({ accepted: ['e-1'], rejected: [] });
      expect(queue.sent).toEqual([
        { eventId: 'e-1', partnerUserId: 'p-7', body: JSON.stringify(event) },
      ]);
      expect(outcome.enqueued).toEqual([{ eventId: 'e-1', partnerUserId: 'p-7' }]);
    });

    it('accepts an array of events of every kind, in request order', async () => {
      const { deps, queue } = dependencies();
      const events = [
        providerCreated('e-1', 'p-7'),
        providersChanged('e-2', 'c-1', ['p-7']),
        userDeleted('e-3', 'c-2'),
      ];

      const outcome = await ingestEvents(signedRequest(events), deps);

      expect(outcome.status).toBe(INGEST_STATUS.accepted);
      expect(outcome.body).toEqual({ accepted: ['e-1', 'e-2', 'e-3'], rejected: [] });
      expect(queue.sent.map((sent) => sent.eventId)).toEqual(['e-1', 'e-2', 'e-3']);
    });

    it.each([
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON;charset="UTF-8"',
    ])('accepts content type %j', async (contentType) => {
      const { deps } = dependencies();
      const request = signedRequest(userDeleted('e-1', 'c-1'), {
        headers: { 'content-type': contentType },
      });
      expect((await ingestEvents(request, deps)).status).toBe(INGEST_STATUS.accepted);
    });

    it('accepts exactly the maximum number of events', async () => {
      const { deps, queue } = dependencies();
      const events = Array.from({ length: MAX_EVENTS_PER_REQUEST }, (_, i) =>
        userDeleted(`e-${i}`, `c-${i}`),
      );
      const outcome = await ingestEvents(signedRequest(events), deps);
      expect(outcome.status).toBe(INGEST_STATUS.accepted);
      expect(queue.sent).toHaveLength(MAX_EVENTS_PER_REQUEST);
    });
  });

  describe('refusing the whole request', () => {
    it('answers 405 to anything but POST', async () => {
      const { deps, queue } = dependencies();
      const outcome = await ingestEvents(
        { ...signedRequest(userDeleted('e-1', 'c-1')), method: 'GET' },
        deps,
      );
      expect(outcome).toMatchObject({
        status: INGEST_STATUS.methodNotAllowed,
        headers: { allow: 'POST' },
        body: { error: INGEST_REASONS.methodNotAllowed },
      });
      expect(queue.sent).toEqual([]);
    });

    it.each([
      ['text/plain', INGEST_REASONS.unsupportedMediaType],
      ['application/x-www-form-urlencoded', INGEST_REASONS.unsupportedMediaType],
      ['application/jsonp', INGEST_REASONS.unsupportedMediaType],
      ['application/json; charset=latin1', INGEST_REASONS.unsupportedCharset],
    ])('answers 415 to content type %j', async (contentType, reason) => {
      const { deps, queue } = dependencies();
      const request = signedRequest(userDeleted('e-1', 'c-1'), {
        headers: { 'content-type': contentType },
      });
      const outcome = await ingestEvents(request, deps);
      expect(outcome).toMatchObject({
        status: INGEST_STATUS.unsupportedMediaType,
        body: { error: reason },
      });
      expect(queue.sent).toEqual([]);
    });

    it('answers 415 to a compressed body', async () => {
      const { deps } = dependencies();
      const request = signedRequest(userDeleted('e-1', 'c-1'), {
        headers: { 'content-encoding': 'gzip' },
      });
      expect(await ingestEvents(request, deps)).toMatchObject({
        status: INGEST_STATUS.unsupportedMediaType,
        body: { error: INGEST_REASONS.unsupportedEncoding },
      });
    });

    it('answers 415 when the content type is missing', async () => {
      const { deps } = dependencies();
      const request = signedRequest(userDeleted('e-1', 'c-1'));
      const { 'content-type': _, ...headers } = request.headers;
      const outcome = await ingestEvents({ ...request, headers }, deps);
      expect(outcome.status).toBe(INGEST_STATUS.unsupportedMediaType);
    });

    it('answers 413 to a body over the byte limit, counting bytes, not characters', async () => {
      const { deps, queue } = dependencies({
        limits: { maxBodyBytes: 10, replayWindowMs: WINDOW_MS },
      });
      const outcome = await ingestEvents(signedRequest(null, { raw: '"ééééé"' }), deps);
      expect(outcome).toMatchObject({
        status: INGEST_STATUS.payloadTooLarge,
        body: { error: INGEST_REASONS.bodyTooLarge },
      });
      expect(queue.sent).toEqual([]);
    });

    it('answers 413 to more events than allowed per request, and enqueues none of them', async () => {
      const { deps, queue } = dependencies();
      const events = Array.from({ length: MAX_EVENTS_PER_REQUEST + 1 }, (_, i) =>
        userDeleted(`e-${i}`, `c-${i}`),
      );
      const outcome = await ingestEvents(signedRequest(events), deps);
      expect(outcome).toMatchObject({
        status: INGEST_STATUS.payloadTooLarge,
        body: { error: INGEST_REASONS.tooManyEvents },
      });
      expect(queue.sent).toEqual([]);
    });

    it('answers 400 malformed JSON without echoing the body', async () => {
      const { deps } = dependencies();
      const outcome = await ingestEvents(signedRequest(null, { raw: '{"firstName":"Ana"' }), deps);
      expect(outcome).toEqual({
        status: INGEST_STATUS.badRequest,
        headers: {},
        body: { error: INGEST_REASONS.malformedJson },
        enqueued: [],
      });
    });

    it('answers 400 malformed JSON to a body that is not UTF-8', async () => {
      const { deps } = dependencies();
      const body = Buffer.from([0x7b, 0xff, 0x7d]);
      const request = {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...sign(SECRET, body, NOW) },
        body,
      };
      const outcome = await ingestEvents(request, deps);
      expect(outcome.body).toEqual({ error: INGEST_REASONS.malformedJson });
    });

    it('answers 400 to an empty array', async () => {
      const { deps } = dependencies();
      const outcome = await ingestEvents(signedRequest([]), deps);
      expect(outcome).toMatchObject({
        status: INGEST_STATUS.badRequest,
        body: { error: INGEST_REASONS.noEvents },
      });
    });
  });

  describe('authentication', () => {
    it.each([
      [
        'signed with another secret',
        { secret: 'someone-elses-secret-0123' },
        VERIFY_FAILURES.badSignature,
      ],
      ['signed too long ago', { at: NOW - WINDOW_MS - 1 }, VERIFY_FAILURES.staleTimestamp],
      ['signed in the future', { at: NOW + WINDOW_MS + 1 }, VERIFY_FAILURES.futureTimestamp],
      [
        'without a signature',
        { headers: { [SIGNATURE_HEADERS.signature]: '' } },
        VERIFY_FAILURES.missingSignature,
      ],
      [
        'with a malformed signature',
        { headers: { [SIGNATURE_HEADERS.signature]: 'sha1=abc' } },
        VERIFY_FAILURES.malformedSignature,
      ],
      [
        'with a malformed timestamp',
        { headers: { [SIGNATURE_HEADERS.timestamp]: 'yesterday' } },
        VERIFY_FAILURES.malformedTimestamp,
      ],
    ] as const)('answers 401 to a request %s, naming the reason', async (_, options, reason) => {
      const { deps, queue } = dependencies();
      const outcome = await ingestEvents(signedRequest(userDeleted('e-1', 'c-1'), options), deps);
      expect(outcome).toMatchObject({
        status: INGEST_STATUS.unauthorized,
        body: { error: reason },
      });
      expect(queue.sent).toEqual([]);
    });

    it('answers 401 bad signature to a body changed after signing', async () => {
      const { deps } = dependencies();
      const request = signedRequest(userDeleted('e-1', 'c-1'));
      const tampered = { ...request, body: Buffer.from(JSON.stringify(userDeleted('e-1', 'c-2'))) };
      expect((await ingestEvents(tampered, deps)).body).toEqual({
        error: VERIFY_FAILURES.badSignature,
      });
    });

    it('rejects the same signed request a second time as replayed', async () => {
      const { deps, queue } = dependencies();
      const request = signedRequest(userDeleted('e-1', 'c-1'));

      expect((await ingestEvents(request, deps)).status).toBe(INGEST_STATUS.accepted);
      const replay = await ingestEvents(request, deps);

      expect(replay).toMatchObject({
        status: INGEST_STATUS.unauthorized,
        body: { error: INGEST_REASONS.replayed },
      });
      expect(queue.sent).toHaveLength(1);
    });

    it('accepts the same events again under a new signature (a partner retry)', async () => {
      const { deps, queue } = dependencies();
      const event = userDeleted('e-1', 'c-1');
      await ingestEvents(signedRequest(event, { at: NOW - 1000 }), deps);
      const retry = await ingestEvents(signedRequest(event, { at: NOW }), deps);
      expect(retry.status).toBe(INGEST_STATUS.accepted);
      // Both reach the queue; SQS drops the second by its deduplication id (the event id).
      expect(queue.sent.map((sent) => sent.eventId)).toEqual(['e-1', 'e-1']);
    });

    it('remembers a request until its timestamp leaves the replay window', async () => {
      const { deps, nonces } = dependencies();
      await ingestEvents(signedRequest(userDeleted('e-1', 'c-1'), { at: NOW - 1000 }), deps);
      expect([...nonces.nonces.values()]).toEqual([NOW - 1000 + WINDOW_MS]);
    });

    it('picks up a rotated secret after a miss', async () => {
      let stored = 'old-secret-0123456789abc';
      let reads = 0;
      // An SSM stand-in that, like Powertools, serves its cache unless told to read again.
      let cached: string | undefined;
      const parameters = {
        get: async (_name: string, options: { forceFetch?: boolean }) => {
          if (cached === undefined || options.forceFetch) {
            reads++;
            cached = stored;
          }
          return cached;
        },
      };
      const secret = configuredSecret(
        { variable: 'INGEST_SECRET', parameter: 'ingest-secret' },
        { parameters, now: () => NOW },
      );
      const secrets = secretList(secret!, 'SSM parameter ingest-secret');
      const { deps } = dependencies({ secrets });
      expect(
        (await ingestEvents(signedRequest(userDeleted('e-1', 'c-1'), { secret: stored }), deps))
          .status,
      ).toBe(INGEST_STATUS.accepted);

      stored = 'new-secret-0123456789abc';
      const outcome = await ingestEvents(
        signedRequest(userDeleted('e-2', 'c-1'), { secret: stored }),
        deps,
      );

      expect(outcome.status).toBe(INGEST_STATUS.accepted);
      expect(reads).toBe(2);
    });
  });

  describe('invalid events', () => {
    it('answers 400 naming the fields of every invalid event when none is valid', async () => {
      const { deps, queue } = dependencies();
      const events = [
        { ...providerCreated('e-1', 'p-7'), type: 'provider.renamed' },
        { ...userDeleted('e-2', 'c-1'), occurredAt: 'yesterday', extra: true },
      ];

      const outcome = await ingestEvents(signedRequest(events), deps);

      expect(outcome.status).toBe(INGEST_STATUS.badRequest);
      expect(outcome.body).toMatchObject({
        accepted: [],
        rejected: [
          { index: 0, eventId: 'e-1', errors: [expect.objectContaining({ field: 'type' })] },
          {
            index: 1,
            eventId: 'e-2',
            errors: expect.arrayContaining([
              expect.objectContaining({ field: 'occurredAt' }),
              expect.objectContaining({ field: unknownKeyName('extra') }),
            ]),
          },
        ],
      });
      expect(queue.sent).toEqual([]);
    });

    it('never echoes field values in the reasons', async () => {
      const { deps } = dependencies();
      const event = providerCreated('e-1', 'p-7');
      const bad = { ...event, data: { ...event.data, email: 'ana.ruiz-at-clinic', firstName: 42 } };
      const outcome = await ingestEvents(signedRequest(bad), deps);
      const text = JSON.stringify(outcome.body);
      expect(text).toContain('data.email');
      expect(text).not.toContain('ana.ruiz-at-clinic');
    });

    it('never echoes an unknown key or an eventId that is an email', async () => {
      const { deps } = dependencies();
      const event = providerCreated('e-1', 'p-7');
      const bad = [
        { ...event, data: { ...event.data, 'ana.ruiz@example.com': 'x' } },
        { ...providerCreated('e-2', 'p-8'), eventId: 'ana.ruiz@example.com' },
      ];
      const outcome = await ingestEvents(signedRequest(bad), deps);
      expect(outcome.status).toBe(INGEST_STATUS.badRequest);
      expect(JSON.stringify(outcome.body)).not.toContain('ana.ruiz');
      expect(outcome.body).toMatchObject({
        rejected: [
          {
            index: 0,
            eventId: 'e-1',
            errors: [{ field: `data.${unknownKeyName('ana.ruiz@example.com')}` }],
          },
          { index: 1, errors: [{ field: 'eventId' }] },
        ],
      });
      expect(outcome.body).not.toHaveProperty('rejected.1.eventId');
    });

    it('answers 400 naming the event when the body is a JSON value that is not an event', async () => {
      const { deps } = dependencies();
      const outcome = await ingestEvents(signedRequest('hello'), deps);
      expect(outcome.status).toBe(INGEST_STATUS.badRequest);
      expect(outcome.body).toMatchObject({ accepted: [], rejected: [{ index: 0 }] });
      expect(outcome.body).not.toHaveProperty('rejected.0.eventId');
    });

    it('omits an eventId that is not a plausible id', async () => {
      const { deps } = dependencies();
      const outcome = await ingestEvents(
        signedRequest([{ eventId: 42 }, { eventId: 'x'.repeat(500) }]),
        deps,
      );
      expect(outcome.body).toMatchObject({ rejected: [{ index: 0 }, { index: 1 }] });
      expect(JSON.stringify(outcome.body)).not.toContain('"eventId"');
    });

    it('rejects an event too large for one queue message, naming it, and keeps the others', async () => {
      const big = providerCreated('e-big', 'p-7');
      const small = userDeleted('e-2', 'c-2');
      const { deps, queue } = dependencies({
        limits: {
          maxBodyBytes: MAX_BODY_BYTES,
          replayWindowMs: WINDOW_MS,
          maxMessageBytes: JSON.stringify(small).length,
        },
      });
      const outcome = await ingestEvents(signedRequest([big, small]), deps);
      expect(outcome.status).toBe(INGEST_STATUS.accepted);
      expect(outcome.body).toEqual({
        accepted: ['e-2'],
        rejected: [
          {
            index: 0,
            eventId: 'e-big',
            errors: [{ field: EVENT_FIELD, reason: INGEST_REASONS.eventTooLarge }],
          },
        ],
      });
      expect(queue.sent.map((sent) => sent.eventId)).toEqual(['e-2']);
    });
  });

  describe('partial acceptance', () => {
    it('enqueues every valid event of a mixed request and answers 202 listing both sides', async () => {
      const { deps, queue } = dependencies();
      const events = [
        providerCreated('e-1', 'p-7'),
        { ...userDeleted('e-2', 'c-1'), partnerUserId: '' },
        providersChanged('e-3', 'c-1', ['p-7']),
        { type: 'user.deleted' },
        userDeleted('e-5', 'c-9'),
      ];

      const outcome = await ingestEvents(signedRequest(events), deps);

      expect(outcome.status).toBe(INGEST_STATUS.accepted);
      expect(outcome.body).toMatchObject({
        accepted: ['e-1', 'e-3', 'e-5'],
        rejected: [
          {
            index: 1,
            eventId: 'e-2',
            errors: [expect.objectContaining({ field: 'partnerUserId' })],
          },
          {
            index: 3,
            errors: expect.arrayContaining([expect.objectContaining({ field: 'eventId' })]),
          },
        ],
      });
      expect(queue.sent.map((sent) => sent.eventId)).toEqual(['e-1', 'e-3', 'e-5']);
    });

    it('answers 503 naming the valid events the queue did not take, and lets the same request be retried', async () => {
      const queue = recordingQueue(['e-2']);
      const { deps } = dependencies({ queue });
      const request = signedRequest([
        userDeleted('e-1', 'c-1'),
        userDeleted('e-2', 'c-2'),
        { eventId: 'e-3' },
      ]);

      const outcome = await ingestEvents(request, deps);

      expect(outcome.status).toBe(INGEST_STATUS.serviceUnavailable);
      expect(outcome.headers).toEqual({ 'retry-after': '1' });
      expect(outcome.body).toMatchObject({
        accepted: ['e-1'],
        rejected: [{ index: 2, eventId: 'e-3' }],
        notAccepted: [{ index: 1, eventId: 'e-2', reason: 'SQS InternalError' }],
      });
      expect(outcome.enqueued).toEqual([{ eventId: 'e-1', partnerUserId: 'c-1' }]);
      // The nonce was released: the identical signed request is not a replay.
      expect((await ingestEvents(request, deps)).body).not.toEqual({
        error: INGEST_REASONS.replayed,
      });
    });

    it('still names the events to resend when releasing the nonce fails', async () => {
      const nonces = memoryNonceStore();
      const { deps } = dependencies({
        queue: recordingQueue(['e-1']),
        nonces: {
          claim: nonces.claim,
          release: async () => {
            throw new Error('DynamoDB unavailable');
          },
        },
      });
      const outcome = await ingestEvents(signedRequest([userDeleted('e-1', 'c-1')]), deps);
      expect(outcome.status).toBe(INGEST_STATUS.serviceUnavailable);
      expect(outcome.body).toMatchObject({ notAccepted: [{ index: 0, eventId: 'e-1' }] });
    });
  });

  describe('permanent faults are answered per event, never with 503', () => {
    it('refuses a last name holding U+FFFF with 400 naming the field', async () => {
      const { deps, queue } = dependencies();
      const event = providerCreated('e-1', 'p-7');
      const bad = { ...event, data: { ...event.data, lastName: 'Ruiz\uffff' } };
      const outcome = await ingestEvents(signedRequest(bad), deps);
      expect(outcome.status).toBe(INGEST_STATUS.badRequest);
      expect(outcome.body).toEqual({
        accepted: [],
        rejected: [
          {
            index: 0,
            eventId: 'e-1',
            errors: [
              {
                field: 'data.lastName',
                reason: 'must not contain Unicode noncharacters such as U+FFFF',
              },
            ],
          },
        ],
      });
      expect(queue.sent).toEqual([]);
    });

    it('refuses every event of a request that shares an eventId, and accepts the others', async () => {
      const { deps, queue } = dependencies();
      const events = [
        providerCreated('e-1', 'p-7'),
        userDeleted('e-2', 'c-1'),
        userDeleted('e-1', 'c-2'),
      ];
      const outcome = await ingestEvents(signedRequest(events), deps);
      expect(outcome.status).toBe(INGEST_STATUS.accepted);
      const reason = 'is used by more than one event of this request (events 0, 2)';
      expect(outcome.body).toEqual({
        accepted: ['e-2'],
        rejected: [
          { index: 0, eventId: 'e-1', errors: [{ field: 'eventId', reason }] },
          { index: 2, eventId: 'e-1', errors: [{ field: 'eventId', reason }] },
        ],
      });
      expect(queue.sent.map((sent) => sent.eventId)).toEqual(['e-2']);
    });

    it.each([['9999-01-01T00:00:00.000Z'], [new Date(NOW + WINDOW_MS + 1_000).toISOString()]])(
      'refuses an event dated %s (beyond the allowed skew) naming occurredAt',
      async (occurredAt) => {
        const { deps, queue } = dependencies();
        const outcome = await ingestEvents(
          signedRequest([{ ...userDeleted('e-1', 'c-1'), occurredAt }, userDeleted('e-2', 'c-2')]),
          deps,
        );
        expect(outcome.status).toBe(INGEST_STATUS.accepted);
        expect(outcome.body).toMatchObject({
          accepted: ['e-2'],
          rejected: [{ index: 0, eventId: 'e-1', errors: [{ field: 'occurredAt' }] }],
        });
        expect(queue.sent.map((sent) => sent.eventId)).toEqual(['e-2']);
      },
    );

    it('accepts an event dated within the skew, and honours a configured skew', async () => {
      const soon = {
        ...userDeleted('e-1', 'c-1'),
        occurredAt: new Date(NOW + 60_000).toISOString(),
      };
      expect((await ingestEvents(signedRequest(soon), dependencies().deps)).status).toBe(
        INGEST_STATUS.accepted,
      );
      const strict = dependencies();
      const limits = { ...strict.deps.limits, maxFutureSkewMs: 10_000 };
      const outcome = await ingestEvents(signedRequest(soon), { ...strict.deps, limits });
      expect(outcome.status).toBe(INGEST_STATUS.badRequest);
      expect(outcome.body).toMatchObject({
        rejected: [
          {
            errors: [
              { field: 'occurredAt', reason: 'must not be more than 10 seconds in the future' },
            ],
          },
        ],
      });
    });

    it('rejects an event SQS refuses as such instead of asking for a resend', async () => {
      const { deps } = dependencies({ queue: recordingQueue([], ['e-2']) });
      const events = [userDeleted('e-1', 'c-1'), userDeleted('e-2', 'c-2')];
      const outcome = await ingestEvents(signedRequest(events), deps);
      expect(outcome.status).toBe(INGEST_STATUS.accepted);
      expect(outcome.body).toEqual({
        accepted: ['e-1'],
        rejected: [
          {
            index: 1,
            eventId: 'e-2',
            errors: [
              { field: EVENT_FIELD, reason: 'refused by the queue: SQS InvalidMessageContents' },
            ],
          },
        ],
      });
    });
  });

  describe('any signed body (fuzzed)', () => {
    /** JSON values, plus arrays mixing valid events with arbitrary values. */
    const payloadArb = fc.oneof(
      fc.jsonValue(),
      fc.array(
        fc.oneof(
          fc.jsonValue(),
          fc.constantFrom(providerCreated('e-a', 'p-1'), userDeleted('e-b', 'c-1')),
          fc.record({ eventId: fc.string(), type: fc.string(), partnerUserId: fc.string() }),
        ),
        { maxLength: 12 },
      ),
    );

    it('never throws, answers 202/400/413, names a field for every rejection, and loses no valid event', async () => {
      await fc.assert(
        fc.asyncProperty(payloadArb, async (payload) => {
          const { deps, queue } = dependencies();
          const outcome = await ingestEvents(signedRequest(payload), deps);
          expect([
            INGEST_STATUS.accepted,
            INGEST_STATUS.badRequest,
            INGEST_STATUS.payloadTooLarge,
          ]).toContain(outcome.status);
          if ('error' in outcome.body) return;
          const items = Array.isArray(payload) ? payload : [payload];
          expect(outcome.body.accepted.length + outcome.body.rejected.length).toBe(items.length);
          for (const rejected of outcome.body.rejected) {
            expect(rejected.errors.length).toBeGreaterThan(0);
            for (const issue of rejected.errors) {
              expect(issue.field).not.toBe('');
              expect(issue.reason).not.toBe('');
            }
          }
          expect(queue.sent.map((sent) => sent.eventId)).toEqual(outcome.body.accepted);
        }),
        { numRuns: 200 },
      );
    });
  });
});
