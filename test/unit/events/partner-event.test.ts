import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import {
  BODY_FIELD,
  EVENT_TYPES,
  occurredAtMs,
  type PartnerEvent,
  parsePartnerEvent,
  parsePartnerEventJson,
  userKindOf,
} from '#lib/events/partner-event.ts';
import { ROOT_FIELD, unknownKeyName } from '#lib/events/validation.ts';
import { partnerEventArbitrary } from './arbitraries.ts';

/** The envelope of a valid event. */
const envelope = {
  eventId: 'evt-1',
  occurredAt: '2026-11-27T10:00:00.000Z',
  partnerUserId: 'c-1001',
} as const;

/** Valid client data. */
const clientData = { firstName: 'Ana', lastName: 'Ruiz', providerPartnerUserIds: ['p-7', 'p-9'] };

/** Valid provider data. */
const providerData = { email: 'dana.doe@example.com', firstName: 'Dana', lastName: 'Doe' };

/** Runs the parser and returns its ValidationError; fails the test if it parsed. */
function rejectionOf(input: unknown, location?: string): ValidationError {
  try {
    parsePartnerEvent(input, location);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected the event to be rejected');
}

/** The field names a rejection reports. */
function fieldsOf(input: unknown): string[] {
  return rejectionOf(input).issues.map((issue) => issue.field);
}

describe('parsePartnerEvent', () => {
  it.each([
    [EVENT_TYPES.providerCreated, providerData],
    [EVENT_TYPES.providerUpdated, providerData],
    [EVENT_TYPES.clientCreated, clientData],
    [EVENT_TYPES.clientUpdated, clientData],
    [EVENT_TYPES.clientProvidersChanged, { providerPartnerUserIds: ['p-1'] }],
    [EVENT_TYPES.userDeleted, {}],
  ])('accepts a valid %s event', (type, data) => {
    const event = parsePartnerEvent({ ...envelope, type, data });
    expect(event).toEqual({ ...envelope, type, data });
  });

  it('accepts user.deleted without data', () => {
    const event = parsePartnerEvent({ ...envelope, type: EVENT_TYPES.userDeleted });
    expect(event.type).toBe('user.deleted');
    expect(event.data).toBeUndefined();
  });

  it('rejects user.deleted whose data has fields', () => {
    expect(fieldsOf({ ...envelope, type: 'user.deleted', data: { reason: 'left' } })).toEqual([
      `data.${unknownKeyName('reason')}`,
    ]);
  });

  it('narrows data by type', () => {
    const event: PartnerEvent = parsePartnerEvent({
      ...envelope,
      type: 'client.updated',
      data: clientData,
    });
    if (event.type !== 'client.updated') throw new Error('wrong type');
    expect(event.data.providerPartnerUserIds[0]).toBe('p-7');
  });

  it('normalises the email of a provider (trimmed, lower-case)', () => {
    const event = parsePartnerEvent({
      ...envelope,
      type: 'provider.created',
      data: { ...providerData, email: '  Dana.Doe@Example.COM ' },
    });
    expect(event.type === 'provider.created' && event.data.email).toBe('dana.doe@example.com');
  });

  it('rejects an unknown type, naming the field and listing the known types', () => {
    const error = rejectionOf({ ...envelope, type: 'client.archived', data: {} });
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.field).toBe('type');
    expect(error.issues[0]?.reason).toContain('client.providers_changed');
    expect(error.issues[0]?.reason).not.toContain('client.archived');
  });

  it('rejects a missing type as required', () => {
    expect(rejectionOf({ ...envelope, data: {} }).issues).toEqual([
      { field: 'type', reason: 'is required' },
    ]);
  });

  it('rejects an unknown top-level field by a digest of its name, never the name', () => {
    expect(fieldsOf({ ...envelope, type: 'user.deleted', version: 3 })).toEqual([
      unknownKeyName('version'),
    ]);
    expect(unknownKeyName('version')).toMatch(/^\(unknown key [0-9a-f]{8}\)$/);
  });

  it('rejects an unknown data field by its parent path and a digest of its name', () => {
    const key = 'ana.ruiz@example.com';
    const error = rejectionOf({
      ...envelope,
      type: 'client.created',
      data: { ...clientData, [key]: 'X' },
    });
    expect(error.issues.map((issue) => issue.field)).toEqual([`data.${unknownKeyName(key)}`]);
    expect(error.message).not.toContain('ana');
  });

  it('names a field of the contract by its name even where it does not belong', () => {
    expect(
      fieldsOf({ ...envelope, type: 'user.deleted', data: { email: 'x@example.com' } }),
    ).toEqual(['data.email']);
  });

  it('names every missing envelope field as required', () => {
    expect(rejectionOf({ type: 'user.deleted' }).issues).toEqual([
      { field: 'eventId', reason: 'is required' },
      { field: 'occurredAt', reason: 'is required' },
      { field: 'partnerUserId', reason: 'is required' },
    ]);
  });

  it('names the index of a repeated provider id', () => {
    const error = rejectionOf({
      ...envelope,
      type: 'client.providers_changed',
      data: { providerPartnerUserIds: ['p-1', 'p-2', 'p-1'] },
    });
    expect(error.issues).toEqual([
      { field: 'data.providerPartnerUserIds.2', reason: 'repeats item 0' },
    ]);
  });

  it('rejects an empty provider list', () => {
    expect(
      fieldsOf({
        ...envelope,
        type: 'client.providers_changed',
        data: { providerPartnerUserIds: [] },
      }),
    ).toEqual(['data.providerPartnerUserIds']);
  });

  it.each([
    '2026-11-27T10:00:00Z',
    '2026-11-27T10:00:00.123Z',
    '2026-11-27T11:00:00+01:00',
    '2026-11-27T05:00:00.5-05:00',
  ])('accepts occurredAt %s', (occurredAt) => {
    expect(parsePartnerEvent({ ...envelope, occurredAt, type: 'user.deleted' }).occurredAt).toBe(
      occurredAt,
    );
  });

  it.each([
    '2026-11-27T10:00:00',
    '2026-11-27',
    '2026-02-30T10:00:00Z',
    'yesterday',
    '1764237600000',
  ])('rejects occurredAt %s', (occurredAt) => {
    expect(fieldsOf({ ...envelope, occurredAt, type: 'user.deleted' })).toEqual(['occurredAt']);
  });

  it('rejects a non-string occurredAt', () => {
    expect(fieldsOf({ ...envelope, occurredAt: 1764237600000, type: 'user.deleted' })).toEqual([
      'occurredAt',
    ]);
  });

  it.each([null, 42, 'event', [], true])('rejects a non-object input (%j) on the root', (input) => {
    expect(rejectionOf(input).issues).toEqual([{ field: ROOT_FIELD, reason: 'must be an object' }]);
  });

  it('prefixes the message with the location', () => {
    const error = rejectionOf({ ...envelope, type: 'user.deleted', extra: 1 }, 'event 3');
    expect(error.location).toBe('event 3');
    expect(error.message).toBe(`event 3: ${unknownKeyName('extra')}: is not a known field`);
  });

  it('never echoes clinical values in its reasons', () => {
    const secrets = {
      email: 'not-an-email-SECRET1',
      firstName: 'SECRET2'.repeat(30),
      lastName: 7,
      dateOfBirth: '1985-13-45',
      phoneNumber: 'SECRET3',
      pronoun: 'SECRET4',
    };
    const error = rejectionOf({ ...envelope, type: 'provider.updated', data: secrets });
    expect(error.issues.map((issue) => issue.field).sort()).toEqual([
      'data.dateOfBirth',
      'data.email',
      'data.firstName',
      'data.lastName',
      'data.phoneNumber',
      'data.pronoun',
    ]);
    for (const text of ['SECRET', '1985-13-45']) expect(error.message).not.toContain(text);
  });

  it('parses every valid generated event to itself (round trip through JSON)', () => {
    fc.assert(
      fc.property(partnerEventArbitrary, (event) => {
        expect(parsePartnerEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
      }),
      { numRuns: 200 },
    );
  });

  it('answers any JSON value with an event or a ValidationError naming a field', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (input) => {
        try {
          parsePartnerEvent(input);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          const { issues } = error as ValidationError;
          expect(issues.length).toBeGreaterThan(0);
          for (const issue of issues) expect(issue.field.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('rejects mutations of a valid event without crashing', () => {
    const mutated = fc
      .tuple(
        partnerEventArbitrary,
        fc.constantFrom('eventId', 'type', 'occurredAt', 'partnerUserId', 'data'),
        fc.jsonValue(),
      )
      .map(([event, key, value]) => ({ ...event, [key]: value }));
    fc.assert(
      fc.property(mutated, (input) => {
        try {
          parsePartnerEvent(input);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).issues.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('parsePartnerEventJson', () => {
  it('parses a raw message body', () => {
    const body = JSON.stringify({ ...envelope, type: 'client.updated', data: clientData });
    expect(parsePartnerEventJson(body).partnerUserId).toBe('c-1001');
  });

  it('rejects text that is not JSON on the body field, without quoting it', () => {
    let caught: unknown;
    try {
      parsePartnerEventJson('{"email": dana@example.com', 'message m-1');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).issues).toEqual([
      { field: BODY_FIELD, reason: 'is not valid JSON' },
    ]);
    expect((caught as ValidationError).message).not.toContain('dana');
  });

  it('answers any string with an event or a ValidationError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        try {
          parsePartnerEventJson(text);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('userKindOf', () => {
  it.each([
    ['provider.created', providerData, 'provider'],
    ['provider.updated', providerData, 'provider'],
    ['client.created', clientData, 'client'],
    ['client.updated', clientData, 'client'],
    ['client.providers_changed', { providerPartnerUserIds: ['p-1'] }, 'client'],
    ['user.deleted', {}, undefined],
  ])('maps %s to its kind of user', (type, data, kind) => {
    expect(userKindOf(parsePartnerEvent({ ...envelope, type, data }))).toBe(kind);
  });
});

describe('occurredAtMs', () => {
  it('compares events across offsets by instant', () => {
    const utc = parsePartnerEvent({
      ...envelope,
      type: 'user.deleted',
      occurredAt: '2026-11-27T10:00:00Z',
    });
    const offset = parsePartnerEvent({
      ...envelope,
      type: 'user.deleted',
      occurredAt: '2026-11-27T11:00:00+01:00',
    });
    expect(occurredAtMs(utc)).toBe(occurredAtMs(offset));
  });
});
