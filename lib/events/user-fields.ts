/**
 * The partner's user fields, shared by partner events and import rows.
 * Enumerations are Upheal's; formats Upheal leaves undocumented (upheal-api.md §8 row 19) are
 * checked here conservatively so a bad value fails at our edge with the field named, not as an
 * opaque 400 from Upheal later. Objects are strict: an unknown field is an error.
 */
import * as z from 'zod';
import { NOTE_IDENTIFIERS, PRONOUNS } from '#lib/upheal/schemas.ts';

/** Bounds and patterns of the partner's fields, named once. */
export const FIELD_LIMITS = {
  /** Longest partner user id, event id or note-template id. */
  idMaxLength: 128,
  /** Longest first or last name. */
  nameMaxLength: 100,
  /** Longest email address (RFC 5321 path limit). */
  emailMaxLength: 254,
  /** Most providers one client may have. */
  maxProvidersPerClient: 20,
  /** Most default note templates on one user. */
  maxNoteTemplates: 50,
  /** Longest free-text field (therapy licence). */
  textMaxLength: 100,
  /** Earliest plausible year of birth; earlier is almost surely a typo. */
  earliestBirthYear: 1900,
} as const;

/** Largest timezone offset on Earth (UTC+14): "today" somewhere may be tomorrow in UTC. */
const MAX_UTC_OFFSET_MS = 14 * 60 * 60 * 1000;

/** Any control character (C0, DEL, C1); ids and names must not carry them. */
const CONTROL_CHARACTERS = /\p{Cc}/u;

/**
 * Characters that change how text around them is shown or read without being visible: bidi
 * embeddings, overrides and isolates (U+202A–202E, U+2066–2069), the marks U+200E/200F/061C, and
 * zero-width characters (U+200B–200D, U+2060, U+FEFF). A name carrying them can display as
 * another name in Upheal, so they are refused, not silently removed.
 */
const INVISIBLE_FORMATTING = /[\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]/u;

/**
 * Unicode noncharacters (U+FDD0–FDEF and the last two code points of every plane, e.g. U+FFFF):
 * never meant for interchange, and SQS refuses U+FFFE and U+FFFF in a message body.
 */
const NONCHARACTERS =
  /[\ufdd0-\ufdef\ufffe\uffff]|[\ud83f\ud87f\ud8bf\ud8ff\ud93f\ud97f\ud9bf\ud9ff\uda3f\uda7f\udabf\udaff\udb3f\udb7f\udbbf\udbff][\udffe\udfff]/;

/**
 * The characters of a partner id (user id, event id, template id): letters and digits of any
 * script (with their combining marks), and `.` `_` `-` `:` `/` `+` `#` and the space between
 * them. No `@`, so an email can never pass as an id (ids are logged; emails are not).
 */
const ID_CHARACTERS = /^[\p{L}\p{M}\p{N}._:/+# -]+$/u;

/** Whether every surrogate in `text` is part of a pair (JSON can carry lone ones; Upheal cannot). */
function isWellFormed(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

/** Why free text (a name, a licence) is unsafe to store and show, or undefined when it is fine. */
export function unsafeTextReason(text: string): string | undefined {
  if (CONTROL_CHARACTERS.test(text)) return 'must not contain control characters';
  if (!isWellFormed(text)) return 'must be well-formed Unicode (no lone surrogates)';
  if (NONCHARACTERS.test(text)) return 'must not contain Unicode noncharacters such as U+FFFF';
  if (INVISIBLE_FORMATTING.test(text)) {
    return 'must not contain bidi controls or zero-width characters';
  }
  return undefined;
}

/** Adds a value-free issue when free text carries characters `unsafeTextReason` refuses. */
function refuseUnsafeText(text: string, context: z.RefinementCtx): void {
  const reason = unsafeTextReason(text);
  if (reason) context.addIssue({ code: 'custom', message: reason });
}

/** A partner's identifier (user id, event id, template id): opaque, bounded, safe to log. */
export const IdSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(FIELD_LIMITS.idMaxLength, `must have at most ${FIELD_LIMITS.idMaxLength} characters`)
  .refine(
    (id) => ID_CHARACTERS.test(id),
    'must contain only letters, digits, spaces and . _ - : / + #',
  )
  .refine((id) => id.trim() === id, 'must not start or end with whitespace');

/** A list of ids that must not repeat; the repeat is reported on its own index. */
function uniqueIds(minItems: number, maxItems: number) {
  return z
    .array(IdSchema)
    .min(minItems)
    .max(maxItems)
    .superRefine((ids, context) => {
      const firstIndex = new Map<string, number>();
      ids.forEach((id, index) => {
        const first = firstIndex.get(id);
        if (first === undefined) firstIndex.set(id, index);
        else context.addIssue({ code: 'custom', path: [index], message: `repeats item ${first}` });
      });
    });
}

/** A person's name: trimmed, non-empty, bounded, free of characters that hide or disguise text. */
const NameSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(FIELD_LIMITS.nameMaxLength, `must have at most ${FIELD_LIMITS.nameMaxLength} characters`)
  .superRefine(refuseUnsafeText);

/** An email, normalised as Upheal's check-by-email expects (trimmed, lower-case). */
export const EmailSchema = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(
    z
      .email('must be a valid email address')
      .max(
        FIELD_LIMITS.emailMaxLength,
        `must have at most ${FIELD_LIMITS.emailMaxLength} characters`,
      ),
  );

/** Whether `text` (already shaped `YYYY-MM-DD`) names a real calendar day. */
function isCalendarDate(text: string): boolean {
  const [year, month, day] = text.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return (
    date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day
  );
}

/** The latest calendar date anywhere on Earth right now, as `YYYY-MM-DD`. */
function latestDateOnEarth(): string {
  return new Date(Date.now() + MAX_UTC_OFFSET_MS).toISOString().slice(0, 10);
}

/**
 * A date of birth: an ISO calendar date `YYYY-MM-DD` (the form Upheal documents) that exists,
 * is not in the future (anywhere on Earth) and not before 1900.
 */
export const DateOfBirthSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date in the form YYYY-MM-DD')
  .refine(isCalendarDate, { message: 'must be a real calendar date', abort: true })
  .refine((date) => date <= latestDateOnEarth(), 'must not be in the future')
  .refine(
    (date) => Number(date.slice(0, 4)) >= FIELD_LIMITS.earliestBirthYear,
    `must not be before ${FIELD_LIMITS.earliestBirthYear}`,
  );

/** A locale tag such as `en`, `en-US` or `pt_BR` (BCP 47 shaped; Upheal's list is undocumented). */
const LocaleSchema = z
  .string()
  .regex(/^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$/, 'must be a locale tag such as en or en-US');

/** A phone number without its country code: digits with common separators, 4–20 digits. */
const PhoneNumberSchema = z
  .string()
  .regex(/^[0-9 ().-]{4,32}$/, 'must contain only digits, spaces and ( ) . -')
  .refine((phone) => {
    const digits = phone.replace(/\D/g, '').length;
    return digits >= 4 && digits <= 20;
  }, 'must have between 4 and 20 digits');

/** A phone country calling code such as `1` or `+44`. */
const PhoneCountryCodeSchema = z
  .string()
  .regex(/^\+?[0-9]{1,4}$/, 'must be a country calling code such as +1 or 44');

/** A US National Provider Identifier: exactly ten digits. */
const NpiSchema = z.string().regex(/^[0-9]{10}$/, 'must be exactly 10 digits');

/** Free text such as a licence number: trimmed, non-empty, bounded. */
const ShortTextSchema = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(FIELD_LIMITS.textMaxLength, `must have at most ${FIELD_LIMITS.textMaxLength} characters`)
  .superRefine(refuseUnsafeText);

/** Default note templates of a user; may be empty (no defaults). */
const NoteTemplateIdsSchema = uniqueIds(0, FIELD_LIMITS.maxNoteTemplates);

/** A client's providers: non-empty, no repeats; the first is the primary (`therapistUserId`). */
export const ProviderPartnerUserIdsSchema = uniqueIds(1, FIELD_LIMITS.maxProvidersPerClient);

/** The full state of a provider as the partner system knows it. */
export const ProviderFieldsSchema = z.strictObject({
  email: EmailSchema,
  firstName: NameSchema,
  lastName: NameSchema,
  phoneNumber: PhoneNumberSchema.optional(),
  phoneCountryCode: PhoneCountryCodeSchema.optional(),
  locale: LocaleSchema.optional(),
  pronoun: z.enum(PRONOUNS).optional(),
  dateOfBirth: DateOfBirthSchema.optional(),
  nationalProviderIdentifier: NpiSchema.optional(),
  therapyLicence: ShortTextSchema.optional(),
  noteIdentifier: z.enum(NOTE_IDENTIFIERS).optional(),
  defaultNoteTemplateIds: NoteTemplateIdsSchema.optional(),
});

/** A provider's fields after validation and normalisation. */
export type ProviderFields = z.output<typeof ProviderFieldsSchema>;

/** The full state of a client as the partner system knows it. */
export const ClientFieldsSchema = z.strictObject({
  firstName: NameSchema,
  lastName: NameSchema,
  providerPartnerUserIds: ProviderPartnerUserIdsSchema,
  email: EmailSchema.optional(),
  locale: LocaleSchema.optional(),
  pronoun: z.enum(PRONOUNS).optional(),
  dateOfBirth: DateOfBirthSchema.optional(),
  defaultNoteTemplateIds: NoteTemplateIdsSchema.optional(),
});

/** A client's fields after validation and normalisation. */
export type ClientFields = z.output<typeof ClientFieldsSchema>;

/** Names of the provider fields, in contract order. */
export const PROVIDER_FIELD_NAMES = Object.keys(
  ProviderFieldsSchema.shape,
) as readonly (keyof ProviderFields)[];

/** Names of the client fields, in contract order. */
export const CLIENT_FIELD_NAMES = Object.keys(
  ClientFieldsSchema.shape,
) as readonly (keyof ClientFields)[];
