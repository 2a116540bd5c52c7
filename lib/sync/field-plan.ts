/**
 * Which of a partner user's fields reach Upheal, by which call, and which cannot: pure
 * decisions from (event fields, stored mapping) to the bodies to send and the state to store.
 * Upheal's endpoints cannot change email, phone or locale after creation, and cannot clear an
 * optional field (absent means unchanged, null is refused); such fields are reported as
 * `unappliedFields` and the stored state keeps saying what Upheal really holds.
 */
import type { ClientFields, ProviderFields } from '#lib/events/user-fields.ts';
import type { UserKind, UserMapping } from '#lib/store/mapping-store.ts';
import {
  changedFixedFields,
  commonUpdateBody,
  fieldsHash,
  fixedFieldHashes,
  hasFields,
  providerUpdateBody,
} from '#lib/sync/fields.ts';
import type { UpdateProviderBody, UpdateUserBody } from '#lib/upheal/client.ts';

/** Optional fields the update endpoints can set but never clear. */
export const UNCLEARABLE_FIELDS = [
  'pronoun',
  'dateOfBirth',
  'defaultNoteTemplateIds',
  'nationalProviderIdentifier',
  'therapyLicence',
  'noteIdentifier',
] as const;

/** Provider fields the create endpoint does not take: a `PUT /users/{id}` follows the create. */
export const PROVIDER_AFTER_CREATE_FIELDS = ['pronoun', 'dateOfBirth'] as const;

/** Either kind's fields. */
export type UserFields = ProviderFields | ClientFields;

/** The field-related part of a mapping, as it is to be stored. */
export interface FieldState {
  /** Hash of the common body Upheal has; undefined when unknown (the next event sends it all). */
  readonly commonHash: string | undefined;
  readonly providerHash: string | undefined;
  readonly fixedHashes: Readonly<Record<string, string>>;
  /** Unclearable fields Upheal may hold a value for (sent at least once, landed or not). */
  readonly setFields: readonly string[];
  readonly unappliedFields: readonly string[];
}

/** What an update sends and what it stores once sent. */
export interface UpdatePlan {
  /** Body of `PUT /users/{id}`, when it changed. */
  readonly common: UpdateUserBody | undefined;
  /** Body of `PUT /users/providers/{id}`, when it changed. */
  readonly provider: UpdateProviderBody | undefined;
  readonly commonHash: string;
  readonly providerHash: string | undefined;
  readonly setFields: readonly string[];
  readonly unappliedFields: readonly string[];
}

/** Names of the unclearable fields that have a value in `fields`. */
export function presentFields(fields: UserFields): string[] {
  const values = fields as Partial<Record<string, unknown>>;
  return UNCLEARABLE_FIELDS.filter((name) => values[name] !== undefined);
}

/** Unclearable fields Upheal holds a value for that the partner has cleared. */
export function clearedFields(setBefore: readonly string[] | undefined, fields: UserFields) {
  const present = new Set(presentFields(fields));
  return (setBefore ?? []).filter((name) => !present.has(name));
}

/** The bodies an update of a mapped user sends (only changed ones) and what it then stores. */
export function planUpdate(mapping: UserMapping, kind: UserKind, fields: UserFields): UpdatePlan {
  const { partnerUserId } = mapping;
  const isProvider = kind === 'provider';
  const common = commonUpdateBody(fields, isProvider);
  const commonHash = fieldsHash(partnerUserId, common);
  const specific = isProvider ? providerUpdateBody(fields as ProviderFields) : undefined;
  const providerHash = specific ? fieldsHash(partnerUserId, specific) : mapping.providerHash;
  const cleared = clearedFields(mapping.setFields, fields);
  const fixed = changedFixedFields(mapping.fixedHashes, fixedFieldHashes(partnerUserId, fields));
  return {
    common: commonHash !== mapping.commonHash && hasFields(common) ? common : undefined,
    provider:
      specific && providerHash !== mapping.providerHash && hasFields(specific)
        ? specific
        : undefined,
    commonHash,
    providerHash,
    setFields: union(mapping.setFields, presentFields(fields)),
    unappliedFields: [...fixed, ...cleared],
  };
}

/** The `PUT /users/{id}` body that follows a provider's create, if it has such fields. */
export function afterCreateBody(kind: UserKind, fields: UserFields): UpdateUserBody | undefined {
  if (kind !== 'provider') return undefined;
  const { pronoun, dateOfBirth } = fields;
  const body = compactBody({ pronoun, dateOfBirth });
  return hasFields(body) ? body : undefined;
}

/** What linking an existing account sends: the event's fields, and our partner id. */
export function linkBodies(
  partnerUserId: string,
  kind: UserKind,
  fields: UserFields,
): { readonly common: UpdateUserBody; readonly provider: UpdateProviderBody | undefined } {
  const isProvider = kind === 'provider';
  const specific = isProvider ? providerUpdateBody(fields as ProviderFields) : undefined;
  return {
    common: { ...commonUpdateBody(fields, isProvider), partnerUserId },
    provider: specific && hasFields(specific) ? specific : undefined,
  };
}

/**
 * The field state after a create or a link. A created user has every fixed field as sent; a
 * linked one is known to have only the email it was found by (its phone and locale are
 * Upheal's, so the event's are reported as not applied). A provider whose follow-up update
 * failed has its pronoun and date of birth reported, and its common fields marked unknown.
 */
export function stateAfterCreateOrLink(
  partnerUserId: string,
  kind: UserKind,
  fields: UserFields,
  how: {
    readonly linkedByEmail?: string | undefined;
    readonly followUpFailed?: boolean;
    /** Optional fields an earlier create of this user set: a linked account may hold them. */
    readonly sentBefore?: readonly string[] | undefined;
  },
): FieldState {
  const isProvider = kind === 'provider';
  const current = fixedFieldHashes(partnerUserId, fields);
  const fixedHashes =
    how.linkedByEmail === undefined
      ? current
      : fixedFieldHashes(partnerUserId, { email: how.linkedByEmail });
  const missed = how.followUpFailed
    ? PROVIDER_AFTER_CREATE_FIELDS.filter((name) => fields[name] !== undefined)
    : [];
  return {
    commonHash: how.followUpFailed
      ? undefined
      : fieldsHash(partnerUserId, commonUpdateBody(fields, isProvider)),
    providerHash: isProvider
      ? fieldsHash(partnerUserId, providerUpdateBody(fields as ProviderFields))
      : undefined,
    fixedHashes,
    // A follow-up that failed may still have landed (a 5xx after the write, a lost answer):
    // its fields count as set, so a later clear of them is reported, never assumed done.
    setFields: union(how.sentBefore, presentFields(fields)),
    unappliedFields: [
      ...changedFixedFields(fixedHashes, current),
      ...missed,
      ...clearedFields(how.sentBefore, fields),
    ],
  };
}

/** The names of both lists, each once, in first-seen order. */
function union(a: readonly string[] | undefined, b: readonly string[]): string[] {
  return [...new Set([...(a ?? []), ...b])];
}

/** Drops undefined members. */
function compactBody<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
