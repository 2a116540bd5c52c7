/**
 * The fields of the model's partner users and how they change: fresh fields for a (re-)created
 * user, an update's full state, the event `data` of a state, and the small random picks behind
 * them. Names carry the user's id, so a name found in Upheal tells whose change it was.
 */
import { PRONOUNS } from '#lib/upheal/schemas.ts';
import type { PartnerFields } from './partner-history.ts';

/** Licences a provider's `therapyLicence` takes (set at creation; optionalFieldClears clears it). */
const LICENCES = ['LCSW', 'LMFT', 'PsyD'] as const;
/** Most providers a generated client has (the universe has three). */
const MAX_PROVIDERS_PER_CLIENT = 3;

/** The partner's live view of one user while the history is generated. */
export interface UserState {
  readonly kind: 'provider' | 'client';
  /** A client the partner knows no email of (uphealWebhooks): none in any event. */
  readonly emailless: boolean;
  present: boolean;
  fields: PartnerFields | undefined;
  allEmails: string[];
  firstNames: string[];
  lastNames: string[];
  /** Counters that make every generated value new. */
  emails: number;
  names: number;
}
/** A user the partner has not created yet. */
export function newUserState(kind: 'provider' | 'client', emailless = false): UserState {
  return {
    kind,
    emailless,
    present: false,
    fields: undefined,
    allEmails: [],
    firstNames: [],
    lastNames: [],
    emails: 0,
    names: 0,
  };
}

/**
 * Fields of a (re-)created user; a re-created user may come back with its old email. An
 * email-less user (uphealWebhooks) never has one.
 */
export function freshFields(
  id: string,
  user: UserState,
  random: () => number,
  providers: readonly string[],
  clears: boolean,
): PartnerFields {
  const keepEmail = user.emails > 0 && random() < 0.5;
  if (!keepEmail) user.emails += 1;
  user.names += 1;
  const provider = user.kind === 'provider';
  return {
    email: user.emailless ? undefined : emailOf(id, user.emails),
    // Names carry the user's id, so a name in Upheal tells whose change it was.
    firstName: `First${user.names}-${id}`,
    lastName: `Last${id}`,
    therapyLicence: provider ? pickOne(LICENCES, random) : undefined,
    pronoun: provider && clears && random() < 0.5 ? pickOne(PRONOUNS, random) : undefined,
    providers: user.kind === 'client' ? providers : undefined,
  };
}

/** An update's full state: some fields change (possibly none, a no-op update). */
export function changedFields(
  id: string,
  user: UserState,
  random: () => number,
  providers: () => readonly string[],
  clears: boolean,
): PartnerFields {
  const current = user.fields!;
  let fields = current;
  if (random() < 0.5) {
    user.names += 1;
    fields = { ...fields, firstName: `First${user.names}-${id}` };
  }
  if (random() < 0.3) fields = { ...fields, lastName: `Last${id}x${user.names}` };
  if (random() < 0.25 && !user.emailless) {
    user.emails += 1;
    fields = { ...fields, email: emailOf(id, user.emails) };
  }
  if (user.kind === 'provider' && random() < 0.4) {
    fields = { ...fields, therapyLicence: pickOne(LICENCES, random) };
  }
  if (user.kind === 'client' && random() < 0.4) fields = { ...fields, providers: providers() };
  if (user.kind === 'provider' && clears) {
    // Clears of optional fields, and values given again after a clear.
    if (random() < 0.25) {
      fields = {
        ...fields,
        therapyLicence: fields.therapyLicence ? undefined : pickOne(LICENCES, random),
      };
    }
    if (random() < 0.3) {
      fields = { ...fields, pronoun: fields.pronoun ? undefined : pickOne(PRONOUNS, random) };
    }
  }
  return fields;
}

/** A user's n-th email (lower-case, so Upheal's stored form equals the partner's). */
export function emailOf(id: string, n: number): string {
  return `${id}-${n}@model.example`;
}

/** One to three distinct providers out of `available`, in random order (first = primary). */
export function pickProviders(available: readonly string[], random: () => number): string[] {
  const pool = [...available];
  const count = 1 + Math.floor(random() * Math.min(MAX_PROVIDERS_PER_CLIENT, pool.length));
  const picked: string[] = [];
  for (let i = 0; i < count; i++)
    picked.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return picked;
}

/** One of `values`, at random. */
export function pickOne<T>(values: readonly T[], random: () => number): T {
  return values[Math.floor(random() * values.length)]!;
}

/** The event `data` of a user's full state. */
export function dataOf(fields: PartnerFields): Record<string, unknown> {
  return fields.providers
    ? {
        ...(fields.email ? { email: fields.email } : {}),
        firstName: fields.firstName,
        lastName: fields.lastName,
        providerPartnerUserIds: fields.providers,
      }
    : {
        email: fields.email,
        firstName: fields.firstName,
        lastName: fields.lastName,
        // An absent optional field is a clear: the event carries the user's full state.
        ...(fields.therapyLicence ? { therapyLicence: fields.therapyLicence } : {}),
        ...(fields.pronoun ? { pronoun: fields.pronoun } : {}),
      };
}
