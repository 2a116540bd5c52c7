/**
 * `ingest` end to end on the real emulators over HTTP: a signed POST goes through the local HTTP
 * front (`startIngestServer`) into the function-URL handler, whose replay guard writes to dynalite
 * and whose events land in the user-events FIFO queue of fauxqs. Nothing consumes the queue here;
 * each test reads what its own event ids produced.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createIngestHandler } from '#functions/ingest.ts';
import { QUEUES, type QueueKey, TABLE } from '#infra/resources.ts';
import { unknownKeyName } from '#lib/events/validation.ts';
import { sqsEventQueue, sqsSendBatch } from '#lib/ingest/event-queue.ts';
import { type IngestServer, startIngestServer } from '#lib/ingest/http-server.ts';
import { dynamoNonceStore, NONCE_PK_PREFIX, NONCE_SK } from '#lib/ingest/replay-guard.ts';
import { staticSecrets } from '#lib/ingest/secrets.ts';
import { postEvents, postSigned } from '#lib/ingest/send.ts';
import { signedContentDigest } from '#lib/signing.ts';
import { sqsGroupId } from '#lib/sqs/message-ids.ts';
import {
  capturingLogger,
  providerCreated,
  providersChanged,
  userDeleted,
} from '#test/unit/ingest/fakes.ts';
import {
  createQueues,
  createTable,
  type LocalService,
  startDynamoDb,
  startSqsS3,
} from '#tools/local/aws-services.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#tools/local/stack.ts';

const SECRET = 'integration-secret-0123456789';
const STAGE = 'ingest-it';
const TABLE_NAME = `upheal-sync-${STAGE}-state`;
const REPLAY_WINDOW_MS = 300_000;
/** Small enough that a test can exceed it cheaply, large enough for every other request here. */
const MAX_BODY_BYTES = 16_384;

let sqsService: LocalService;
let dynamoService: LocalService;
let sqs: SQSClient;
let queueUrls: Record<QueueKey, string>;
let queueUrl: string;
/** Two handler instances with their own clients: Lambda instances share no memory. */
const instances: { server: IngestServer; dynamodb: DynamoDBClient }[] = [];

beforeAll(async () => {
  [sqsService, dynamoService] = await Promise.all([startSqsS3(), startDynamoDb()]);
  const clientConfig = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  sqs = new SQSClient({ ...clientConfig, endpoint: sqsService.endpoint });
  const admin = new DynamoDBClient({ ...clientConfig, endpoint: dynamoService.endpoint });
  await createTable(admin, TABLE_NAME);
  admin.destroy();
  queueUrls = (await createQueues(sqs, STAGE)).queueUrls;
  queueUrl = queueUrls.userEvents;
  for (let i = 0; i < 2; i++) {
    const dynamodb = new DynamoDBClient({ ...clientConfig, endpoint: dynamoService.endpoint });
    const handler = createIngestHandler({
      secrets: staticSecrets(SECRET),
      nonces: dynamoNonceStore(dynamodb, TABLE_NAME),
      queue: sqsEventQueue({ sendBatch: sqsSendBatch(sqs), queueUrl }),
      limits: { maxBodyBytes: MAX_BODY_BYTES, replayWindowMs: REPLAY_WINDOW_MS },
      now: Date.now,
      logger: capturingLogger(),
    });
    instances.push({ server: await startIngestServer({ handler }), dynamodb });
  }
});

afterAll(async () => {
  await Promise.all(instances.map((instance) => instance.server.stop()));
  for (const instance of instances) instance.dynamodb.destroy();
  sqs?.destroy();
  await Promise.all([sqsService?.stop(), dynamoService?.stop()]);
});

/** Ids unique to the running test, so SQS deduplication of one test never hides another's events. */
let run: string;
beforeEach(() => {
  run = randomUUID().slice(0, 8);
});
const id = (name: string) => `${run}-${name}`;

const url = () => instances[0]!.server.url;

/**
 * Receives and deletes every message currently in the queue (FIFO releases a group's next message
 * only after the previous one is deleted), with the FIFO system attributes.
 */
async function drainQueue(): Promise<Message[]> {
  const drained: Message[] = [];
  for (let emptyReceives = 0; emptyReceives < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['MessageGroupId', 'MessageDeduplicationId'],
      }),
    );
    if (Messages.length === 0) emptyReceives++;
    for (const message of Messages) {
      drained.push(message);
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
  }
  return drained;
}

/** What a drained message says: its event id, group and deduplication id. */
function summary(message: Message) {
  return {
    eventId: (JSON.parse(message.Body ?? '{}') as { eventId: string }).eventId,
    group: message.Attributes?.MessageGroupId,
    dedup: message.Attributes?.MessageDeduplicationId,
  };
}

describe('ingest on the local stack', () => {
  it('puts valid events on the FIFO queue with group = partner user id and dedup id = event id', async () => {
    const events = [
      providerCreated(id('e1'), 'p-7'),
      providersChanged(id('e2'), 'c 1001', ['p-7']),
      userDeleted(id('e3'), 'p-7'),
    ];

    const result = await postEvents(url(), SECRET, events);

    expect(result).toEqual({
      status: 202,
      body: { accepted: events.map((e) => e.eventId), rejected: [] },
    });
    const messages = await drainQueue();
    expect(messages.map(summary)).toEqual(
      expect.arrayContaining([
        { eventId: id('e1'), group: 'p-7', dedup: id('e1') },
        { eventId: id('e2'), group: sqsGroupId('c 1001'), dedup: id('e2') },
        { eventId: id('e3'), group: 'p-7', dedup: id('e3') },
      ]),
    );
    expect(messages).toHaveLength(3);
    // One user's events come out in the order the partner sent them.
    const p7 = messages.map(summary).filter((message) => message.group === 'p-7');
    expect(p7.map((message) => message.eventId)).toEqual([id('e1'), id('e3')]);
    // The body is the partner's own JSON of the event.
    expect(messages.map((message) => JSON.parse(message.Body!))).toContainEqual(events[1]);
  });

  it('enqueues events once when the partner POSTs them again under a new signature', async () => {
    const events = [providerCreated(id('e1'), 'p-1'), userDeleted(id('e2'), 'c-2')];
    const now = Date.now();

    const first = await postEvents(url(), SECRET, events, { now });
    const again = await postEvents(instances[1]!.server.url, SECRET, events, { now: now + 1 });

    expect([first.status, again.status]).toEqual([202, 202]);
    const messages = await drainQueue();
    expect(
      messages
        .map(summary)
        .map((message) => message.eventId)
        .sort(),
    ).toEqual([id('e1'), id('e2')]);
  });

  it('rejects a replayed request as 401 replayed, on any instance, and enqueues nothing more', async () => {
    const body = JSON.stringify(userDeleted(id('e1'), 'c-1'));
    const now = Date.now();

    const first = await postSigned(url(), SECRET, body, { now });
    const sameInstance = await postSigned(url(), SECRET, body, { now });
    const otherInstance = await postSigned(instances[1]!.server.url, SECRET, body, { now });

    expect(first.status).toBe(202);
    expect(sameInstance).toEqual({ status: 401, body: { error: 'replayed' } });
    expect(otherInstance).toEqual({ status: 401, body: { error: 'replayed' } });
    expect(await drainQueue()).toHaveLength(1);
  });

  it('records the nonce in the table with a TTL at the end of the replay window', async () => {
    const body = JSON.stringify(userDeleted(id('e1'), 'c-1'));
    const now = Date.now();
    await postSigned(url(), SECRET, body, { now });
    await drainQueue();

    const { Item } = await instances[0]!.dynamodb.send(
      new GetItemCommand({
        TableName: TABLE_NAME,
        Key: {
          [TABLE.partitionKey]: { S: `${NONCE_PK_PREFIX}${signedContentDigest(now, body)}` },
          [TABLE.sortKey]: { S: NONCE_SK },
        },
      }),
    );
    expect(Item?.[TABLE.ttlAttribute]).toEqual({
      N: String(Math.ceil((now + REPLAY_WINDOW_MS) / 1000)),
    });
  });

  it('lets exactly one of many concurrent claims of one nonce win, across clients', async () => {
    const nonce = `race-${run}`;
    const now = Date.now();
    const stores = instances.map((instance) => dynamoNonceStore(instance.dynamodb, TABLE_NAME));

    const wins = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        stores[i % stores.length]!.claim(nonce, now + 60_000, now),
      ),
    );

    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it('treats a nonce past its expiry as free even before DynamoDB TTL deletes it', async () => {
    const store = dynamoNonceStore(instances[0]!.dynamodb, TABLE_NAME);
    const nonce = `expiry-${run}`;
    const now = Date.now();

    expect(await store.claim(nonce, now + 10_000, now)).toBe(true);
    expect(await store.claim(nonce, now + 20_000, now + 5_000)).toBe(false);
    expect(await store.claim(nonce, now + 40_000, now + 12_000)).toBe(true);
  });

  it('answers 400 naming the fields of invalid events and enqueues nothing', async () => {
    const events = [
      { ...providerCreated(id('e1'), 'p-1'), type: 'provider.archived' },
      { ...userDeleted(id('e2'), 'c-1'), partnerUserId: '' },
    ];

    const result = await postEvents(url(), SECRET, events);

    expect(result.status).toBe(400);
    expect(result.body).toEqual({
      accepted: [],
      rejected: [
        { index: 0, eventId: id('e1'), errors: [expect.objectContaining({ field: 'type' })] },
        {
          index: 1,
          eventId: id('e2'),
          errors: [expect.objectContaining({ field: 'partnerUserId' })],
        },
      ],
    });
    expect(await drainQueue()).toEqual([]);
  });

  it('answers faults SQS would refuse forever per event, never 503: U+FFFF, a shared eventId, a 9999 date', async () => {
    const base = providerCreated(id('ok'), 'c 1001');
    const good = { ...base, data: { ...base.data, email: 'c1001@clinic.example.com' } };
    const uffff = {
      ...providerCreated(id('e1'), 'p-1'),
      data: { ...good.data, lastName: 'Ruiz\uffff' },
    };
    const events = [
      good,
      uffff,
      userDeleted(id('dupe'), 'c-2'),
      userDeleted(id('dupe'), 'c-3'),
      { ...userDeleted(id('e4'), 'ü-1'), occurredAt: '9999-01-01T00:00:00.000Z' },
    ];

    const result = await postEvents(url(), SECRET, events);

    expect(result.status).toBe(202);
    expect(result.body).toMatchObject({
      accepted: [id('ok')],
      rejected: [
        { index: 1, errors: [{ field: 'data.lastName' }] },
        { index: 2, errors: [{ field: 'eventId' }] },
        { index: 3, errors: [{ field: 'eventId' }] },
        { index: 4, errors: [{ field: 'occurredAt' }] },
      ],
    });
    expect((await drainQueue()).map(summary)).toEqual([
      { eventId: id('ok'), group: sqsGroupId('c 1001'), dedup: id('ok') },
    ]);
  });

  it('reports a message SQS refuses as such as permanent, so it is never retried', async () => {
    const queue = sqsEventQueue({ sendBatch: sqsSendBatch(sqs), queueUrl, sleep: async () => {} });
    const body = JSON.stringify({ eventId: id('e1'), note: '\uffff' }).replace('\\uffff', '\uffff');

    const failures = await queue.enqueue([
      { eventId: id('e1'), partnerUserId: 'c-1', body },
      {
        eventId: id('e2'),
        partnerUserId: 'c-2',
        body: JSON.stringify(userDeleted(id('e2'), 'c-2')),
      },
    ]);

    expect(failures).toEqual([{ index: 0, reason: 'SQS InvalidMessageContents', permanent: true }]);
    expect((await drainQueue()).map(summary).map((message) => message.eventId)).toEqual([id('e2')]);
  });

  it('accepts the valid events of a mixed batch with 202 and enqueues exactly those', async () => {
    const events = [
      providerCreated(id('e1'), 'p-1'),
      { ...providerCreated(id('e2'), 'p-2'), data: { firstName: 'Ana' } },
      userDeleted(id('e3'), 'c-3'),
    ];

    const result = await postEvents(url(), SECRET, events);

    expect(result.status).toBe(202);
    expect(result.body).toMatchObject({
      accepted: [id('e1'), id('e3')],
      rejected: [
        {
          index: 1,
          eventId: id('e2'),
          errors: expect.arrayContaining([expect.objectContaining({ field: 'data.email' })]),
        },
      ],
    });
    const enqueued = (await drainQueue()).map(summary).map((message) => message.eventId);
    expect(enqueued.sort()).toEqual([id('e1'), id('e3')]);
  });

  it('refuses an oversized body with 413 and a wrong content type with 415, enqueueing nothing', async () => {
    const padding = 'x'.repeat(MAX_BODY_BYTES);
    const oversized = await postSigned(
      url(),
      SECRET,
      JSON.stringify([userDeleted(id('e1'), 'c-1'), padding]),
    );
    const textPlain = await postEvents(url(), SECRET, userDeleted(id('e2'), 'c-2'), {
      headers: { 'content-type': 'text/plain' },
    });

    expect(oversized).toEqual({ status: 413, body: { error: 'body too large' } });
    expect(textPlain).toEqual({
      status: 415,
      body: { error: 'content type must be application/json' },
    });
    expect(await drainQueue()).toEqual([]);
  });

  it('refuses each kind of bad request with its status and reason, and delivers the good one among them', async () => {
    const good = userDeleted(id('good'), 'c-1');
    const body = (name: string) => JSON.stringify(userDeleted(id(name), 'c-1'));
    const now = Date.now();

    const answers = {
      badSignature: await postSigned(url(), 'not-the-shared-secret-000', body('b1')),
      stale: await postSigned(url(), SECRET, body('b2'), { now: now - REPLAY_WINDOW_MS - 1000 }),
      future: await postSigned(url(), SECRET, body('b3'), { now: now + REPLAY_WINDOW_MS + 1000 }),
      unsigned: await postSigned(url(), SECRET, body('b4'), {
        headers: { 'x-upheal-sync-signature': '' },
      }),
      malformed: await postSigned(url(), SECRET, '[{"eventId": '),
      good: await postEvents(url(), SECRET, good),
    };

    expect(answers).toEqual({
      badSignature: { status: 401, body: { error: 'bad signature' } },
      stale: { status: 401, body: { error: 'stale timestamp' } },
      future: { status: 401, body: { error: 'timestamp in the future' } },
      unsigned: { status: 401, body: { error: 'missing signature' } },
      malformed: { status: 400, body: { error: 'malformed JSON' } },
      good: { status: 202, body: { accepted: [good.eventId], rejected: [] } },
    });
    expect((await drainQueue()).map(summary).map((message) => message.eventId)).toEqual([
      good.eventId,
    ]);
  });

  it('works as the esbuild bundle that deploys, configured from the environment, logging no event data', async () => {
    const bundle = `${process.cwd()}/dist/functions/ingest/index.mjs`;
    expect(existsSync(bundle), 'run npm run build first').toBe(true);
    Object.assign(process.env, {
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: sqsService.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynamoService.endpoint,
      TABLE_NAME,
      // Every queue variable the shared configuration requires, as the local stack sets them.
      ...Object.fromEntries(
        (Object.keys(QUEUES) as QueueKey[]).map((key) => [QUEUES[key].urlEnv, queueUrls[key]]),
      ),
      UPHEAL_API_KEY: 'local-dev-key',
      INGEST_SECRET: SECRET,
    });
    const { handler } = (await import(bundle)) as {
      handler: Parameters<typeof startIngestServer>[0]['handler'];
    };
    const server = await startIngestServer({ handler });
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      written.push(String(chunk));
      return true;
    });
    try {
      const event = providerCreated(id('e1'), 'p-bundle');
      const result = await postEvents(server.url, SECRET, [
        event,
        { ...event, eventId: id('e2'), extra: 1 },
      ]);

      expect(result).toEqual({
        status: 202,
        body: {
          accepted: [id('e1')],
          rejected: [
            {
              index: 1,
              eventId: id('e2'),
              errors: [expect.objectContaining({ field: unknownKeyName('extra') })],
            },
          ],
        },
      });
      expect((await drainQueue()).map(summary)).toEqual([
        { eventId: id('e1'), group: 'p-bundle', dedup: id('e1') },
      ]);
      const log = written.join('');
      expect(log).toContain(id('e1'));
      for (const clinicalOrSecret of [
        event.data.email,
        event.data.firstName,
        event.data.lastName,
        SECRET,
      ]) {
        expect(log).not.toContain(clinicalOrSecret);
      }
    } finally {
      spy.mockRestore();
      await server.stop();
    }
  });
});
