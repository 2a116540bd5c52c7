import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { ClientFieldsSchema, FIELD_LIMITS, ProviderFieldsSchema } from '#lib/events/user-fields.ts';
import { parseWith, unknownKeyName } from '#lib/events/validation.ts';
import { NOTE_IDENTIFIERS, PRONOUNS } from '#lib/upheal/schemas.ts';

/** Minimal valid provider fields. */
const provider = { email: 'dana.doe@example.com', firstName: 'Dana', lastName: 'Doe' };

/** Minimal valid client fields. */
const client = { firstName: 'Ana', lastName: 'Ruiz', providerPartnerUserIds: ['p-7'] };

/** The issues of parsing `input` as provider fields (empty when valid). */
function providerIssues(input: Record<string, unknown>) {
  try {
    parseWith(ProviderFieldsSchema, input);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
}

/** The issues of parsing `input` as client fields (empty when valid). */
function clientIssues(input: Record<string, unknown>) {
  try {
    parseWith(ClientFieldsSchema, input);
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(new Date('2026-11-27T12:00:00Z'));
});

afterEach(() => {
  vi.useRealTimers();
});

describe('ProviderFieldsSchema', () => {
  it('requires email, firstName and lastName', () => {
    expect(providerIssues({})).toEqual([
      { field: 'email', reason: 'is required' },
      { field: 'firstName', reason: 'is required' },
      { field: 'lastName', reason: 'is required' },
    ]);
  });

  it('accepts every optional field in its documented form', () => {
    const full = {
      ...provider,
      phoneNumber: '(555) 010-1234',
      phoneCountryCode: '+1',
      locale: 'en-US',
      pronoun: 'FeminineHer',
      dateOfBirth: '1980-02-29',
      nationalProviderIdentifier: '1234567893',
      therapyLicence: 'LCSW',
      noteIdentifier: 'DrLastName',
      defaultNoteTemplateIds: ['tpl-soap'],
    };
    expect(parseWith(ProviderFieldsSchema, full)).toEqual(full);
  });

  it('normalises the email: trimmed and lower-cased', () => {
    expect(
      parseWith(ProviderFieldsSchema, { ...provider, email: ' Dana.Doe@EXAMPLE.com\t' }).email,
    ).toBe('dana.doe@example.com');
  });

  it.each(['dana', 'dana@', '@example.com', 'dana doe@example.com', 'dana@example'])(
    'rejects the malformed email %s',
    (email) => {
      expect(providerIssues({ ...provider, email })).toEqual([
        { field: 'email', reason: 'must be a valid email address' },
      ]);
    },
  );

  it('trims names and rejects blank ones', () => {
    expect(parseWith(ProviderFieldsSchema, { ...provider, firstName: '  Dana ' }).firstName).toBe(
      'Dana',
    );
    expect(providerIssues({ ...provider, lastName: '   ' })).toEqual([
      { field: 'lastName', reason: 'must not be empty' },
    ]);
  });

  it('rejects a name longer than the limit', () => {
    expect(
      providerIssues({ ...provider, firstName: 'a'.repeat(FIELD_LIMITS.nameMaxLength + 1) }),
    ).toEqual([
      { field: 'firstName', reason: `must have at most ${FIELD_LIMITS.nameMaxLength} characters` },
    ]);
  });

  it('rejects a name with control characters', () => {
    expect(providerIssues({ ...provider, firstName: 'Da\u0000na' })[0]?.field).toBe('firstName');
  });

  it.each([
    [
      'a right-to-left override',
      'Ana\u202eziuR',
      'must not contain bidi controls or zero-width characters',
    ],
    [
      'a bidi isolate',
      '\u2067Ruiz\u2069',
      'must not contain bidi controls or zero-width characters',
    ],
    ['a zero-width space', 'Ru\u200biz', 'must not contain bidi controls or zero-width characters'],
    [
      'a zero-width joiner',
      'Ru\u200diz',
      'must not contain bidi controls or zero-width characters',
    ],
    ['U+FFFF', 'Ruiz\uffff', 'must not contain Unicode noncharacters such as U+FFFF'],
    ['U+FDD0', 'Ru\ufdd0iz', 'must not contain Unicode noncharacters such as U+FFFF'],
    ['U+10FFFF', 'Ruiz\u{10ffff}', 'must not contain Unicode noncharacters such as U+FFFF'],
    ['a lone surrogate', 'Ruiz\ud800', 'must be well-formed Unicode (no lone surrogates)'],
  ])('rejects a last name with %s, naming the field', (_, lastName, reason) => {
    expect(providerIssues({ ...provider, lastName })).toEqual([{ field: 'lastName', reason }]);
  });

  it('accepts names in any script, with combining marks and emoji', () => {
    for (const lastName of ['Müller', 'Mu\u0308ller', 'Ørsted', 'Иванова', '山田', 'O’Neil 😀']) {
      expect(providerIssues({ ...provider, lastName })).toEqual([]);
    }
  });

  it.each(PRONOUNS)('accepts the pronoun %s', (pronoun) => {
    expect(providerIssues({ ...provider, pronoun })).toEqual([]);
  });

  it('rejects a pronoun outside Upheal’s enumeration, listing the accepted ones', () => {
    const [issue] = providerIssues({ ...provider, pronoun: 'she/her' });
    expect(issue?.field).toBe('pronoun');
    expect(issue?.reason).toBe(`must be one of: ${PRONOUNS.join(', ')}`);
  });

  it.each(NOTE_IDENTIFIERS)('accepts the note identifier %s', (noteIdentifier) => {
    expect(providerIssues({ ...provider, noteIdentifier })).toEqual([]);
  });

  it('rejects a note identifier outside Upheal’s enumeration', () => {
    expect(providerIssues({ ...provider, noteIdentifier: 'therapist' })[0]?.field).toBe(
      'noteIdentifier',
    );
  });

  it.each(['123456789', '12345678901', '12345abcde'])(
    'rejects the NPI %s',
    (nationalProviderIdentifier) => {
      expect(providerIssues({ ...provider, nationalProviderIdentifier })).toEqual([
        { field: 'nationalProviderIdentifier', reason: 'must be exactly 10 digits' },
      ]);
    },
  );

  it.each(['555-0101', '+1 555 0101', 'call me', '12'])(
    'checks the phone number %s',
    (phoneNumber) => {
      const valid = phoneNumber === '555-0101';
      expect(providerIssues({ ...provider, phoneNumber }).map((issue) => issue.field)).toEqual(
        valid ? [] : ['phoneNumber'],
      );
    },
  );

  it.each([
    ['+44', true],
    ['1', true],
    ['US', false],
    ['+12345', false],
  ])('checks the phone country code %s (valid: %s)', (phoneCountryCode, valid) => {
    expect(providerIssues({ ...provider, phoneCountryCode }).length === 0).toBe(valid);
  });

  it.each([
    ['en', true],
    ['pt_BR', true],
    ['zh-Hant-TW', true],
    ['english', false],
    ['e', false],
  ])('checks the locale %s (valid: %s)', (locale, valid) => {
    expect(providerIssues({ ...provider, locale }).length === 0).toBe(valid);
  });

  it('rejects an unknown field by a digest of its name', () => {
    expect(providerIssues({ ...provider, middleName: 'Q' })).toEqual([
      { field: unknownKeyName('middleName'), reason: 'is not a known field' },
    ]);
  });

  it('rejects client-only fields on a provider', () => {
    expect(providerIssues({ ...provider, providerPartnerUserIds: ['p-1'] })).toEqual([
      { field: 'providerPartnerUserIds', reason: 'is not a known field' },
    ]);
  });
});

describe('dateOfBirth', () => {
  it.each(['1980-02-29', '2026-11-27', '1900-01-01'])('accepts %s', (dateOfBirth) => {
    expect(clientIssues({ ...client, dateOfBirth })).toEqual([]);
  });

  it.each([
    ['1981-02-29', 'must be a real calendar date'],
    ['1980-13-01', 'must be a real calendar date'],
    ['1980-04-31', 'must be a real calendar date'],
    ['1980-4-3', 'must be a date in the form YYYY-MM-DD'],
    ['04/03/1980', 'must be a date in the form YYYY-MM-DD'],
    ['1980-04-03T00:00:00Z', 'must be a date in the form YYYY-MM-DD'],
    ['2026-11-29', 'must not be in the future'],
    ['1899-12-31', 'must not be before 1900'],
  ])('rejects %s: %s', (dateOfBirth, reason) => {
    expect(clientIssues({ ...client, dateOfBirth })).toEqual([{ field: 'dateOfBirth', reason }]);
  });

  it('accepts tomorrow’s UTC date while it is already today somewhere on Earth', () => {
    expect(clientIssues({ ...client, dateOfBirth: '2026-11-28' })).toEqual([]);
  });
});

describe('ClientFieldsSchema', () => {
  it('requires firstName, lastName and providerPartnerUserIds, but not email', () => {
    expect(clientIssues({})).toEqual([
      { field: 'firstName', reason: 'is required' },
      { field: 'lastName', reason: 'is required' },
      { field: 'providerPartnerUserIds', reason: 'is required' },
    ]);
  });

  it('keeps the provider order (first = primary)', () => {
    const fields = parseWith(ClientFieldsSchema, {
      ...client,
      providerPartnerUserIds: ['p-9', 'p-2'],
    });
    expect(fields.providerPartnerUserIds).toEqual(['p-9', 'p-2']);
  });

  it('rejects an empty provider list', () => {
    expect(clientIssues({ ...client, providerPartnerUserIds: [] })).toEqual([
      { field: 'providerPartnerUserIds', reason: 'must have at least 1 item' },
    ]);
  });

  it('reports a repeated provider on its index', () => {
    expect(clientIssues({ ...client, providerPartnerUserIds: ['p-1', 'p-2', 'p-2'] })).toEqual([
      { field: 'providerPartnerUserIds.2', reason: 'repeats item 1' },
    ]);
  });

  it.each([
    ['', 'must not be empty'],
    [' p-1', 'must not start or end with whitespace'],
    ['p-\n1', 'must contain only letters, digits, spaces and . _ - : / + #'],
    ['p\u202e1', 'must contain only letters, digits, spaces and . _ - : / + #'],
    ['ana.ruiz@example.com', 'must contain only letters, digits, spaces and . _ - : / + #'],
    ['p\u200b1', 'must contain only letters, digits, spaces and . _ - : / + #'],
    [
      'p'.repeat(FIELD_LIMITS.idMaxLength + 1),
      `must have at most ${FIELD_LIMITS.idMaxLength} characters`,
    ],
  ])('rejects the provider id %j', (id, reason) => {
    expect(clientIssues({ ...client, providerPartnerUserIds: ['p-0', id] })).toEqual([
      { field: 'providerPartnerUserIds.1', reason },
    ]);
  });

  it('accepts provider ids with spaces, letters of any script and the listed punctuation', () => {
    const ids = ['c 1001', 'ü-1', 'Ωmega_2', 'org/7:p#1', 'a.b+c'];
    expect(clientIssues({ ...client, providerPartnerUserIds: ids })).toEqual([]);
  });

  it('rejects a non-string provider id', () => {
    expect(clientIssues({ ...client, providerPartnerUserIds: [7] })).toEqual([
      { field: 'providerPartnerUserIds.0', reason: 'must be a string' },
    ]);
  });

  it('accepts an empty note-template list (no defaults) but not a repeated template', () => {
    expect(clientIssues({ ...client, defaultNoteTemplateIds: [] })).toEqual([]);
    expect(clientIssues({ ...client, defaultNoteTemplateIds: ['t', 't'] })).toEqual([
      { field: 'defaultNoteTemplateIds.1', reason: 'repeats item 0' },
    ]);
  });

  it('normalises an optional email', () => {
    expect(parseWith(ClientFieldsSchema, { ...client, email: 'Ana@Example.com' }).email).toBe(
      'ana@example.com',
    );
  });

  it('rejects provider-only fields on a client', () => {
    expect(clientIssues({ ...client, noteIdentifier: 'Coach' })).toEqual([
      { field: 'noteIdentifier', reason: 'is not a known field' },
    ]);
  });
});
