/**
 * zod schemas for every Upheal request body and response this product uses (upheal-api.md U1,
 * U3, U7, U11, U13, U14). Request bodies are strict: no unknown keys and never `null` (Upheal's
 * null semantics are undocumented, §8 row 18), so an unchanged field is simply left out.
 * Response decoders are tolerant where the docs disagree with themselves (§8 rows 21–22):
 * booleans may arrive as "true"/"false", ids and numbers-looking fields may arrive as numbers,
 * and unknown fields are ignored.
 */
import * as z from 'zod';

/** Pronouns Upheal accepts on clients (upheal-api.md, shared enums). */
export const PRONOUNS = ['MasculineHim', 'FeminineHer', 'NeutralThem'] as const;

/** A pronoun Upheal accepts. */
export type Pronoun = (typeof PRONOUNS)[number];

/** How generated notes refer to a provider (V2 providers, upheal-api.md shared enums). */
export const NOTE_IDENTIFIERS = [
  'Therapist',
  'Clinician',
  'Coach',
  'FirstName',
  'DrLastName',
  'Provider',
  'Physician',
  'Practitioner',
  'Author',
  'Writer',
  'Counselor',
  'Psychologist',
  'PeerSupportSpecialist',
  'CaseManager',
  'Supervisor',
  'Dietitian',
] as const;

/** A note identifier Upheal accepts. */
export type NoteIdentifier = (typeof NOTE_IDENTIFIERS)[number];

// ---------------------------------------------------------------------------------------------
// Request bodies (strict)
// ---------------------------------------------------------------------------------------------

const requiredText = z.string().trim().min(1);
const optionalText = requiredText.optional();
const email = z.email();
const templateIds = z.array(requiredText);
const isoDate = z.iso.date();

/** Body of `POST /users/check` (U1). */
export const CheckUserBodySchema = z.strictObject({ email });

/** Body of `POST /users/check`. */
export type CheckUserBody = z.infer<typeof CheckUserBodySchema>;

/** Body of `POST /users/providers` (U3, V2). */
export const CreateProviderBodySchema = z.strictObject({
  partnerUserId: optionalText,
  firstName: requiredText,
  lastName: requiredText,
  email,
  phoneNumber: optionalText,
  phoneCountryCode: optionalText,
  locale: optionalText,
  nationalProviderIdentifier: optionalText,
  therapyLicence: optionalText,
  noteIdentifier: z.enum(NOTE_IDENTIFIERS).optional(),
  defaultNoteTemplateIds: templateIds.optional(),
});

/** Body of `POST /users/providers` (V2). */
export type CreateProviderBody = z.input<typeof CreateProviderBodySchema>;

/** Body of `POST /users/clients` (U7, V2). */
export const CreateClientBodySchema = z.strictObject({
  therapistUserId: requiredText,
  partnerUserId: optionalText,
  firstName: requiredText,
  lastName: requiredText,
  email: email.optional(),
  locale: optionalText,
  pronoun: z.enum(PRONOUNS).optional(),
  dateOfBirth: isoDate.optional(),
  defaultNoteTemplateIds: templateIds.optional(),
});

/** Body of `POST /users/clients` (V2). */
export type CreateClientBody = z.input<typeof CreateClientBodySchema>;

/** Body of `PUT /users/{userId}` (U11, V2): every field optional, absent means unchanged. */
export const UpdateUserBodySchema = z.strictObject({
  firstName: optionalText,
  lastName: optionalText,
  pronoun: z.enum(PRONOUNS).optional(),
  dateOfBirth: isoDate.optional(),
  defaultNoteTemplateIds: templateIds.optional(),
  /** The guide lists the partner id among the fields this endpoint updates (sent on a link). */
  partnerUserId: optionalText,
});

/** Body of `PUT /users/{userId}` (V2). */
export type UpdateUserBody = z.input<typeof UpdateUserBodySchema>;

/** Body of `PUT /users/providers/{providerUserId}` (U13, V2): absent means unchanged. */
export const UpdateProviderBodySchema = z.strictObject({
  defaultNoteTemplateIds: templateIds.optional(),
  nationalProviderIdentifier: optionalText,
  therapyLicence: optionalText,
  noteIdentifier: z.enum(NOTE_IDENTIFIERS).optional(),
});

/** Body of `PUT /users/providers/{providerUserId}` (V2). */
export type UpdateProviderBody = z.input<typeof UpdateProviderBodySchema>;

/** Body of `POST /users/{userId}/providers` (U14, V1): the complete list, never empty (§8 row 20). */
export const ReplaceProvidersBodySchema = z.strictObject({
  providerUserIds: z.array(requiredText).min(1),
});

/** Body of `POST /users/{userId}/providers` (V1). */
export type ReplaceProvidersBody = z.input<typeof ReplaceProvidersBodySchema>;

// ---------------------------------------------------------------------------------------------
// Response decoders (tolerant)
// ---------------------------------------------------------------------------------------------

/** A boolean Upheal may also send as the string "true" or "false" (§8 row 21). */
export const LenientBoolean = z.union([
  z.boolean(),
  z.enum(['true', 'false']).transform((value) => value === 'true'),
]);

/** An id or number-looking field Upheal may send as a number (§8 row 22); always a string here. */
export const LenientString = z.union([
  z.string(),
  z
    .number()
    .refine(Number.isFinite, 'must be a finite number')
    .transform((value) => String(value)),
]);

/** A non-empty id, tolerant of numbers. */
const LenientId = LenientString.pipe(z.string().min(1));

/**
 * An optional response field: absent, `null` (common in JSON APIs, undocumented here) and
 * missing all decode as `undefined`.
 */
function optional<Schema extends z.ZodType>(schema: Schema) {
  return schema.nullish().transform((value) => value ?? undefined);
}

/** 200 of `POST /users/check`: `userId`/`isActive` are absent when the user does not exist. */
export const CheckUserResponseSchema = z.object({
  isUserExists: LenientBoolean,
  userId: optional(LenientId),
  email: optional(z.string()),
  isActive: optional(LenientBoolean),
});

/** Decoded `POST /users/check` response. */
export type CheckUserResponse = z.output<typeof CheckUserResponseSchema>;

/** 200 of `POST /users/providers` (V2). `inviteUrl` is a credential: never log it. */
export const CreateProviderResponseSchema = z.object({
  userId: LenientId,
  inviteUrl: optional(z.string()),
  privateRoomLink: optional(z.string()),
  partnerUserId: optional(LenientString),
  organizationId: optional(LenientString),
  defaultNoteTemplateIds: optional(z.array(LenientString)),
  noteIdentifier: optional(z.string()),
});

/** Decoded `POST /users/providers` response. */
export type CreateProviderResponse = z.output<typeof CreateProviderResponseSchema>;

/** 200 of `POST /users/clients` (V2). Session URLs are optional here: this product needs none. */
export const CreateClientResponseSchema = z.object({
  userId: LenientId,
  clientSessionUrl: optional(z.string()),
  therapistSessionUrl: optional(z.string()),
  partnerUserId: optional(LenientString),
  organizationId: optional(LenientString),
  defaultNoteTemplateIds: optional(z.array(LenientString)),
});

/** Decoded `POST /users/clients` response. */
export type CreateClientResponse = z.output<typeof CreateClientResponseSchema>;

/**
 * 200 of `PUT /users/{userId}` (the U8 user shape). Nothing in it is needed, and no field is
 * documented as required: only the types of the fields named here are checked, and an empty
 * body is accepted.
 */
export const UpdateUserResponseSchema = z.object({
  userId: optional(LenientString),
  phoneNumber: optional(LenientString),
  partnerUserId: optional(LenientString),
  organizationId: optional(LenientString),
});

/** 200 of `PUT /users/providers/{providerUserId}` (the U9 shape); tolerated, not needed. */
export const UpdateProviderResponseSchema = z.object({
  userId: optional(LenientString),
  nationalProviderIdentifier: optional(LenientString),
  phoneNumber: optional(LenientString),
  partnerUserId: optional(LenientString),
  organizationId: optional(LenientString),
  defaultNoteTemplateIds: optional(z.array(LenientString)),
});

/** 200 of `POST /users/{userId}/providers`: the providers now assigned. */
export const ReplaceProvidersResponseSchema = z.object({
  providerUserIds: z.array(LenientId),
});

/** Decoded `POST /users/{userId}/providers` response. */
export type ReplaceProvidersResponse = z.output<typeof ReplaceProvidersResponseSchema>;
