/**
 * fast-check arbitraries of valid partner data, shared by the event and import tests. They
 * generate values already in normal form (trimmed names, lower-case emails), so a valid value
 * parses to itself.
 */
import fc from 'fast-check';
import { EVENT_TYPES } from '#lib/events/partner-event.ts';
import type { ClientFields, ProviderFields } from '#lib/events/user-fields.ts';
import { NOTE_IDENTIFIERS, PRONOUNS } from '#lib/upheal/schemas.ts';

/** Characters ids are drawn from: the whole id character set, with letters beyond ASCII. */
const ID_CHARACTERS = 'abcdefghijklmnopqrstuvwxyz0123456789-_.:/+# éü'.split('');

/** A valid partner id (no outer space; no `;`, so it survives CSV list columns). */
export const idArbitrary = fc
  .array(fc.constantFrom(...ID_CHARACTERS), { minLength: 1, maxLength: 20 })
  .map((chars) => chars.join(''))
  .filter((id) => id.trim() === id);

/** A valid name: printable, may contain commas, quotes and accents, no outer whitespace. */
export const nameArbitrary = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 30 })
  .map((text) => text.replace(/\p{C}/gu, '').trim())
  .filter((text) => text.length > 0 && text.length <= 100);

/** A valid, already-normalised email address. */
export const emailArbitrary = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9]([a-z0-9._+-]{0,15}[a-z0-9])?$/),
    fc.stringMatching(/^[a-z0-9]{1,10}$/),
  )
  .filter(([local]) => !local.includes('..'))
  .map(([local, domain]) => `${local}@${domain}.example.com`);

/** A valid date of birth between 1930 and 2010. */
export const dateOfBirthArbitrary = fc
  .date({
    min: new Date('1930-01-01T00:00:00Z'),
    max: new Date('2010-12-31T00:00:00Z'),
    noInvalidDate: true,
  })
  .map((date) => date.toISOString().slice(0, 10));

/** A list of distinct ids. */
function distinctIds(minLength: number, maxLength: number) {
  return fc.uniqueArray(idArbitrary, { minLength, maxLength });
}

/** Valid provider fields, with a random subset of the optional ones. */
export const providerFieldsArbitrary: fc.Arbitrary<ProviderFields> = fc.record(
  {
    email: emailArbitrary,
    firstName: nameArbitrary,
    lastName: nameArbitrary,
    phoneNumber: fc.stringMatching(/^[0-9]{3}-[0-9]{3}-[0-9]{4}$/),
    phoneCountryCode: fc.constantFrom('+1', '44', '+420'),
    locale: fc.constantFrom('en', 'en-US', 'es', 'pt_BR'),
    pronoun: fc.constantFrom(...PRONOUNS),
    dateOfBirth: dateOfBirthArbitrary,
    nationalProviderIdentifier: fc.stringMatching(/^[0-9]{10}$/),
    therapyLicence: fc.constantFrom('LCSW', 'LMFT', 'PsyD 12-345'),
    noteIdentifier: fc.constantFrom(...NOTE_IDENTIFIERS),
    defaultNoteTemplateIds: distinctIds(1, 3),
  },
  { requiredKeys: ['email', 'firstName', 'lastName'] },
);

/** Valid client fields, with a random subset of the optional ones. */
export const clientFieldsArbitrary: fc.Arbitrary<ClientFields> = fc.record(
  {
    firstName: nameArbitrary,
    lastName: nameArbitrary,
    providerPartnerUserIds: distinctIds(1, 3),
    email: emailArbitrary,
    locale: fc.constantFrom('en', 'en-GB', 'fr'),
    pronoun: fc.constantFrom(...PRONOUNS),
    dateOfBirth: dateOfBirthArbitrary,
    defaultNoteTemplateIds: distinctIds(1, 3),
  },
  { requiredKeys: ['firstName', 'lastName', 'providerPartnerUserIds'] },
);

/** A valid `occurredAt` in UTC: in the past of every clock the tests use. */
const occurredAtArbitrary = fc
  .date({
    min: new Date('2020-01-01T00:00:00Z'),
    max: new Date('2026-11-01T00:00:00Z'),
    noInvalidDate: true,
  })
  .map((date) => date.toISOString());

/** The envelope of an event, without type and data. */
const envelopeArbitrary = fc.record({
  eventId: idArbitrary,
  occurredAt: occurredAtArbitrary,
  partnerUserId: idArbitrary,
});

/** Any valid partner event, as the partner would send it. */
export const partnerEventArbitrary = fc
  .oneof(
    fc.tuple(
      envelopeArbitrary,
      fc.constantFrom(EVENT_TYPES.providerCreated, EVENT_TYPES.providerUpdated),
      providerFieldsArbitrary,
    ),
    fc.tuple(
      envelopeArbitrary,
      fc.constantFrom(EVENT_TYPES.clientCreated, EVENT_TYPES.clientUpdated),
      clientFieldsArbitrary,
    ),
    fc.tuple(
      envelopeArbitrary,
      fc.constant(EVENT_TYPES.clientProvidersChanged),
      distinctIds(1, 4).map((providerPartnerUserIds) => ({ providerPartnerUserIds })),
    ),
    fc.tuple(envelopeArbitrary, fc.constant(EVENT_TYPES.userDeleted), fc.constant({})),
  )
  .map(([envelope, type, data]) => ({ ...envelope, type, data }));
