import { describe, expect, it } from 'vitest';
import {
  CheckUserResponseSchema,
  CreateClientBodySchema,
  CreateProviderBodySchema,
  CreateProviderResponseSchema,
  LenientBoolean,
  LenientString,
  NOTE_IDENTIFIERS,
  PRONOUNS,
  ReplaceProvidersBodySchema,
  UpdateUserBodySchema,
} from '#lib/upheal/schemas.ts';

const provider = { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' };

describe('enums', () => {
  it('lists the three pronouns and the sixteen note identifiers Upheal documents', () => {
    expect(PRONOUNS).toEqual(['MasculineHim', 'FeminineHer', 'NeutralThem']);
    expect(NOTE_IDENTIFIERS).toHaveLength(16);
    expect(NOTE_IDENTIFIERS).toContain('PeerSupportSpecialist');
  });
});

describe('request body schemas', () => {
  it('accept a minimal provider body', () => {
    expect(CreateProviderBodySchema.parse(provider)).toEqual(provider);
  });

  it('reject unknown keys', () => {
    const result = CreateProviderBodySchema.safeParse({ ...provider, defaultSessionType: 'Soap' });
    expect(result.success).toBe(false);
  });

  it('reject null, since Upheal null semantics are undocumented', () => {
    expect(CreateProviderBodySchema.safeParse({ ...provider, locale: null }).success).toBe(false);
    expect(UpdateUserBodySchema.safeParse({ firstName: null }).success).toBe(false);
  });

  it('reject a missing required field, naming it', () => {
    const result = CreateClientBodySchema.safeParse({ firstName: 'A', lastName: 'B' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toContain('therapistUserId');
  });

  it('reject values outside the enums and non-ISO dates', () => {
    const client = { therapistUserId: 't', firstName: 'A', lastName: 'B' };
    expect(CreateClientBodySchema.safeParse({ ...client, pronoun: 'He' }).success).toBe(false);
    expect(CreateClientBodySchema.safeParse({ ...client, dateOfBirth: '1/2/1990' }).success).toBe(
      false,
    );
    expect(CreateClientBodySchema.safeParse({ ...client, dateOfBirth: '1990-02-01' }).success).toBe(
      true,
    );
    expect(CreateProviderBodySchema.safeParse({ ...provider, noteIdentifier: 'Doc' }).success).toBe(
      false,
    );
  });

  it('reject an empty provider list', () => {
    expect(ReplaceProvidersBodySchema.safeParse({ providerUserIds: [] }).success).toBe(false);
  });
});

describe('LenientBoolean', () => {
  it('accepts booleans and the strings "true" and "false"', () => {
    expect(LenientBoolean.parse(true)).toBe(true);
    expect(LenientBoolean.parse('true')).toBe(true);
    expect(LenientBoolean.parse('false')).toBe(false);
  });

  it('rejects anything else', () => {
    expect(LenientBoolean.safeParse('yes').success).toBe(false);
    expect(LenientBoolean.safeParse(1).success).toBe(false);
  });
});

describe('LenientString', () => {
  it('normalises numbers to strings', () => {
    expect(LenientString.parse(1234567890)).toBe('1234567890');
    expect(LenientString.parse('abc')).toBe('abc');
  });
});

describe('response decoders', () => {
  it('decode a check answer with string booleans and a numeric id', () => {
    expect(
      CheckUserResponseSchema.parse({ isUserExists: 'true', userId: 42, isActive: 'false' }),
    ).toEqual({ isUserExists: true, userId: '42', isActive: false });
  });

  it('treat null and absent optional fields alike and ignore unknown fields', () => {
    expect(
      CheckUserResponseSchema.parse({ isUserExists: false, userId: null, extra: { a: 1 } }),
    ).toEqual({ isUserExists: false, userId: undefined });
  });

  it('require the userId of a created provider', () => {
    expect(CreateProviderResponseSchema.safeParse({ inviteUrl: 'https://x' }).success).toBe(false);
  });
});
