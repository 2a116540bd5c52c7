import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ROUTES } from '#lib/upheal/routes.ts';
import { type Simulator, startSimulator } from '#tools/simulator/server.ts';
import { call, clientBody, createProvider, providerBody } from './http.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000';

let sim: Simulator;

beforeAll(async () => {
  sim = await startSimulator({ apiKeys: ['local-dev-key', 'second-key'] });
});
afterAll(async () => {
  await sim.stop();
});
beforeEach(() => {
  sim.reset();
});

describe('authentication', () => {
  it('answers 401 without a Bearer key, with an unknown key, or with a raw key', async () => {
    expect(
      (await call(sim, 'POST', '/users/check', { email: 'a@b.test' }, { key: null })).status,
    ).toBe(401);
    expect(
      (await call(sim, 'POST', '/users/check', { email: 'a@b.test' }, { key: 'nope' })).status,
    ).toBe(401);
    const raw = await fetch(`${sim.url}/users/check`, {
      method: 'POST',
      headers: { authorization: 'local-dev-key' },
      body: JSON.stringify({ email: 'a@b.test' }),
    });
    expect(raw.status).toBe(401);
    await raw.body?.cancel();
  });

  it('accepts every configured key', async () => {
    expect(
      (await call(sim, 'POST', '/users/check', { email: 'a@b.test' }, { key: 'second-key' }))
        .status,
    ).toBe(200);
  });

  it('answers 404 for unknown routes and methods', async () => {
    expect((await call(sim, 'GET', '/users/check')).status).toBe(404);
    expect((await call(sim, 'POST', '/users/a/b/c', {})).status).toBe(404);
    expect((await call(sim, 'GET', '/elsewhere')).status).toBe(404);
  });

  it('serves every route of the shared route table', async () => {
    for (const [name, route] of Object.entries(ROUTES)) {
      const path = route.path.replace(/\{\w+\}/g, UNKNOWN_ID);
      const answer = await call(sim, route.method, path, {});
      expect(answer.status, name).not.toBe(401);
      expect(answer.body?.message ?? '', name).not.toBe('route: not found');
    }
  });
});

describe('request bodies', () => {
  it('rejects a non-JSON body with 400', async () => {
    const answer = await call(sim, 'POST', '/users/check', '{not json');
    expect(answer.status).toBe(400);
    expect(answer.body.message).toMatch(/body/);
  });

  it('rejects a missing body with 400', async () => {
    expect((await call(sim, 'POST', '/users/providers')).status).toBe(400);
  });

  it('accepts unknown request fields silently', async () => {
    const answer = await call(
      sim,
      'POST',
      '/users/providers',
      providerBody(1, { favouriteColour: 'teal' }),
    );
    expect(answer.status).toBe(200);
    expect(sim.users()[0]).not.toHaveProperty('favouriteColour');
  });
});

describe('error bodies', () => {
  it('can be empty or plain text instead of JSON, for clients that must not depend on them', async () => {
    for (const [errorBody, contentType, text] of [
      ['empty', null, ''],
      ['text', 'text/plain; charset=utf-8', 'email: Invalid email address'],
    ] as const) {
      const other = await startSimulator({ errorBody });
      try {
        const response = await fetch(`${other.url}/users/check`, {
          method: 'POST',
          headers: { authorization: 'Bearer local-dev-key' },
          body: JSON.stringify({ email: 'nope' }),
        });
        expect(response.status).toBe(400);
        expect(response.headers.get('content-type')).toBe(contentType);
        expect(await response.text()).toBe(text);
        const ok = await call(other, 'POST', '/users/check', { email: 'a@b.test' });
        expect(ok.body).toEqual({ isUserExists: false });
      } finally {
        await other.stop();
      }
    }
  });
});

describe('POST /users/check', () => {
  it('answers {isUserExists:false} for an unknown email', async () => {
    const answer = await call(sim, 'POST', '/users/check', { email: 'nobody@example.test' });
    expect(answer).toMatchObject({ status: 200, body: { isUserExists: false } });
    expect(Object.keys(answer.body)).toEqual(['isUserExists']);
  });

  it('finds a user by email, trimmed and case-insensitively', async () => {
    const userId = await createProvider(sim, 1);
    const answer = await call(sim, 'POST', '/users/check', { email: '  PROVIDER1@Example.TEST ' });
    expect(answer.body).toEqual({
      isUserExists: true,
      userId,
      email: 'provider1@example.test',
      isActive: true,
    });
  });

  it('rejects a malformed or missing email naming the field', async () => {
    for (const body of [{ email: 'not-an-email' }, {}, { email: 42 }]) {
      const answer = await call(sim, 'POST', '/users/check', body);
      expect(answer.status).toBe(400);
      expect(answer.body.message).toMatch(/^email: /);
    }
  });
});

describe('POST /users/providers', () => {
  it('creates a provider and answers the V2 shape', async () => {
    const answer = await call(
      sim,
      'POST',
      '/users/providers',
      providerBody(1, { noteIdentifier: 'Coach', defaultNoteTemplateIds: ['t1'] }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body.userId).toMatch(UUID);
    expect(answer.body.inviteUrl).toMatch(/^https:\/\/app\.upheal\.io\/invite\/[0-9a-f-]{36}$/);
    expect(answer.body.privateRoomLink).toMatch(/^https:\/\/upheal\.io\//);
    expect(answer.body).toMatchObject({
      partnerUserId: 'p-1',
      noteIdentifier: 'Coach',
      defaultNoteTemplateIds: ['t1'],
    });
    expect(sim.users()).toEqual([
      expect.objectContaining({
        userId: answer.body.userId,
        userType: 'HealthcareProvider',
        isActive: true,
      }),
    ]);
  });

  it('rejects missing names, bad enums and wrong types naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...providerBody(1), firstName: undefined }, /^firstName: /],
      [{ ...providerBody(1), lastName: '' }, /^lastName: /],
      [providerBody(1, { noteIdentifier: 'Wizard' }), /^noteIdentifier: /],
      [providerBody(1, { defaultNoteTemplateIds: 'x' }), /^defaultNoteTemplateIds: /],
      [providerBody(1, { partnerUserId: 7 }), /^partnerUserId: /],
      [providerBody(1, { email: 'x@' }), /^email: /],
    ];
    for (const [body, message] of cases) {
      const answer = await call(sim, 'POST', '/users/providers', body);
      expect(answer.status).toBe(400);
      expect(answer.body.message).toMatch(message);
    }
    expect(sim.users()).toEqual([]);
  });

  it('answers 400 for a duplicate email (any case) or partnerUserId', async () => {
    await createProvider(sim, 1);
    const sameEmail = await call(
      sim,
      'POST',
      '/users/providers',
      providerBody(2, { email: 'Provider1@EXAMPLE.test' }),
    );
    expect(sameEmail).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^email: /) },
    });
    const samePartner = await call(
      sim,
      'POST',
      '/users/providers',
      providerBody(2, { partnerUserId: 'p-1' }),
    );
    expect(samePartner).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^partnerUserId: /) },
    });
    expect(sim.users()).toHaveLength(1);
  });

  it('answers 409 for a duplicate when so configured', async () => {
    const strict = await startSimulator({ duplicateProviderStatus: 409 });
    try {
      await createProvider(strict, 1);
      expect((await call(strict, 'POST', '/users/providers', providerBody(1))).status).toBe(409);
    } finally {
      await strict.stop();
    }
  });
});

describe('POST /users/clients', () => {
  it('creates a client assigned to its therapist', async () => {
    const therapist = await createProvider(sim, 1);
    const answer = await call(
      sim,
      'POST',
      '/users/clients',
      clientBody(1, therapist, { pronoun: 'NeutralThem', dateOfBirth: '1990-02-28' }),
    );
    expect(answer.status).toBe(200);
    expect(answer.body.userId).toMatch(UUID);
    expect(answer.body.clientSessionUrl).toMatch(/^https:\/\/app\.upheal\.io\/client\//);
    expect(answer.body.therapistSessionUrl).toMatch(/^https:\/\//);
    expect(answer.body.partnerUserId).toBe('c-1');
    const client = sim.users().find((user) => user.userId === answer.body.userId);
    expect(client).toMatchObject({
      userType: 'Client',
      providerUserIds: [therapist],
      pronoun: 'NeutralThem',
    });
  });

  it('creates a client without email', async () => {
    const therapist = await createProvider(sim, 1);
    const answer = await call(
      sim,
      'POST',
      '/users/clients',
      clientBody(1, therapist, { email: undefined }),
    );
    expect(answer.status).toBe(200);
  });

  it('rejects an unknown therapist or a client as therapist with 400', async () => {
    expect((await call(sim, 'POST', '/users/clients', clientBody(1, UNKNOWN_ID))).status).toBe(400);
    const therapist = await createProvider(sim, 1);
    const client = await call(sim, 'POST', '/users/clients', clientBody(1, therapist));
    const answer = await call(sim, 'POST', '/users/clients', clientBody(2, client.body.userId));
    expect(answer).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^therapistUserId: /) },
    });
  });

  it('rejects bad pronouns and non-ISO or impossible dates', async () => {
    const therapist = await createProvider(sim, 1);
    for (const extra of [
      { pronoun: 'He' },
      { dateOfBirth: '28/02/1990' },
      { dateOfBirth: '1990-02-30' },
      { dateOfBirth: '1990-02-28T00:00:00Z' },
    ]) {
      const answer = await call(sim, 'POST', '/users/clients', clientBody(1, therapist, extra));
      expect(answer.status).toBe(400);
      expect(answer.body.message).toMatch(new RegExp(`^${Object.keys(extra)[0]}: `));
    }
  });

  it('answers 409 for a duplicate email or partnerUserId, also against a provider', async () => {
    const therapist = await createProvider(sim, 1);
    await call(sim, 'POST', '/users/clients', clientBody(1, therapist));
    expect(
      (
        await call(
          sim,
          'POST',
          '/users/clients',
          clientBody(2, therapist, { partnerUserId: 'c-1' }),
        )
      ).status,
    ).toBe(409);
    expect(
      (
        await call(
          sim,
          'POST',
          '/users/clients',
          clientBody(2, therapist, { email: 'CLIENT1@example.test' }),
        )
      ).status,
    ).toBe(409);
    expect(
      (
        await call(
          sim,
          'POST',
          '/users/clients',
          clientBody(2, therapist, { email: 'provider1@example.test' }),
        )
      ).status,
    ).toBe(409);
  });
});

describe('PUT /users/{userId}', () => {
  it('updates the given fields, keeps the others and answers the user object', async () => {
    const therapist = await createProvider(sim, 1);
    const client = await call(sim, 'POST', '/users/clients', clientBody(1, therapist));
    const answer = await call(sim, 'PUT', `/users/${client.body.userId}`, {
      lastName: 'Renamed',
      pronoun: 'FeminineHer',
      dateOfBirth: '2001-01-01',
      defaultNoteTemplateIds: ['a'],
    });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      userId: client.body.userId,
      firstName: 'Cam',
      lastName: 'Renamed',
      pronoun: 'FeminineHer',
      dateOfBirth: '2001-01-01',
      defaultNoteTemplateIds: ['a'],
      userType: 'Client',
      partnerUserId: 'c-1',
    });
  });

  it('rejects explicit nulls, a missing body and bad values with 400', async () => {
    const userId = await createProvider(sim, 1);
    expect((await call(sim, 'PUT', `/users/${userId}`, { firstName: null })).status).toBe(400);
    expect((await call(sim, 'PUT', `/users/${userId}`)).status).toBe(400);
    expect((await call(sim, 'PUT', `/users/${userId}`, { dateOfBirth: '2001-13-01' })).status).toBe(
      400,
    );
    expect((await call(sim, 'PUT', `/users/${userId}`, [])).status).toBe(400);
  });

  it('answers 404 for an unknown id and does not accept a partnerUserId in the path', async () => {
    await createProvider(sim, 1);
    expect((await call(sim, 'PUT', `/users/${UNKNOWN_ID}`, { firstName: 'X' })).status).toBe(404);
    expect((await call(sim, 'PUT', '/users/p-1', { firstName: 'X' })).status).toBe(404);
  });

  it('answers 400 for a deactivated user', async () => {
    const userId = await createProvider(sim, 1);
    expect((await call(sim, 'POST', `/__sim/users/${userId}/deactivate`)).status).toBe(200);
    const answer = await call(sim, 'PUT', `/users/${userId}`, { firstName: 'X' });
    expect(answer).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/deactivated/) },
    });
    expect(
      (await call(sim, 'POST', '/users/check', { email: 'provider1@example.test' })).body.isActive,
    ).toBe(false);
  });

  it('answers the configured status for unknown ids (403 or 400)', async () => {
    for (const notFoundStatus of [403, 400] as const) {
      const other = await startSimulator({ notFoundStatus });
      try {
        expect((await call(other, 'PUT', `/users/${UNKNOWN_ID}`, { firstName: 'X' })).status).toBe(
          notFoundStatus,
        );
        expect((await call(other, 'DELETE', `/users/${UNKNOWN_ID}`)).status).toBe(notFoundStatus);
      } finally {
        await other.stop();
      }
    }
  });
});

describe('PUT /users/providers/{providerUserId}', () => {
  it('updates provider fields by Upheal id or by partnerUserId', async () => {
    const userId = await createProvider(sim, 1);
    const byId = await call(sim, 'PUT', `/users/providers/${userId}`, { therapyLicence: 'LCSW' });
    expect(byId).toMatchObject({
      status: 200,
      body: { userId, therapyLicence: 'LCSW', defaultNoteTemplateIds: [] },
    });
    const byPartner = await call(sim, 'PUT', '/users/providers/p-1', {
      nationalProviderIdentifier: '1234567890',
      noteIdentifier: 'Psychologist',
      defaultNoteTemplateIds: ['t'],
    });
    expect(byPartner.body).toMatchObject({
      userId,
      therapyLicence: 'LCSW',
      nationalProviderIdentifier: '1234567890',
      noteIdentifier: 'Psychologist',
      defaultNoteTemplateIds: ['t'],
    });
  });

  it('answers 400 for a client, a bad enum or a deactivated provider, 404 for unknown', async () => {
    const therapist = await createProvider(sim, 1);
    const client = await call(sim, 'POST', '/users/clients', clientBody(1, therapist));
    expect((await call(sim, 'PUT', `/users/providers/${client.body.userId}`, {})).status).toBe(400);
    expect(
      (await call(sim, 'PUT', `/users/providers/${therapist}`, { noteIdentifier: 'Boss' })).status,
    ).toBe(400);
    expect((await call(sim, 'PUT', `/users/providers/${UNKNOWN_ID}`, {})).status).toBe(404);
    sim.setActive(therapist, false);
    expect((await call(sim, 'PUT', `/users/providers/${therapist}`, {})).status).toBe(400);
  });
});

describe('POST /users/{userId}/providers', () => {
  it('replaces the full provider list, by Upheal id or partnerUserId', async () => {
    const [a, b, c] = [
      await createProvider(sim, 1),
      await createProvider(sim, 2),
      await createProvider(sim, 3),
    ];
    const client = await call(sim, 'POST', '/users/clients', clientBody(1, a));
    const first = await call(sim, 'POST', `/users/${client.body.userId}/providers`, {
      providerUserIds: [b, c],
    });
    expect(first).toMatchObject({ status: 200, body: { providerUserIds: [b, c] } });
    const second = await call(sim, 'POST', '/users/c-1/providers', { providerUserIds: [c] });
    expect(second.body).toEqual({ providerUserIds: [c] });
    expect(sim.users().find((user) => user.userId === client.body.userId)?.providerUserIds).toEqual(
      [c],
    );
  });

  it('rejects an empty list, an unknown or non-provider id, and a provider as target', async () => {
    const a = await createProvider(sim, 1);
    const client = await call(sim, 'POST', '/users/clients', clientBody(1, a));
    const path = `/users/${client.body.userId}/providers`;
    expect((await call(sim, 'POST', path, { providerUserIds: [] })).status).toBe(400);
    const unknown = await call(sim, 'POST', path, { providerUserIds: [a, UNKNOWN_ID] });
    expect(unknown).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^providerUserIds\.1: /) },
    });
    expect((await call(sim, 'POST', path, { providerUserIds: [client.body.userId] })).status).toBe(
      400,
    );
    expect(
      (await call(sim, 'POST', `/users/${a}/providers`, { providerUserIds: [a] })).status,
    ).toBe(400);
    expect(
      (await call(sim, 'POST', `/users/${UNKNOWN_ID}/providers`, { providerUserIds: [a] })).status,
    ).toBe(404);
    expect(sim.users().find((user) => user.userId === client.body.userId)?.providerUserIds).toEqual(
      [a],
    );
  });
});

describe('DELETE /users/{userId}', () => {
  it('removes the user; the email and partnerUserId can then be reused', async () => {
    const userId = await createProvider(sim, 1);
    expect((await call(sim, 'DELETE', `/users/${userId}`)).status).toBe(204);
    expect(
      (await call(sim, 'POST', '/users/check', { email: 'provider1@example.test' })).body,
    ).toEqual({
      isUserExists: false,
    });
    expect((await call(sim, 'DELETE', `/users/${userId}`)).status).toBe(404);
    const again = await call(sim, 'POST', '/users/providers', providerBody(1));
    expect(again.status).toBe(200);
    expect(again.body.userId).not.toBe(userId);
  });

  it('unassigns a deleted provider from its clients', async () => {
    const [a, b] = [await createProvider(sim, 1), await createProvider(sim, 2)];
    const client = await call(sim, 'POST', '/users/clients', clientBody(1, a));
    await call(sim, 'POST', `/users/${client.body.userId}/providers`, { providerUserIds: [a, b] });
    await call(sim, 'DELETE', `/users/${a}`);
    expect(sim.users().find((user) => user.userId === client.body.userId)?.providerUserIds).toEqual(
      [b],
    );
  });
});

describe('introspection', () => {
  it('seeds existing users over HTTP, enforcing uniqueness', async () => {
    const seeded = await call(sim, 'POST', '/__sim/users', [
      {
        userType: 'HealthcareProvider',
        firstName: 'S',
        lastName: 'P',
        email: 'seed@example.test',
        partnerUserId: 's-1',
      },
    ]);
    expect(seeded.status).toBe(200);
    expect(seeded.body[0].userId).toMatch(UUID);
    const check = await call(sim, 'POST', '/users/check', { email: 'SEED@example.test' });
    expect(check.body.userId).toBe(seeded.body[0].userId);
    const duplicate = await call(sim, 'POST', '/__sim/users', {
      userType: 'Client',
      firstName: 'S',
      lastName: 'C',
      email: 'seed@example.test',
    });
    expect(duplicate.status).toBe(400);
    const invalid = await call(sim, 'POST', '/__sim/users', {
      userType: 'Admin',
      firstName: 'A',
      lastName: 'B',
    });
    expect(invalid).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^0\.userType: /) },
    });
  });

  it('seeds a batch all or nothing', async () => {
    const answer = await call(sim, 'POST', '/__sim/users', [
      { userType: 'HealthcareProvider', firstName: 'A', lastName: 'A', email: 'a@example.test' },
      { userType: 'HealthcareProvider', firstName: 'B', lastName: 'B', email: 'A@example.test' },
    ]);
    expect(answer).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^1\.email: /) },
    });
    expect(sim.users()).toEqual([]);
  });

  it('seeds in process, with a given id, and the users behave as created ones', async () => {
    const [provider] = sim.seedUsers({
      userId: '11111111-1111-4111-8111-111111111111',
      userType: 'HealthcareProvider',
      firstName: 'S',
      lastName: 'P',
      email: 'seeded@example.test',
      partnerUserId: 'p-seeded',
    });
    expect(provider?.userId).toBe('11111111-1111-4111-8111-111111111111');
    const client = await call(sim, 'POST', '/users/clients', clientBody(1, provider!.userId));
    expect(client.status).toBe(200);
    expect(
      (await call(sim, 'PUT', '/users/providers/p-seeded', { therapyLicence: 'L' })).status,
    ).toBe(200);
  });

  it('lists users and counts calls per route and status, in process and over HTTP alike', async () => {
    await createProvider(sim, 1);
    await call(sim, 'POST', '/users/providers', providerBody(1));
    const users = await call(sim, 'GET', '/__sim/users', undefined, { key: null });
    expect(users.body).toEqual(sim.users());
    const stats = await call(sim, 'GET', '/__sim/stats', undefined, { key: null });
    expect(stats.body.byRoute.createProvider).toEqual({ 200: 1, 400: 1 });
    expect(stats.body.totalCalls).toBe(2);
    expect(stats.body).toEqual(sim.stats());
    const later = await call(sim, 'GET', `/__sim/stats?since=${stats.body.lastArrivalAt}`);
    expect(later.body).toMatchObject({ totalCalls: 1, byRoute: { createProvider: { 400: 1 } } });
    expect((await call(sim, 'GET', '/__sim/stats?since=soon')).status).toBe(400);
  });

  it('clears users, stats and the log on reset', async () => {
    await createProvider(sim, 1);
    expect((await call(sim, 'POST', '/__sim/reset')).status).toBe(204);
    expect(sim.users()).toEqual([]);
    expect(sim.stats()).toMatchObject({ totalCalls: 0, arrivals: 0, firstArrivalAt: null });
  });

  it('rejects invalid runtime options naming the field', async () => {
    const answer = await call(sim, 'PUT', '/__sim/rate-limit', { mode: 'leaky' });
    expect(answer).toMatchObject({
      status: 400,
      body: { message: expect.stringMatching(/^rateLimit\.mode: /) },
    });
    const faults = await call(sim, 'PUT', '/__sim/faults', { serverError: 0.8, hang: 0.5 });
    expect(faults.status).toBe(400);
  });

  it('does not reveal the API keys in its options', async () => {
    const answer = await call(sim, 'GET', '/__sim/options');
    expect(JSON.stringify(answer.body)).not.toContain('local-dev-key');
    expect(answer.body.apiKeys).toBe(2);
  });
});
