/**
 * zod schemas of the request bodies the simulator accepts, following upheal-api.md §2 and the
 * recommended validation of §8 row 19: missing required fields, wrong types, bad enums, malformed
 * emails, non-ISO dates and explicit nulls answer 400 naming the field. Unknown fields are
 * accepted and ignored.
 */
import { z } from 'zod';
import { NOTE_IDENTIFIERS, PRONOUNS } from '#lib/upheal/schemas.ts';

// Upheal's enumerations: one list, shared with the client that validates what we send.
export { NOTE_IDENTIFIERS, PRONOUNS };

/** Upheal user types the simulator models (OrgAdmin is not created by this product). */
export const USER_TYPES = { provider: 'HealthcareProvider', client: 'Client' } as const;

/** One of USER_TYPES. */
export type UserType = (typeof USER_TYPES)[keyof typeof USER_TYPES];

const text = z.string().min(1);
/** Emails are trimmed before validation and matching. */
const email = z.string().trim().pipe(z.email());
const isoDate = z.iso.date();
const templateIds = z.array(text);

/** `POST /users/check`. */
export const CheckUserBody = z.object({ email });

/** `POST /users/providers` (V2). */
export const CreateProviderBody = z.object({
  partnerUserId: text.optional(),
  firstName: text,
  lastName: text,
  email,
  phoneNumber: text.optional(),
  phoneCountryCode: text.optional(),
  locale: text.optional(),
  nationalProviderIdentifier: text.optional(),
  therapyLicence: text.optional(),
  noteIdentifier: z.enum(NOTE_IDENTIFIERS).optional(),
  defaultNoteTemplateIds: templateIds.optional(),
});

/** `POST /users/clients` (V2). */
export const CreateClientBody = z.object({
  therapistUserId: text,
  partnerUserId: text.optional(),
  firstName: text,
  lastName: text,
  email: email.optional(),
  locale: text.optional(),
  pronoun: z.enum(PRONOUNS).optional(),
  dateOfBirth: isoDate.optional(),
  defaultNoteTemplateIds: templateIds.optional(),
});

/** `PUT /users/{userId}` (V2): every field optional, the object itself required. */
export const UpdateUserBody = z.object({
  firstName: text.optional(),
  lastName: text.optional(),
  pronoun: z.enum(PRONOUNS).optional(),
  dateOfBirth: isoDate.optional(),
  defaultNoteTemplateIds: templateIds.optional(),
  /** The guide lists the partner id among the common fields this endpoint updates. */
  partnerUserId: text.optional(),
});

/** `PUT /users/providers/{providerUserId}` (V2). */
export const UpdateProviderBody = z.object({
  defaultNoteTemplateIds: templateIds.optional(),
  nationalProviderIdentifier: text.optional(),
  therapyLicence: text.optional(),
  noteIdentifier: z.enum(NOTE_IDENTIFIERS).optional(),
});

/** `POST /users/{userId}/providers` (V1): the complete, non-empty provider list. */
export const ReplaceProvidersBody = z.object({
  providerUserIds: z.array(text).min(1),
});

/** A user seeded through `POST /__sim/users` (e.g. a provider that exists before an import). */
export const SeedUserBody = z.object({
  userId: z.uuid().optional(),
  userType: z.enum([USER_TYPES.provider, USER_TYPES.client]),
  partnerUserId: text.optional(),
  firstName: text,
  lastName: text,
  email: email.optional(),
  phoneNumber: text.optional(),
  phoneCountryCode: text.optional(),
  locale: text.optional(),
  pronoun: z.enum(PRONOUNS).optional(),
  dateOfBirth: isoDate.optional(),
  nationalProviderIdentifier: text.optional(),
  therapyLicence: text.optional(),
  noteIdentifier: z.enum(NOTE_IDENTIFIERS).optional(),
  defaultNoteTemplateIds: templateIds.optional(),
  providerUserIds: z.array(text).optional(),
  isActive: z.boolean().default(true),
});

/** Input of one seeded user. */
export type SeedUser = z.input<typeof SeedUserBody>;

/** `POST /__sim/users`: a list of users (a single object is wrapped in a list first). */
export const SeedUsersBody = z.array(SeedUserBody);
