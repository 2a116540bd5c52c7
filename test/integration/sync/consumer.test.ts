/**
 * The SQS consumer (`lib/sqs/consumer.ts`) on real fauxqs and dynalite: partial batch responses,
 * deferral that does not count as an attempt, retries and dead-lettering, permanent failures
 * recorded and acknowledged, FIFO groups skipped only behind their own failure, and the outbound
 * events of each outcome.
 */
import {
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { QueueKey } from '#infra/resources.ts';
import { ServerError, SlotUnavailableError } from '#lib/errors.ts';
import { deadlineGuard } from '#lib/limiter/guarded-upheal.ts';
import { MIN_BULK_RECORDS_IN_PARALLEL, MIN_RECORDS_IN_PARALLEL } from '#lib/limiter/parallelism.ts';
import { createLogger } from '#lib/observability/logger.ts';
import { SqsOutboundPublisher } from '#lib/outbound/outbound-events.ts';
import { type ConsumerDeps, type RecordWork, sqsConsumer } from '#lib/sqs/consumer.ts';
import { BASE_DELAY_MS } from '#lib/sqs/outcome-policy.ts';
import { attemptsKey } from '#lib/store/keys.ts';
import { syncUserWork } from '#lib/sync/record-work.ts';
import { providerEvent } from '#test/helpers/events.ts';
import { type SyncFixture, startSyncFixture } from '#test/helpers/sync-fixture.ts';
import { toSqsEvent } from '#tools/local/sqs-event.ts';

let fixture: SyncFixture;
const logger = createLogger('consumer-test');
logger.setLogLevel('SILENT');
const context = {
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

/** What an Upheal call may take in these tests: the slot wait plus the timeout, say. */
const CALL_BUDGET_MS = 13_000;

beforeAll(async () => {
  fixture = await startSyncFixture();
});

afterAll(async () => {
  await fixture?.stop();
});

let groupSeq = 0;
beforeEach(() => {
  groupSeq += 1;
});

/**
 * Sends bodies to a queue (group per body unless given) and receives them back as one SQS event.
 * Messages of earlier tests that come back into view (their handlers never delete what they
 * apply, and on a loaded machine their visibility runs out) are deleted, not handed on.
 */
async function batchOf(
  key: QueueKey,
  bodies: { body: string; group?: string }[],
): Promise<SQSEvent> {
  const sqs: SQSClient = fixture.sqs;
  const url = fixture.queues.queueUrls[key];
  const { Successful = [] } = await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: bodies.map((entry, index) => ({
        Id: String(index),
        MessageBody: entry.body,
        MessageGroupId: entry.group ?? `g${groupSeq}-${index}`,
        MessageDeduplicationId: `d${groupSeq}-${index}-${Date.now()}`,
      })),
    }),
  );
  const sent = new Set(Successful.map((entry) => entry.MessageId));
  const messages: Message[] = [];
  for (let attempt = 0; attempt < 10 && messages.length < bodies.length; attempt++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: url,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
        WaitTimeSeconds: 1,
      }),
    );
    for (const message of Messages) {
      if (sent.has(message.MessageId)) messages.push(message);
      else
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }),
        );
    }
  }
  return toSqsEvent(messages, fixture.queues.queueArns[key], 'us-east-1');
}

/** A consumer whose work is given; failures and attempts go to the fixture's table. */
function consumerWith(work: RecordWork, maxAttempts = 3) {
  return sqsConsumer(
    { sqs: fixture.sqs, failures: fixture.failures, logger, maxAttempts, dependencyWaitMs: 60_000 },
    work,
  );
}

/**
 * A consumer on a fake clock (its sleeps, recorded in `slept`, only move the clock) running the
 * work `workOf` builds on that clock; `deps` override the defaults (the middle of every random
 * spread).
 */
function fakeClockConsumer(
  workOf: (clock: { now: number }) => RecordWork,
  deps: Partial<ConsumerDeps> = {},
) {
  const clock = { now: 1_000_000 };
  const slept: number[] = [];
  const handler = sqsConsumer(
    {
      sqs: fixture.sqs,
      failures: fixture.failures,
      logger,
      maxAttempts: 3,
      dependencyWaitMs: 60_000,
      random: () => 0.5,
      now: () => clock.now,
      sleep: async (ms) => {
        slept.push(ms);
        clock.now += ms;
      },
      ...deps,
    },
    workOf(clock),
  );
  return { handler, slept, clock };
}

/**
 * A consumer on a fake clock whose work throws `refusal` for the `refusedRun`th record it runs
 * (after `slowMs` of its clock) and applies the others; `deps` override the defaults (one record
 * at a time).
 */
function gatedConsumer(
  refusal: SlotUnavailableError,
  deps: Partial<ConsumerDeps> = {},
  slowMs = 0,
  refusedRun = 1,
) {
  const ran: string[] = [];
  const consumer = fakeClockConsumer(
    (clock) => ({
      run: async (record) => {
        ran.push(record.messageId);
        if (ran.length !== refusedRun) return;
        clock.now += slowMs;
        throw refusal;
      },
      describe: () => ({ operation: 'test' }),
    }),
    { recordsInParallel: 1, ...deps },
  );
  return { ...consumer, ran };
}

async function attemptsOf(messageId: string): Promise<number | undefined> {
  const { Item } = await fixture.documents.send(
    new GetCommand({ TableName: fixture.tableName, Key: attemptsKey(messageId) }),
  );
  return Item?.attempts as number | undefined;
}

async function receiveAll(url: string): Promise<Message[]> {
  const all: Message[] = [];
  for (;;) {
    const { Messages = [] } = await fixture.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return all;
    all.push(...Messages);
  }
}

describe('sqsConsumer', () => {
  it('acknowledges applied and permanently failed records, and reports only the waiting one', async () => {
    const outbound = new SqsOutboundPublisher(fixture.sqs, fixture.queues.queueUrls.outbound);
    const handler = consumerWith(
      syncUserWork({
        ...fixture.deps,
        leases: fixture.leases,
        upheal: fixture.uphealForMessage,
        outbound,
        logger,
        shareInviteUrl: false,
      }),
    );
    const good = providerEvent('p-consumer-ok', 0);
    const invalid = {
      ...providerEvent('p-consumer-bad', 0),
      data: { email: 'nope', firstName: 'A', lastName: 'B' },
    };
    const waiting = {
      eventId: 'evt-consumer-wait',
      type: 'client.created',
      occurredAt: '2026-11-27T10:00:00.000Z',
      partnerUserId: 'c-consumer-wait',
      data: { firstName: 'A', lastName: 'B', providerPartnerUserIds: ['p-not-there'] },
    };
    const event = await batchOf('userEvents', [
      { body: JSON.stringify(good) },
      { body: JSON.stringify(invalid) },
      { body: JSON.stringify(waiting) },
    ]);
    const waitingId = event.Records.find((record) =>
      record.body.includes('c-consumer-wait'),
    )!.messageId;

    const response = await handler(event, context);

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: waitingId }]);
    expect(await attemptsOf(waitingId)).toBeUndefined();
    const failures = await fixture.failures.list();
    expect(failures.find((failure) => failure.partnerUserId === 'p-consumer-bad')?.reason).toMatch(
      /data\.email/,
    );
    const published = (await receiveAll(fixture.queues.queueUrls.outbound)).map(
      (message) =>
        JSON.parse(message.Body ?? '{}') as {
          type: string;
          partnerUserId?: string;
          inviteUrl?: string;
        },
    );
    expect(published.map((e) => [e.type, e.partnerUserId])).toEqual(
      expect.arrayContaining([
        ['user.created', 'p-consumer-ok'],
        ['user.failed', 'p-consumer-bad'],
      ]),
    );
    expect(published.some((e) => e.inviteUrl !== undefined)).toBe(false);
  });

  it.each(['userEvents', 'imports'] as const)(
    'fails an event dated 9999-01-01 on the %s queue for good, naming occurredAt, without touching the user',
    async (queue) => {
      const outbound = new SqsOutboundPublisher(fixture.sqs, fixture.queues.queueUrls.outbound);
      const handler = consumerWith(
        syncUserWork({
          ...fixture.deps,
          leases: fixture.leases,
          upheal: fixture.uphealForMessage,
          outbound,
          logger,
          shareInviteUrl: false,
        }),
      );
      const partnerUserId = `p-far-future-${queue}`;
      const future = { ...providerEvent(partnerUserId, 0), occurredAt: '9999-01-01T00:00:00.000Z' };
      const event = await batchOf(queue, [{ body: JSON.stringify(future) }]);

      const response = await handler(event, context);

      expect(response.batchItemFailures).toEqual([]);
      const failure = (await fixture.failures.list()).find(
        (f) => f.partnerUserId === partnerUserId,
      );
      expect(failure?.reason).toMatch(
        /occurredAt: must not be more than 300 seconds in the future/,
      );
      expect(await fixture.deps.mappings.get(partnerUserId)).toBeUndefined();
    },
  );

  it('defers a record with no rate-limit slot without counting an attempt', async () => {
    const handler = consumerWith({
      run: async () => {
        throw new SlotUnavailableError(1500);
      },
      describe: () => ({ operation: 'test' }),
    });
    const event = await batchOf('userEvents', [{ body: '{}' }]);
    const response = await handler(event, context);
    expect(response.batchItemFailures).toHaveLength(1);
    expect(await attemptsOf(event.Records[0]!.messageId)).toBeUndefined();
  });

  it('after a deferral for want of a slot, defers the next records of the queue without running them', async () => {
    // One record at a time, so the first one's deferral comes before the others start.
    const { handler, ran } = gatedConsumer(new SlotUnavailableError(5_000));
    const event = await batchOf('imports', [{ body: '{}' }, { body: '{}' }, { body: '{}' }]);
    const response = await handler(event, context);
    expect(response.batchItemFailures).toHaveLength(3);
    // Only the first record did any work (and its reads); the gate deferred the others unread.
    expect(ran).toEqual([event.Records[0]!.messageId]);
    for (const record of event.Records) expect(await attemptsOf(record.messageId)).toBeUndefined();
  });

  it('lets the next records wait out a closure shorter than a deferral, then run them', async () => {
    const { handler, ran, slept } = gatedConsumer(new SlotUnavailableError(400));
    const event = await batchOf('imports', [{ body: '{}' }, { body: '{}' }]);
    const response = await handler(event, context);
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual([
      event.Records[0]!.messageId,
    ]);
    expect(slept).toEqual([400]);
    expect(ran).toEqual(event.Records.map((record) => record.messageId));
  });

  it('sits out a refusal at its fewest records: its next records wait out the sit-out, unread', async () => {
    const sitOutMs = 3_000;
    // The slot itself would be free in 400 ms: the instance still sits out (random 0.5: the mean).
    const { handler, ran, slept } = gatedConsumer(new SlotUnavailableError(400, { bulk: true }), {
      capacitySitOutMs: sitOutMs,
    });
    const event = await batchOf('imports', [{ body: '{}' }, { body: '{}' }]);
    const response = await handler(event, context);
    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual([
      event.Records[0]!.messageId,
    ]);
    expect(slept).toEqual([sitOutMs]);
    expect(ran).toEqual(event.Records.map((record) => record.messageId));
  });

  it('defers unread, without waiting, a record the invocation has no time to wait at the gate for', async () => {
    // A slow first record: 18 of the invocation's 30 s.
    const { handler, ran, slept, clock } = gatedConsumer(
      new SlotUnavailableError(400, { bulk: true }),
      { capacitySitOutMs: 3_000, callBudgetMs: 10_000 },
      18_000,
    );
    const event = await batchOf('imports', [{ body: '{}' }, { body: '{}' }]);
    const startedAt = clock.now;
    const invocation = {
      ...context,
      getRemainingTimeInMillis: () => 30_000 - (clock.now - startedAt),
    } as Context;
    const response = await handler(event, invocation);
    // 12 s left: after the 3 s sit-out 9 s would remain, less than a call's 10 s.
    expect(response.batchItemFailures).toHaveLength(2);
    expect(ran).toEqual([event.Records[0]!.messageId]);
    expect(slept).toEqual([]);
  });

  it('does not sit out a bulk refusal while the instance still runs several records', async () => {
    const { handler, ran, slept } = gatedConsumer(
      new SlotUnavailableError(400, { bulk: true }),
      { recordsInParallel: 3, capacitySitOutMs: 3_000 },
      0,
      4,
    );
    // A new instance runs two records; a clean batch of more lets it run three.
    const warmUp = ['0', '1', '2'].map((name) => ({ body: '{}', group: `warm-up-${name}` }));
    await handler(await batchOf('imports', warmUp), context);
    // The batch's first record is refused; its fourth starts after that, at a gate closed only
    // until the slot (400 ms), not for the sit-out.
    const event = await batchOf(
      'imports',
      ['a', 'b', 'c', 'd'].map((name) => ({ body: '{}', group: `several-${name}` })),
    );
    await handler(event, context);
    expect(ran).toHaveLength(7);
    expect(slept).toEqual([400]);
  });

  it('runs two records at once in a new instance, more only after a batch of more without refusals', async () => {
    let running = 0;
    const most: number[] = [];
    const handler = consumerWith({
      run: async () => {
        running += 1;
        most[most.length - 1] = Math.max(most.at(-1) ?? 0, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
      },
      describe: () => ({ operation: 'test' }),
    });
    const batch = async (size: number, prefix: string) =>
      batchOf(
        'imports',
        Array.from({ length: size }, (_, index) => ({ body: '{}', group: `${prefix}-${index}` })),
      );
    for (const [size, prefix] of [
      [1, 'one'],
      [5, 'first'],
      [5, 'second'],
    ] as const) {
      most.push(0);
      await handler(await batch(size, prefix), context);
    }
    // One record teaches nothing; five, all served, let it run three.
    expect(most).toEqual([1, MIN_RECORDS_IN_PARALLEL, MIN_RECORDS_IN_PARALLEL + 1]);
  });

  it('runs one import record at a time after a bulk refusal, and a batch with live work still two', async () => {
    let running = 0;
    const most: number[] = [];
    const { handler } = fakeClockConsumer(() => ({
      run: async (record) => {
        running += 1;
        most[most.length - 1] = Math.max(most.at(-1) ?? 0, running);
        await new Promise((resolve) => setTimeout(resolve, 5));
        running -= 1;
        if (record.body === 'import-refused') {
          throw new SlotUnavailableError(400, { bulk: true });
        }
      },
      isImportWork: (record) => record.body.startsWith('import'),
      describe: () => ({ operation: 'test' }),
    }));
    for (const [queue, bodies, prefix] of [
      ['imports', ['import-refused', 'import', 'import'], 'bulk-refused'],
      ['userEvents', ['{}', '{}', '{}'], 'live-after'],
      // The assignments queue carries live and import work in one batch: such a batch still runs
      // two at once, and its bulk refusal does not take the count below one.
      ['imports', ['{}', 'import-refused', 'import'], 'mixed'],
      ['imports', ['import', 'import', 'import'], 'bulk-after'],
    ] as const) {
      most.push(0);
      const entries = bodies.map((body, index) => ({ body, group: `${prefix}-${index}` }));
      await handler(await batchOf(queue, entries), context);
    }
    // The import queue's count went down to one; the live queue kept its own two, and so did the
    // batch with live work in it.
    expect(most).toEqual([
      MIN_RECORDS_IN_PARALLEL,
      MIN_RECORDS_IN_PARALLEL,
      MIN_RECORDS_IN_PARALLEL,
      MIN_BULK_RECORDS_IN_PARALLEL,
    ]);
  });

  it('after a bulk refusal, has the next import record await its turn before it reads', async () => {
    const ran: string[] = [];
    // Each await of a turn takes the next answer: refused, then served.
    const turns = [false, true];
    let awaited = 0;
    const { handler } = fakeClockConsumer(
      () => ({
        run: async (record) => {
          ran.push(record.body);
          if (record.body === 'refused') throw new SlotUnavailableError(400, { bulk: true });
        },
        isImportWork: (record) => record.body !== 'live',
        describe: () => ({ operation: 'test' }),
      }),
      {
        recordsInParallel: 1,
        bulkTurn: {
          await: async () => {
            awaited += 1;
            if (turns.shift() === false) throw new SlotUnavailableError(400, { bulk: true });
          },
          longestWaitMs: 500,
        },
      },
    );
    const batch = (...bodies: string[]) =>
      batchOf(
        'imports',
        bodies.map((body) => ({ body, group: `turn-${groupSeq}-${body}` })),
      );
    await handler(await batch('refused'), context);
    expect(awaited).toBe(0);
    // A live event on the same queue does not await a turn (nor does it end the wait for one).
    await handler(await batch('live'), context);
    expect(awaited).toBe(0);
    // The batch's first record is refused its turn and deferred unread (no attempt counted); the
    // other waits out the gate, is given its turn, and runs.
    const event = await batch('a', 'b');
    const [refused, served] = event.Records;
    const response = await handler(event, context);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: refused!.messageId }]);
    expect(await attemptsOf(refused!.messageId)).toBeUndefined();
    expect(awaited).toBe(2);
    // Served again, the queue's records run without awaiting a turn.
    await handler(await batch('c'), context);
    expect(awaited).toBe(2);
    expect(ran).toEqual(['refused', 'live', served!.body, 'c']);
  });

  it('after a bulk refusal, does not await a turn the invocation has no time left for', async () => {
    const ran: string[] = [];
    let awaited = 0;
    const { handler, clock } = fakeClockConsumer(
      (fakeClock) => ({
        run: async (record) => {
          ran.push(record.body);
          if (record.body === 'refused') throw new SlotUnavailableError(400, { bulk: true });
          if (record.body === 'slow-refused') {
            fakeClock.now += 18_000;
            throw new SlotUnavailableError(400, { bulk: true });
          }
        },
        isImportWork: () => true,
        describe: () => ({ operation: 'test' }),
      }),
      {
        recordsInParallel: 1,
        callBudgetMs: 10_000,
        bulkTurn: {
          await: async () => {
            awaited += 1;
          },
          longestWaitMs: 2_000,
        },
      },
    );
    const invocation = () => {
      const startedAt = clock.now;
      return {
        ...context,
        getRemainingTimeInMillis: () => 30_000 - (clock.now - startedAt),
      } as Context;
    };
    const batch = (...bodies: string[]) =>
      batchOf(
        'imports',
        bodies.map((body) => ({ body, group: `late-turn-${groupSeq}-${body}` })),
      );
    await handler(await batch('refused'), invocation());
    // The first record awaits its turn, takes 18 of the invocation's 30 s and is refused; the
    // next one, after the 400 ms closure, has 11.6 s left: enough for a call (10 s), not for the
    // await (up to 2 s) before it, so it runs without one.
    const event = await batch('slow-refused', 'next');
    // Records of different groups may come back in either order.
    if (event.Records[0]!.body !== 'slow-refused') event.Records.reverse();
    await handler(event, invocation());
    expect(awaited).toBe(1);
    expect(ran).toEqual(['refused', 'slow-refused', 'next']);
  });

  it('does not sit out a live refusal (a pause): the next records wait for the slot only', async () => {
    const { handler, ran, slept } = gatedConsumer(new SlotUnavailableError(400), {
      capacitySitOutMs: 3_000,
    });
    const event = await batchOf('userEvents', [{ body: '{}' }, { body: '{}' }]);
    await handler(event, context);
    expect(slept).toEqual([400]);
    expect(ran).toHaveLength(2);
  });

  it('defers a record the invocation has no time left for, before any Upheal call, without counting an attempt', async () => {
    const handler = consumerWith(
      syncUserWork({
        ...fixture.deps,
        leases: fixture.leases,
        upheal: fixture.uphealForMessage,
        outbound: new SqsOutboundPublisher(fixture.sqs, fixture.queues.queueUrls.outbound),
        logger,
        shareInviteUrl: false,
        callGuard: (invocation) => deadlineGuard(invocation!, CALL_BUDGET_MS),
      }),
    );
    const event = await batchOf('userEvents', [
      { body: JSON.stringify(providerEvent('p-consumer-late', 0)) },
    ]);
    const callsBefore = fixture.simulator.stats().totalCalls;
    const late = { ...context, getRemainingTimeInMillis: () => CALL_BUDGET_MS - 1 } as Context;

    const response = await handler(event, late);

    expect(response.batchItemFailures).toHaveLength(1);
    expect(await attemptsOf(event.Records[0]!.messageId)).toBeUndefined();
    expect(fixture.simulator.stats().totalCalls).toBe(callsBefore);
    expect(await fixture.mappings.get('p-consumer-late')).toBeUndefined();
    // The next invocation, with its full timeout, applies it.
    expect((await handler(event, context)).batchItemFailures).toEqual([]);
    expect((await fixture.mappings.get('p-consumer-late'))?.state).toBe('active');
  });

  it('retries a transient failure, then dead-letters the message and records why', async () => {
    const handler = consumerWith(
      {
        run: async () => {
          throw new ServerError('upheal createProvider: HTTP 503', 503, undefined, undefined);
        },
        describe: () => ({ operation: 'provider.created', partnerUserId: 'p-transient' }),
      },
      2,
    );
    const event = await batchOf('userEvents', [{ body: '{"kept":"intact"}' }]);
    const first = await handler(event, context);
    expect(first.batchItemFailures).toHaveLength(1);
    const second = await handler(event, context);
    expect(second.batchItemFailures).toEqual([]);
    const dead = await receiveAll(fixture.queues.dlqUrls.userEvents);
    expect(dead.map((message) => message.Body)).toContain('{"kept":"intact"}');
    const failure = (await fixture.failures.list()).find((f) => f.partnerUserId === 'p-transient');
    expect(failure?.reason).toMatch(/dead-lettered after 2 attempts/);
  });

  it('backs off by the failed attempts, not by the receives that deferrals added', async () => {
    const handler = consumerWith({
      run: async () => {
        throw new ServerError('upheal checkUser: HTTP 500', 500, undefined, undefined);
      },
      describe: () => ({ operation: 'client.created', partnerUserId: 'c-deferred-often' }),
    });
    const event = await batchOf('userEvents', [{ body: '{"deferred":"often"}' }]);
    // Received a dozen times before (each a deferral for want of a slot): by the receive count the
    // backoff ceiling would be the cap (60 s); by the failures counted it is BASE_DELAY_MS.
    const record = event.Records[0]!;
    const often = {
      ...record,
      attributes: { ...record.attributes, ApproximateReceiveCount: '12' },
    };
    const response = await handler({ Records: [often] }, context);
    expect(response.batchItemFailures).toHaveLength(1);
    expect(await attemptsOf(record.messageId)).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, BASE_DELAY_MS + 500));
    const again = await receiveAll(fixture.queues.queueUrls.userEvents);
    expect(again.map((message) => message.Body)).toContain('{"deferred":"often"}');
  });

  it("skips only the rest of a failed record's message group", async () => {
    const applied: string[] = [];
    const handler = consumerWith({
      run: async (record) => {
        if (record.body === 'a1')
          throw new ServerError('upheal: HTTP 500', 500, undefined, undefined);
        applied.push(record.body);
      },
      describe: () => ({ operation: 'test' }),
    });
    const group = `fifo-${groupSeq}`;
    const event = await batchOf('userEvents', [
      { body: 'a1', group },
      { body: 'b1', group: `${group}-other` },
    ]);
    // fauxqs hands out one message per group at a time, while SQS may put several of a group in
    // one batch: add a second record of group A behind a1 (same receipt handle, new id).
    const a1 = event.Records.find((record) => record.body === 'a1')!;
    event.Records.splice(event.Records.indexOf(a1) + 1, 0, {
      ...a1,
      messageId: `${a1.messageId}-2`,
      body: 'a2',
    });
    const response = await handler(event, context);
    const failed = response.batchItemFailures.map(
      (failure) =>
        event.Records.find((record) => record.messageId === failure.itemIdentifier)?.body,
    );
    expect(failed.sort()).toEqual(['a1', 'a2']);
    expect(applied).toEqual(['b1']);
  });
});
