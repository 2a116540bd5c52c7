import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BadRequestError,
  ConfigError,
  ConflictError,
  ConnectionError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ServerError,
  UnauthorizedError,
  UnexpectedResponseError,
  UnexpectedStatusError,
  ValidationError,
} from '#lib/errors.ts';
import {
  type CreateClientBody,
  type CreateProviderBody,
  MAX_RESPONSE_BYTES,
  type ResponseInfo,
  UphealClient,
} from '#lib/upheal/client.ts';
import { FakeOrigin } from '#test/helpers/fake-origin.ts';

const API_KEY = 'test-key';
const TIMEOUT_MS = 1000;
const USER_ID = 'd290f1ee-6c54-4b01-90e6-d701748f0852';
const PROVIDER_ID = '7f1c9a5e-0000-4000-8000-000000000001';
const JSON_HEADERS = { 'content-type': 'application/json' };

let origin: FakeOrigin;
let responses: ResponseInfo[];
let clients: UphealClient[];
let client: UphealClient;

/** A client of the fake origin, closed after the test. */
function clientOf(options: Partial<ConstructorParameters<typeof UphealClient>[0]> = {}) {
  const created = new UphealClient({
    baseUrl: origin.url,
    apiKey: API_KEY,
    timeoutMs: TIMEOUT_MS,
    ...options,
  });
  clients.push(created);
  return created;
}

beforeEach(async () => {
  origin = await FakeOrigin.start();
  responses = [];
  clients = [];
  client = clientOf({ onResponse: (info) => responses.push(info) });
});

afterEach(async () => {
  await Promise.all(clients.map((created) => created.close()));
  await origin.close();
  origin.assertNoPendingInterceptors();
});

/** The simulated Upheal origin. */
const upheal = () => origin;

/**
 * A request-body matcher that records what was sent. A matcher may run more than once per
 * request, so it keeps the latest body rather than appending.
 */
function captureBody(into: unknown[]) {
  return (body: string) => {
    into.splice(0, into.length, JSON.parse(body));
    return true;
  };
}

describe('UphealClient.checkUser', () => {
  it('posts the trimmed, lower-cased email with the Bearer key and JSON content type', async () => {
    const sent: unknown[] = [];
    upheal()
      .intercept({
        path: '/users/check',
        method: 'POST',
        headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
        body: captureBody(sent),
      })
      .reply(200, { isUserExists: false }, { headers: JSON_HEADERS });

    await expect(client.checkUser('  Ada@Example.COM ')).resolves.toEqual({ exists: false });
    expect(sent).toEqual([{ email: 'ada@example.com' }]);
  });

  it('returns the id and active flag of an existing user', async () => {
    upheal()
      .intercept({ path: '/users/check', method: 'POST' })
      .reply(200, { isUserExists: true, userId: USER_ID, isActive: true, email: 'a@b.co' });
    await expect(client.checkUser('a@b.co')).resolves.toEqual({
      exists: true,
      userId: USER_ID,
      isActive: true,
    });
  });

  it('tolerates string booleans, numeric ids and unknown fields', async () => {
    upheal()
      .intercept({ path: '/users/check', method: 'POST' })
      .reply(200, { isUserExists: 'true', userId: 12345, isActive: 'false', plan: 'pro' });
    await expect(client.checkUser('a@b.co')).resolves.toEqual({
      exists: true,
      userId: '12345',
      isActive: false,
    });
  });

  it('reports isActive as undefined when Upheal leaves it out', async () => {
    upheal()
      .intercept({ path: '/users/check', method: 'POST' })
      .reply(200, { isUserExists: true, userId: USER_ID });
    await expect(client.checkUser('a@b.co')).resolves.toEqual({
      exists: true,
      userId: USER_ID,
      isActive: undefined,
    });
  });

  it('rejects an existing user without an id as an unexpected response', async () => {
    upheal().intercept({ path: '/users/check', method: 'POST' }).reply(200, { isUserExists: true });
    await expect(client.checkUser('a@b.co')).rejects.toBeInstanceOf(UnexpectedResponseError);
  });

  it('refuses a malformed email before sending anything', async () => {
    const error = await client.checkUser('not-an-email').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.field)).toEqual(['email']);
    expect((error as ValidationError).message).not.toContain('not-an-email');
  });
});

describe('UphealClient.createProvider', () => {
  const body: CreateProviderBody = {
    partnerUserId: 'p-1',
    firstName: 'Ada',
    lastName: 'Lovelace',
    email: 'ada@example.com',
    nationalProviderIdentifier: '1234567890',
    noteIdentifier: 'Clinician',
    defaultNoteTemplateIds: ['t-1'],
  };

  it('posts the body to /users/providers and returns the id and invite URL', async () => {
    const sent: unknown[] = [];
    upheal()
      .intercept({ path: '/users/providers', method: 'POST', body: captureBody(sent) })
      .reply(200, {
        userId: PROVIDER_ID,
        inviteUrl: 'https://app.upheal.io/invite/secret',
        privateRoomLink: 'https://upheal.io/ada-1',
        nationalProviderIdentifier: 1234567890,
      });
    await expect(client.createProvider(body)).resolves.toEqual({
      userId: PROVIDER_ID,
      inviteUrl: 'https://app.upheal.io/invite/secret',
    });
    expect(sent).toEqual([body]);
    expect(responses).toEqual([
      { operation: 'createProvider', status: 200, durationMs: expect.any(Number) },
    ]);
  });

  it('returns an undefined invite URL when Upheal sends none', async () => {
    upheal()
      .intercept({ path: '/users/providers', method: 'POST' })
      .reply(200, { userId: PROVIDER_ID, inviteUrl: null });
    await expect(client.createProvider(body)).resolves.toEqual({
      userId: PROVIDER_ID,
      inviteUrl: undefined,
    });
  });

  it('maps a duplicate answered 400 to BadRequestError without echoing the email', async () => {
    upheal()
      .intercept({ path: '/users/providers', method: 'POST' })
      .reply(
        400,
        { message: 'ada@example.com already exists' },
        { headers: { 'x-request-id': 'r1' } },
      );
    const error = await client.createProvider(body).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).requestId).toBe('r1');
    expect((error as BadRequestError).message).toBe(
      'upheal createProvider: HTTP 400 (request id r1)',
    );
  });

  it('refuses unknown keys and nulls before sending anything', async () => {
    const withUnknown = { ...body, defaultSessionType: 'Soap' } as unknown as typeof body;
    await expect(client.createProvider(withUnknown)).rejects.toBeInstanceOf(ValidationError);
    const withNull = { ...body, locale: null } as unknown as typeof body;
    await expect(client.createProvider(withNull)).rejects.toBeInstanceOf(ValidationError);
  });

  it('keeps no body on an undecodable success, since it may hold the invite URL', async () => {
    upheal()
      .intercept({ path: '/users/providers', method: 'POST' })
      .reply(200, { inviteUrl: 'https://app.upheal.io/invite/secret' });
    const error = await client.createProvider(body).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as UnexpectedResponseError).body).toBeUndefined();
    expect((error as UnexpectedResponseError).message).not.toContain('secret');
    expect((error as UnexpectedResponseError).message).toContain('userId');
  });
});

describe('UphealClient.createClient', () => {
  const body: CreateClientBody = {
    therapistUserId: PROVIDER_ID,
    partnerUserId: 'c-1',
    firstName: 'Grace',
    lastName: 'Hopper',
    pronoun: 'FeminineHer',
    dateOfBirth: '1990-02-01',
  };

  it('posts the body to /users/clients and returns the new id', async () => {
    const sent: unknown[] = [];
    upheal()
      .intercept({ path: '/users/clients', method: 'POST', body: captureBody(sent) })
      .reply(200, {
        userId: USER_ID,
        clientSessionUrl: 'https://app.upheal.io/client/x',
        therapistSessionUrl: 'https://app.upheal.io/therapist/x',
      });
    await expect(client.createClient(body)).resolves.toEqual({ userId: USER_ID });
    expect(sent).toEqual([body]);
  });

  it('maps a duplicate (409) to ConflictError', async () => {
    upheal().intercept({ path: '/users/clients', method: 'POST' }).reply(409, '');
    await expect(client.createClient(body)).rejects.toBeInstanceOf(ConflictError);
  });

  it('rejects an oversized success without buffering it whole', async () => {
    const huge = JSON.stringify({ userId: USER_ID, padding: 'x'.repeat(MAX_RESPONSE_BYTES) });
    upheal().intercept({ path: '/users/clients', method: 'POST' }).reply(200, huge);
    const error = await client.createClient(body).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as UnexpectedResponseError).message).toContain('exceeds');
  });

  it('rejects a non-JSON success as an unexpected response', async () => {
    upheal().intercept({ path: '/users/clients', method: 'POST' }).reply(200, '<html>ok</html>');
    await expect(client.createClient(body)).rejects.toBeInstanceOf(UnexpectedResponseError);
  });
});

describe('UphealClient.updateUser', () => {
  it('puts only the given fields to /users/{userId}', async () => {
    const sent: unknown[] = [];
    upheal()
      .intercept({ path: `/users/${USER_ID}`, method: 'PUT', body: captureBody(sent) })
      .reply(200, { userId: USER_ID, firstName: 'Grace', phoneNumber: 5551234 });
    await expect(client.updateUser(USER_ID, { firstName: 'Grace' })).resolves.toBeUndefined();
    expect(sent).toEqual([{ firstName: 'Grace' }]);
  });

  it('accepts an empty success body', async () => {
    upheal()
      .intercept({ path: `/users/${USER_ID}`, method: 'PUT' })
      .reply(204, '');
    await expect(client.updateUser(USER_ID, { pronoun: 'NeutralThem' })).resolves.toBeUndefined();
  });

  it('URL-encodes the user id', async () => {
    upheal().intercept({ path: '/users/a%2Fb%20c', method: 'PUT' }).reply(200, {});
    await expect(client.updateUser('a/b c', { lastName: 'X' })).resolves.toBeUndefined();
  });

  it('maps a refused update of a deactivated user (400) to BadRequestError', async () => {
    upheal()
      .intercept({ path: `/users/${USER_ID}`, method: 'PUT' })
      .reply(400, 'deactivated');
    const error = await client
      .updateUser(USER_ID, { lastName: 'X' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).body).toBe('deactivated');
  });
});

describe('UphealClient.updateProvider', () => {
  it('puts the provider fields to /users/providers/{providerUserId}', async () => {
    const sent: unknown[] = [];
    upheal()
      .intercept({
        path: `/users/providers/${PROVIDER_ID}`,
        method: 'PUT',
        body: captureBody(sent),
      })
      .reply(200, { userId: PROVIDER_ID, nationalProviderIdentifier: 1234567890 });
    await expect(
      client.updateProvider(PROVIDER_ID, { therapyLicence: 'LCSW', noteIdentifier: 'Coach' }),
    ).resolves.toBeUndefined();
    expect(sent).toEqual([{ therapyLicence: 'LCSW', noteIdentifier: 'Coach' }]);
  });

  it('maps 404 to NotFoundError', async () => {
    upheal()
      .intercept({ path: `/users/providers/${PROVIDER_ID}`, method: 'PUT' })
      .reply(404, '');
    await expect(
      client.updateProvider(PROVIDER_ID, { therapyLicence: 'LCSW' }),
    ).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('UphealClient.replaceProviders', () => {
  it('posts the full list and returns the list Upheal now holds', async () => {
    const sent: unknown[] = [];
    upheal()
      .intercept({ path: `/users/${USER_ID}/providers`, method: 'POST', body: captureBody(sent) })
      .reply(200, { providerUserIds: [PROVIDER_ID, 42] });
    await expect(client.replaceProviders(USER_ID, [PROVIDER_ID, '42'])).resolves.toEqual([
      PROVIDER_ID,
      '42',
    ]);
    expect(sent).toEqual([{ providerUserIds: [PROVIDER_ID, '42'] }]);
  });

  it('refuses an empty list before sending anything', async () => {
    await expect(client.replaceProviders(USER_ID, [])).rejects.toBeInstanceOf(ValidationError);
  });

  it('rejects a success without the list as an unexpected response', async () => {
    upheal()
      .intercept({ path: `/users/${USER_ID}/providers`, method: 'POST' })
      .reply(200, {});
    await expect(client.replaceProviders(USER_ID, [PROVIDER_ID])).rejects.toBeInstanceOf(
      UnexpectedResponseError,
    );
  });
});

describe('UphealClient.deleteUser', () => {
  it('sends DELETE /users/{userId} without a body or content type', async () => {
    upheal()
      .intercept({
        path: `/users/${USER_ID}`,
        method: 'DELETE',
        headers: (headers) => !('content-type' in headers),
      })
      .reply(204, '');
    await expect(client.deleteUser(USER_ID)).resolves.toBeUndefined();
  });

  it('maps 404 to NotFoundError and leaves the meaning to the caller', async () => {
    upheal()
      .intercept({ path: `/users/${USER_ID}`, method: 'DELETE' })
      .reply(404, '{}');
    await expect(client.deleteUser(USER_ID)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('UphealClient error mapping', () => {
  it('keeps the start of an oversized error body', async () => {
    upheal()
      .intercept({ path: `/users/${USER_ID}`, method: 'DELETE' })
      .reply(500, 'e'.repeat(MAX_RESPONSE_BYTES * 2));
    const error = await client.deleteUser(USER_ID).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ServerError);
    expect((error as ServerError).body).toMatch(/^e+$/);
  });

  it.each([
    [401, UnauthorizedError],
    [403, ForbiddenError],
    [500, ServerError],
    [503, ServerError],
    [405, UnexpectedStatusError],
    [301, UnexpectedStatusError],
  ])('maps status %i to %o', async (status, kind) => {
    upheal()
      .intercept({ path: `/users/${USER_ID}`, method: 'DELETE' })
      .reply(status, 'x');
    const error = await client.deleteUser(USER_ID).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(kind);
    expect(error).toMatchObject({ status, body: 'x' });
    expect(responses).toEqual([
      { operation: 'deleteUser', status, durationMs: expect.any(Number) },
    ]);
  });

  it('maps 429 with Retry-After in seconds to RateLimitedError with the wait', async () => {
    upheal()
      .intercept({ path: '/users/check', method: 'POST' })
      .reply(429, '', { headers: { 'retry-after': '3' } });
    const error = await client.checkUser('a@b.co').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterMs).toBe(3000);
  });

  it('maps 429 with Retry-After as an HTTP-date to RateLimitedError with the wait', async () => {
    const inOneMinute = new Date(Date.now() + 60_000).toUTCString();
    upheal()
      .intercept({ path: '/users/check', method: 'POST' })
      .reply(429, '', { headers: { 'retry-after': inOneMinute } });
    const error = (await client.checkUser('a@b.co').catch((caught: unknown) => caught)) as
      | RateLimitedError
      | undefined;
    expect(error).toBeInstanceOf(RateLimitedError);
    // HTTP-dates have whole-second resolution: the wait is within the minute, never beyond it.
    expect(error?.retryAfterMs).toBeGreaterThan(58_000);
    expect(error?.retryAfterMs).toBeLessThanOrEqual(60_000);
  });

  it('maps 429 without Retry-After to RateLimitedError without a wait', async () => {
    upheal().intercept({ path: '/users/check', method: 'POST' }).reply(429, '');
    const error = await client.checkUser('a@b.co').catch((caught: unknown) => caught);
    expect(error).toMatchObject({ retryAfterMs: undefined, retryable: true });
  });

  it('maps a reset connection to ConnectionError', async () => {
    upheal().intercept({ path: '/users/check', method: 'POST' }).replyWithReset();
    await expect(client.checkUser('a@b.co')).rejects.toBeInstanceOf(ConnectionError);
    expect(responses).toEqual([]);
  });

  it('rethrows an error that is not a transport failure unchanged', async () => {
    // Node refuses a header value with a line break before sending anything.
    const error = await clientOf({ apiKey: 'key\nInjected: 1' })
      .checkUser('a@b.co')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TypeError);
    expect(error).toMatchObject({ code: 'ERR_INVALID_CHAR' });
  });

  it('keeps a success a success when the metrics hook throws', async () => {
    const throwing = clientOf({
      onResponse: () => {
        throw new Error('metrics down');
      },
    });
    upheal().intercept({ path: '/users/clients', method: 'POST' }).reply(200, { userId: USER_ID });
    await expect(
      throwing.createClient({ therapistUserId: PROVIDER_ID, firstName: 'A', lastName: 'B' }),
    ).resolves.toEqual({ userId: USER_ID });
  });
});

describe('UphealClient options', () => {
  it('resolves the API key from a function on every request', async () => {
    const keys = ['key-1', 'key-2'];
    const rotating = clientOf({
      baseUrl: `${origin.url}/`,
      apiKey: async () => keys.shift() ?? 'exhausted',
    });
    for (const key of ['key-1', 'key-2']) {
      upheal()
        .intercept({
          path: `/users/${USER_ID}`,
          method: 'DELETE',
          headers: { authorization: `Bearer ${key}` },
        })
        .reply(204, '');
    }
    await rotating.deleteUser(USER_ID);
    await rotating.deleteUser(USER_ID);
  });

  it('keeps a path prefix of the base URL', async () => {
    const prefixed = clientOf({ baseUrl: `${origin.url}/v2/` });
    upheal()
      .intercept({ path: '/v2/users/check', method: 'POST' })
      .reply(200, { isUserExists: false });
    await expect(prefixed.checkUser('a@b.co')).resolves.toEqual({ exists: false });
  });

  it('refuses a malformed base URL or timeout with a ConfigError naming the option', () => {
    expect(
      () => new UphealClient({ baseUrl: 'not a url', apiKey: API_KEY, timeoutMs: TIMEOUT_MS }),
    ).toThrow(ConfigError);
    expect(() => new UphealClient({ baseUrl: origin.url, apiKey: API_KEY, timeoutMs: 0 })).toThrow(
      /timeoutMs/,
    );
  });
});
