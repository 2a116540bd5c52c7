/**
 * How a partner user's fields map onto Upheal's requests, and the hashes that let the sync skip
 * calls that would change nothing. The integration guide's update endpoints cannot
 * change some fields (email, phone, locale); those are compared by hash so the partner learns
 * which changes were not applied.
 */
import { createHash } from 'node:crypto';
import type { ClientFields, ProviderFields } from '#lib/events/user-fields.ts';
import type {
  CreateClientBody,
  CreateProviderBody,
  UpdateProviderBody,
  UpdateUserBody,
} from '#lib/upheal/client.ts';

/** Partner fields that no endpoint of the guide can change after creation. */
export const FIXED_FIELDS = ['email', 'phoneNumber', 'phoneCountryCode', 'locale'] as const;

/** A fixed field's name. */
export type FixedField = (typeof FIXED_FIELDS)[number];

/** Characters of a base64url SHA-256 kept in a hash (132 bits: collisions are not a concern). */
const HASH_LENGTH = 22;

/** The body of `POST /users/providers` (V2) for a provider. */
export function createProviderBody(
  partnerUserId: string,
  fields: ProviderFields,
): CreateProviderBody {
  return compact({
    partnerUserId,
    email: fields.email,
    firstName: fields.firstName,
    lastName: fields.lastName,
    phoneNumber: fields.phoneNumber,
    phoneCountryCode: fields.phoneCountryCode,
    locale: fields.locale,
    nationalProviderIdentifier: fields.nationalProviderIdentifier,
    therapyLicence: fields.therapyLicence,
    noteIdentifier: fields.noteIdentifier,
    defaultNoteTemplateIds: fields.defaultNoteTemplateIds,
  });
}

/** The body of `POST /users/clients` (V2); `therapistUserId` is the primary provider's Upheal id. */
export function createClientBody(
  partnerUserId: string,
  fields: ClientFields,
  therapistUserId: string,
): CreateClientBody {
  return compact({
    therapistUserId,
    partnerUserId,
    firstName: fields.firstName,
    lastName: fields.lastName,
    email: fields.email,
    locale: fields.locale,
    pronoun: fields.pronoun,
    dateOfBirth: fields.dateOfBirth,
    defaultNoteTemplateIds: fields.defaultNoteTemplateIds,
  });
}

/**
 * The body of `PUT /users/{id}` (V2): the fields any user has. A provider's note templates go
 * through the provider endpoint instead, as the guide says.
 */
export function commonUpdateBody(
  fields: ProviderFields | ClientFields,
  isProvider: boolean,
): UpdateUserBody {
  return compact({
    firstName: fields.firstName,
    lastName: fields.lastName,
    pronoun: fields.pronoun,
    dateOfBirth: fields.dateOfBirth,
    defaultNoteTemplateIds: isProvider ? undefined : fields.defaultNoteTemplateIds,
  });
}

/** The body of `PUT /users/providers/{id}` (V2): the provider-specific fields. */
export function providerUpdateBody(fields: ProviderFields): UpdateProviderBody {
  return compact({
    nationalProviderIdentifier: fields.nationalProviderIdentifier,
    therapyLicence: fields.therapyLicence,
    noteIdentifier: fields.noteIdentifier,
    defaultNoteTemplateIds: fields.defaultNoteTemplateIds,
  });
}

/**
 * A short, stable hash of a request body or field value, salted with the partner user id so
 * equal values of different users don't share a hash. Stored instead of the values themselves.
 */
export function fieldsHash(partnerUserId: string, value: unknown): string {
  return createHash('sha256')
    .update(partnerUserId)
    .update('\u0000')
    .update(stableJson(value))
    .digest('base64url')
    .slice(0, HASH_LENGTH);
}

/** Per-field hashes of the fixed fields that are set. */
export function fixedFieldHashes(
  partnerUserId: string,
  fields: Partial<Record<FixedField, string | undefined>>,
): Record<string, string> {
  const hashes: Record<string, string> = {};
  for (const name of FIXED_FIELDS) {
    const value = fields[name];
    if (value !== undefined) hashes[name] = fieldsHash(partnerUserId, value);
  }
  return hashes;
}

/** Names of fixed fields whose value differs from the one Upheal got at creation or link. */
export function changedFixedFields(
  known: Readonly<Record<string, string>> | undefined,
  current: Readonly<Record<string, string>>,
): FixedField[] {
  if (!known) return [];
  return FIXED_FIELDS.filter((name) => known[name] !== current[name]);
}

/** True when a body has at least one field to send. */
export function hasFields(body: object): boolean {
  return Object.keys(body).length > 0;
}

/** JSON with sorted keys, so equal objects hash equally. */
function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Drops undefined members: Upheal bodies never carry nulls or empty placeholders. */
function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
