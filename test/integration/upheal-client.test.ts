/**
 * The typed client against the Upheal simulator over real HTTP: every endpoint, and every error
 * class the simulator can provoke. UnexpectedResponseError needs a malformed 2xx, which the
 * simulator never sends; test/unit/upheal/client.test.ts covers it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BadRequestError,
  ConflictError,
  ConnectionError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ServerError,
  TimeoutError,
  UnauthorizedError,
  UnexpectedStatusError,
  ValidationError,
} from '#lib/errors.ts';
import { UphealClient } from '#lib/upheal/client.ts';
import { DEFAULT_API_KEY } from '#tools/simulator/options.ts';
import { type Simulator, startSimulator } from '#tools/simulator/server.ts';

/** Generous for a local answer; short enough that a hung request fails fast. */
const TIMEOUT_MS = 500;
/** The simulator's body limit is 1 MiB; this many 20-character ids exceed it. */
const OVERSIZED_TEMPLATE_COUNT = 60_000;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

const clients: UphealClient[] = [];

/** A client of `simulator` on its own keep-alive Agent, closed after the file. */
function clientOf(simulator: Simulator, apiKey = DEFAULT_API_KEY): UphealClient {
  const client = new UphealClient({ baseUrl: simulator.url, apiKey, timeoutMs: TIMEOUT_MS });
  clients.push(client);
  return client;
}

afterAll(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => error,
  );
}

describe('UphealClient against the simulator', () => {
  let simulator: Simulator;
  let upheal: UphealClient;

  beforeAll(async () => {
    simulator = await startSimulator();
    upheal = clientOf(simulator);
  });

  afterEach(() => {
    simulator.setFaults({ serverError: 0, hang: 0, reset: 0, createdButFailed: 0 });
    simulator.reset();
  });

  afterAll(async () => {
    await simulator.stop();
  });

  it('runs the whole lifecycle of a provider and a client through the seven endpoints', async () => {
    await expect(upheal.checkUser('ada@example.com')).resolves.toEqual({ exists: false });

    const provider = await upheal.createProvider({
      partnerUserId: 'prov-1',
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
      noteIdentifier: 'Clinician',
    });
    expect(provider.inviteUrl).toMatch(/^https:\/\/app\.upheal\.io\/invite\//);
    await expect(upheal.checkUser('  ADA@example.com')).resolves.toEqual({
      exists: true,
      userId: provider.userId,
      isActive: true,
    });

    const second = await upheal.createProvider({
      partnerUserId: 'prov-2',
      firstName: 'Alan',
      lastName: 'Turing',
      email: 'alan@example.com',
    });
    const client = await upheal.createClient({
      therapistUserId: provider.userId,
      partnerUserId: 'client-1',
      firstName: 'Grace',
      lastName: 'Hopper',
      email: 'grace@example.com',
      pronoun: 'FeminineHer',
      dateOfBirth: '1990-02-01',
    });

    await expect(
      upheal.replaceProviders(client.userId, [provider.userId, second.userId]),
    ).resolves.toEqual([provider.userId, second.userId]);
    await upheal.updateUser(client.userId, { lastName: 'Murray Hopper', pronoun: 'NeutralThem' });
    await upheal.updateProvider(provider.userId, {
      therapyLicence: 'LCSW',
      nationalProviderIdentifier: '1234567890',
      defaultNoteTemplateIds: ['t-1'],
    });

    const byId = new Map(simulator.users().map((user) => [user.userId, user]));
    expect(byId.get(client.userId)).toMatchObject({
      lastName: 'Murray Hopper',
      pronoun: 'NeutralThem',
      providerUserIds: [provider.userId, second.userId],
    });
    expect(byId.get(provider.userId)).toMatchObject({
      therapyLicence: 'LCSW',
      nationalProviderIdentifier: '1234567890',
      defaultNoteTemplateIds: ['t-1'],
    });

    await upheal.deleteUser(client.userId);
    await expect(upheal.checkUser('grace@example.com')).resolves.toEqual({ exists: false });
    await expect(upheal.deleteUser(client.userId)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers a duplicate provider with BadRequestError and a duplicate client with ConflictError', async () => {
    const provider = await upheal.createProvider({
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
    });
    const duplicate = await failure(
      upheal.createProvider({ firstName: 'A', lastName: 'L', email: 'ADA@example.com' }),
    );
    expect(duplicate).toBeInstanceOf(BadRequestError);
    expect((duplicate as BadRequestError).requestId).toEqual(expect.any(String));
    expect((duplicate as BadRequestError).message).not.toContain('ada');

    const client = { therapistUserId: provider.userId, firstName: 'G', lastName: 'H' };
    await upheal.createClient({ ...client, email: 'grace@example.com' });
    await expect(
      upheal.createClient({ ...client, email: 'grace@example.com' }),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it('answers an update of a deactivated user with BadRequestError', async () => {
    const provider = await upheal.createProvider({
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: 'ada@example.com',
    });
    simulator.setActive(provider.userId, false);
    await expect(upheal.checkUser('ada@example.com')).resolves.toMatchObject({ isActive: false });
    await expect(upheal.updateUser(provider.userId, { firstName: 'A' })).rejects.toBeInstanceOf(
      BadRequestError,
    );
  });

  it('answers an unknown id with NotFoundError', async () => {
    await expect(upheal.updateUser(UNKNOWN_ID, { firstName: 'A' })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(upheal.deleteUser(UNKNOWN_ID)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('answers a wrong API key with UnauthorizedError', async () => {
    const stranger = clientOf(simulator, 'not-the-key');
    await expect(stranger.checkUser('ada@example.com')).rejects.toBeInstanceOf(UnauthorizedError);
  });

  it('answers an oversized body with UnexpectedStatusError (413)', async () => {
    const error = await failure(
      upheal.createProvider({
        firstName: 'Ada',
        lastName: 'Lovelace',
        email: 'ada@example.com',
        defaultNoteTemplateIds: Array.from(
          { length: OVERSIZED_TEMPLATE_COUNT },
          (_, index) => `template-${String(index).padStart(11, '0')}`,
        ),
      }),
    );
    expect(error).toBeInstanceOf(UnexpectedStatusError);
    expect(error).toMatchObject({ status: 413, retryable: false });
  });

  it('refuses an invalid body without sending it', async () => {
    const before = simulator.stats().totalCalls;
    await expect(
      upheal.createClient({ therapistUserId: UNKNOWN_ID, firstName: '', lastName: 'H' }),
    ).rejects.toBeInstanceOf(ValidationError);
    expect(simulator.stats().totalCalls).toBe(before);
  });

  it('turns injected 5xx into ServerError, even when the create took effect', async () => {
    simulator.setFaults({ serverError: 1 });
    await expect(upheal.checkUser('ada@example.com')).rejects.toBeInstanceOf(ServerError);

    simulator.setFaults({ serverError: 0, createdButFailed: 1 });
    await expect(
      upheal.createProvider({ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' }),
    ).rejects.toBeInstanceOf(ServerError);
    simulator.setFaults({ createdButFailed: 0 });
    await expect(upheal.checkUser('ada@example.com')).resolves.toMatchObject({ exists: true });
  });

  it('turns a hung request into TimeoutError', async () => {
    simulator.setFaults({ hang: 1 });
    await expect(upheal.checkUser('ada@example.com')).rejects.toBeInstanceOf(TimeoutError);
  });

  it('turns a reset connection into ConnectionError', async () => {
    simulator.setFaults({ reset: 1 });
    await expect(upheal.checkUser('ada@example.com')).rejects.toBeInstanceOf(ConnectionError);
  });
});

describe('UphealClient against a rate-limited simulator', () => {
  /** Small enough to exhaust in a few calls, wide enough that the window does not pass mid-test. */
  const LIMIT = 2;
  const WINDOW_MS = 60_000;
  let simulator: Simulator;
  let upheal: UphealClient;

  beforeAll(async () => {
    simulator = await startSimulator({
      rateLimit: { limit: LIMIT, windowMs: WINDOW_MS, retryAfter: 'seconds' },
    });
    upheal = clientOf(simulator);
  });

  afterAll(async () => {
    await simulator.stop();
  });

  /** Uses up the budget, then returns the error of one more call. */
  async function overLimit(): Promise<unknown> {
    for (let call = 0; call < LIMIT; call += 1) await upheal.checkUser('ada@example.com');
    return failure(upheal.checkUser('ada@example.com'));
  }

  it('answers over the limit with RateLimitedError carrying Retry-After in seconds', async () => {
    simulator.setRateLimit({ retryAfter: 'seconds' });
    const error = await overLimit();
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
    expect((error as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(WINDOW_MS);
  });

  it('reads Retry-After as an HTTP-date', async () => {
    simulator.setRateLimit({ retryAfter: 'http-date' });
    const error = await overLimit();
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBeGreaterThan(0);
    // Whole-second dates are rounded up by the simulator: at most one extra second.
    expect((error as RateLimitedError).retryAfterMs).toBeLessThanOrEqual(WINDOW_MS + 1000);
  });

  it('leaves the wait undefined when Upheal sends no Retry-After', async () => {
    simulator.setRateLimit({ retryAfter: 'none' });
    const error = await overLimit();
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBeUndefined();
  });
});

describe('UphealClient against a simulator that hides unknown users', () => {
  it('answers an unknown id with ForbiddenError when Upheal says 403', async () => {
    const simulator = await startSimulator({ notFoundStatus: 403 });
    try {
      const upheal = clientOf(simulator);
      await expect(upheal.updateUser(UNKNOWN_ID, { firstName: 'A' })).rejects.toBeInstanceOf(
        ForbiddenError,
      );
    } finally {
      await simulator.stop();
    }
  });
});
