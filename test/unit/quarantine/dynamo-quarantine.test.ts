/**
 * The shared quarantine on a real DynamoDB (dynalite over HTTP): several instances (one
 * DynamoQuarantine each, as Lambda instances have) share the one item, in fake time.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BadRequestError,
  NotFoundError,
  QuarantinedError,
  RateLimitedError,
  ServerError,
  TimeoutError,
  UnauthorizedError,
} from '#lib/errors.ts';
import {
  DynamoQuarantine,
  HEALTHY_STATE_CACHE_MS,
  QUARANTINE_KEY,
  readQuarantine,
  STATE_CACHE_MS,
} from '#lib/quarantine/dynamo-quarantine.ts';
import {
  MIN_FAULT_SHARE,
  QUARANTINE_REASONS,
  RECENT_CALLS,
} from '#lib/quarantine/quarantine-rules.ts';
import { documentClient } from '#lib/store/document-client.ts';
import { createTable, startDynamoDb } from '#tools/local/aws-services.ts';
import { localClientConfig } from '#tools/local/stack.ts';

const TABLE_NAME = 'quarantine-test';
const SETTINGS = { errorThreshold: 3, errorWindowMs: 30_000, probeIntervalMs: 20_000 } as const;
const START = 1_800_000_000_000;
const serverError = () => new ServerError('upheal check: HTTP 503', 503, undefined, undefined);
const unauthorized = () =>
  new UnauthorizedError('upheal check: HTTP 401', 401, undefined, undefined);

let stop: () => Promise<void>;
let documents: DynamoDBDocumentClient;
let dynamo: DynamoDBClient;

beforeAll(async () => {
  const service = await startDynamoDb();
  dynamo = new DynamoDBClient(localClientConfig(service.endpoint));
  await createTable(dynamo, TABLE_NAME);
  documents = documentClient(dynamo);
  stop = service.stop;
});

afterAll(async () => {
  dynamo?.destroy();
  await stop?.();
});

/** A clock shared by the instances of one test, and what the probe answers. */
let clock: { now: number };
let probeAnswer: () => Promise<void>;
let probes: number;
let gates: boolean[];

beforeEach(async () => {
  clock = { now: START };
  probeAnswer = async () => {
    throw serverError();
  };
  probes = 0;
  gates = [];
  await documents.send(new DeleteCommand({ TableName: TABLE_NAME, Key: QUARANTINE_KEY }));
});

/** One instance's quarantine (on `client`, the shared one unless a test counts its requests). */
const instance = (client: DynamoDBDocumentClient = documents) =>
  new DynamoQuarantine({
    client,
    tableName: TABLE_NAME,
    settings: SETTINGS,
    probe: async () => {
      probes += 1;
      await probeAnswer();
    },
    onGate: (held) => gates.push(held),
    now: () => clock.now,
  });

/** Lets every instance's cached view expire. */
const later = (ms: number) => {
  clock.now += Math.max(ms, HEALTHY_STATE_CACHE_MS);
};

describe('DynamoQuarantine', () => {
  it('lets calls through while Upheal answers, and ignores faults of a record (400, 404, 429)', async () => {
    const a = instance();
    for (const error of [
      new BadRequestError('upheal createClient: HTTP 400', 400, undefined, undefined),
      new NotFoundError('upheal updateUser: HTTP 404', 404, undefined, undefined),
      new RateLimitedError('upheal check: HTTP 429', 429, undefined, undefined, undefined),
      new Error('a bug'),
    ]) {
      await a.report(error);
    }
    later(0);
    await expect(a.admit()).resolves.toBeUndefined();
    expect((await a.view()).quarantined).toBe(false);
    expect(gates).toEqual([false]);
  });

  it('reads the item every few seconds while its calls are answered, every second once it sees a fault', async () => {
    let reads = 0;
    const counting = new Proxy(documents, {
      get(target, property, receiver) {
        if (property !== 'send') return Reflect.get(target, property, receiver);
        return (command: Parameters<typeof documents.send>[0]) => {
          if (command instanceof GetCommand) reads += 1;
          return target.send(command);
        };
      },
    });
    const a = instance(counting);
    const guard = a.guard();
    guard.afterSuccess!();
    const readsOver = async (ms: number) => {
      const before = reads;
      for (let at = 0; at < ms; at += 100) {
        await guard.beforeCall();
        clock.now += 100;
      }
      return reads - before;
    };
    expect(await readsOver(2 * HEALTHY_STATE_CACHE_MS)).toBe(2);
    // A fault among its recent calls: it looks at the item every second again, so a quarantine
    // another instance starts reaches it within STATE_CACHE_MS.
    await guard.afterFailure!(serverError()).catch(() => undefined);
    // (The fault's report read it at the fault; then once a second.)
    expect(await readsOver(5 * STATE_CACHE_MS)).toBe(4);
    await instance().report(unauthorized());
    clock.now += STATE_CACHE_MS;
    await expect(guard.beforeCall()).rejects.toBeInstanceOf(QuarantinedError);
  });

  it('quarantines every instance at once when Upheal refuses the key (401)', async () => {
    const [a, b] = [instance(), instance()];
    await a.report(unauthorized());
    later(0);
    const error = await b.admit().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(QuarantinedError);
    expect((error as QuarantinedError).retryAfterMs).toBeLessThanOrEqual(SETTINGS.probeIntervalMs);
    // How long the quarantine has lasted, for the record's deferral to grow with.
    expect((error as QuarantinedError).quarantinedForMs).toBe(HEALTHY_STATE_CACHE_MS);
    expect(await readQuarantine(documents, TABLE_NAME)).toMatchObject({
      quarantined: true,
      reason: QUARANTINE_REASONS.unauthorized,
      since: new Date(START).toISOString(),
    });
    expect(gates).toEqual([true]);
  });

  it('does not count a fault among many answers (Upheal failing now and then), and counts once faults are common', async () => {
    const a = instance();
    const guard = a.guard();
    for (let call = 0; call < RECENT_CALLS; call += 1) guard.afterSuccess!();
    // Below MIN_FAULT_SHARE of the latest calls: retried by the records, never counted.
    const uncounted = Math.ceil(MIN_FAULT_SHARE * RECENT_CALLS) - 1;
    for (let fault = 0; fault < uncounted; fault += 1) {
      await expect(a.report(serverError())).resolves.toBe(false);
    }
    later(0);
    await expect(a.admit()).resolves.toBeUndefined();
    // From the share on, every fault counts: the threshold quarantines as before.
    for (let fault = 0; fault < SETTINGS.errorThreshold - 1; fault += 1) {
      await expect(a.report(serverError())).resolves.toBe(false);
    }
    await expect(a.report(serverError())).resolves.toBe(true);
    later(0);
    await expect(a.admit()).rejects.toBeInstanceOf(QuarantinedError);
  });

  it('counts 5xx and timeouts across instances, and quarantines at the threshold within the window', async () => {
    const [a, b, c] = [instance(), instance(), instance()];
    await a.report(serverError());
    await b.report(new TimeoutError('upheal check: timeout', undefined, undefined, undefined));
    later(0);
    await expect(c.admit()).resolves.toBeUndefined();
    await c.report(serverError());
    later(0);
    await expect(a.admit()).rejects.toBeInstanceOf(QuarantinedError);
    expect((await a.view()).reason).toBe(QUARANTINE_REASONS.failing);
  });

  it('starts counting again after the error window: scattered faults never quarantine', async () => {
    const [a, b] = [instance(), instance()];
    for (let round = 0; round < 4; round += 1) {
      await a.report(serverError());
      await b.report(serverError());
      later(SETTINGS.errorWindowMs);
    }
    await expect(a.admit()).resolves.toBeUndefined();
  });

  it('probes once per interval across instances, and stays quarantined while Upheal fails', async () => {
    const [a, b, c] = [instance(), instance(), instance()];
    await a.report(unauthorized());
    later(SETTINGS.probeIntervalMs);
    const held = await Promise.allSettled([a.admit(), b.admit(), c.admit()]);
    expect(held.every((result) => result.status === 'rejected')).toBe(true);
    expect(probes).toBe(1);
    later(SETTINGS.probeIntervalMs / 2);
    await expect(b.admit()).rejects.toBeInstanceOf(QuarantinedError);
    expect(probes).toBe(1);
    expect((await a.view()).probes).toBe(1);
  });

  it('resumes the sync for every instance when a probe gets an answer, keeping the last quarantine', async () => {
    const [a, b] = [instance(), instance()];
    await a.report(unauthorized());
    later(SETTINGS.probeIntervalMs);
    // A 404 for the reserved address is an answer: Upheal is up and takes the key.
    probeAnswer = async () => {
      throw new NotFoundError('upheal check: HTTP 404', 404, undefined, undefined);
    };
    await expect(a.admit()).resolves.toBeUndefined();
    const resumedAt = clock.now;
    later(0);
    await expect(b.admit()).resolves.toBeUndefined();
    expect(await readQuarantine(documents, TABLE_NAME)).toEqual({
      quarantined: false,
      since: undefined,
      reason: undefined,
      probes: 1,
      last: {
        since: new Date(START).toISOString(),
        reason: QUARANTINE_REASONS.unauthorized,
        resumedAt: new Date(resumedAt).toISOString(),
      },
    });
    // Faults counted before the quarantine do not count towards the next one.
    await b.report(serverError());
    later(0);
    await expect(a.admit()).resolves.toBeUndefined();
  });

  it('defers the record whose own call found the key refused, instead of failing it', async () => {
    const guard = instance().guard();
    const refused = unauthorized();
    const deferred = await guard.afterFailure!(refused).catch((caught: unknown) => caught);
    expect(deferred).toBeInstanceOf(QuarantinedError);
    // A fault below the threshold, or a record's own fault, is left to the outcome policy.
    await documents.send(new DeleteCommand({ TableName: TABLE_NAME, Key: QUARANTINE_KEY }));
    later(0);
    const fresh = instance().guard();
    await expect(fresh.afterFailure!(serverError())).resolves.toBeUndefined();
    await expect(
      fresh.afterFailure!(
        new NotFoundError('upheal updateUser: HTTP 404', 404, undefined, undefined),
      ),
    ).resolves.toBeUndefined();
  });

  it('treats a probe that got a 429 as saying nothing: the quarantine stays', async () => {
    const a = instance();
    await a.report(unauthorized());
    later(SETTINGS.probeIntervalMs);
    probeAnswer = async () => {
      throw new RateLimitedError('upheal check: HTTP 429', 429, undefined, undefined, 1000);
    };
    await expect(a.admit()).rejects.toBeInstanceOf(QuarantinedError);
    expect(probes).toBe(1);
    expect((await a.view()).quarantined).toBe(true);
  });
});
