/**
 * The partner side of the model: random histories of partner events over a small universe of
 * users, generated as a consistent partner system would produce them, and the partner's final
 * state that Upheal must end up mirroring (SPEC §5: the latest event of a user wins).
 *
 * A history is generated in partner-time order from raw random steps. What a consistent partner
 * never does, the generator never does: a client always has at least one existing provider, a
 * provider is only deleted when no existing client lists it, a deleted user gets no events but a
 * re-create. Reorderings, duplicates and faults come later, from the delivery plan.
 */
import fc from 'fast-check';
import { type PartnerEvent, parsePartnerEvent } from '#lib/events/partner-event.ts';
import { mulberry32 } from '#tools/simulator/prng.ts';

/** The universe of partner users. */
export const PROVIDERS = ['p0', 'p1', 'p2'] as const;
/** Clients of the universe. */
export const CLIENTS = ['c0', 'c1', 'c2', 'c3', 'c4'] as const;
/** A provider every history names but no history ever creates: a dependency that never arrives. */
export const GHOST_PROVIDER = 'p-ghost';
/** A client whose primary provider is the ghost: it can never be created in Upheal. */
export const GHOST_CLIENT = 'c-ghost';
/** Licences a provider's `therapyLicence` takes (always set, so a change is always sent). */
const LICENCES = ['LCSW', 'LMFT', 'PsyD'] as const;
/** Fewest raw steps of a history (enough for creates, changes and deletes to meet). */
const MIN_HISTORY_STEPS = 8;
/** Most providers a generated client has (the universe has three). */
const MAX_PROVIDERS_PER_CLIENT = 3;
/** First `occurredAt` of every history. */
const BASE_TIME_MS = Date.parse('2026-11-27T10:00:00.000Z');
/** One event in this many has the same `occurredAt` as the one before. */
const TIE_ODDS = 8;
/** Gap between consecutive partner events. */
const EVENT_GAP_MS = 1_000;

/** One raw random step; `partnerHistory` turns it into a consistent event. */
export interface HistoryStep {
  /** Index into the universe (providers, then clients, then the ghost client if enabled). */
  readonly user: number;
  /** Which change (update, delete, provider list…), interpreted per state. */
  readonly action: number;
  /** Which fields change and which providers a list gets. */
  readonly pick: number;
  /** True: the event has the same `occurredAt` as the previous one (ties break by event id). */
  readonly tie: boolean;
}

/** What the generator may do. */
export interface HistoryOptions {
  /** Whether providers are deleted (and re-created) when no client lists them. */
  readonly providerDeletes: boolean;
  /** Whether the ghost client (waiting for a provider that never comes) takes part. */
  readonly ghost: boolean;
}

/** A user's fields in the partner system at some point. */
export interface PartnerFields {
  readonly email: string;
  readonly firstName: string;
  readonly lastName: string;
  /** Providers only. */
  readonly therapyLicence?: string | undefined;
  /** Clients only; the first is the primary. */
  readonly providers?: readonly string[] | undefined;
}

/** A user in the partner's final state. */
export interface FinalUser {
  readonly partnerUserId: string;
  readonly kind: 'provider' | 'client';
  /** False when the user's last event deleted it (or it never existed). */
  readonly present: boolean;
  readonly fields: PartnerFields | undefined;
  /**
   * Every email the user ever had. Upheal keeps the email it got at creation; and when a delete
   * reaches the sync after a newer re-create, it is stale and the earlier Upheal user lives on
   * (the latest event wins), so the email may even come from an earlier life.
   */
  readonly emails: readonly string[];
}

/** A generated history. */
export interface PartnerHistory {
  /** In partner-time (= version) order. */
  readonly events: readonly PartnerEvent[];
  readonly final: ReadonlyMap<string, FinalUser>;
}

/** Random steps of a history (a few to a few dozen events). */
export function historyStepsArbitrary(maxSteps: number): fc.Arbitrary<HistoryStep[]> {
  return fc.array(
    fc.record({
      user: fc.nat({ max: 1_000 }),
      action: fc.nat({ max: 1_000 }),
      pick: fc.nat({ max: 1_000_000 }),
      tie: fc.nat({ max: TIE_ODDS - 1 }).map((n) => n === 0),
    }),
    { minLength: MIN_HISTORY_STEPS, maxLength: maxSteps },
  );
}

/** The partner's live view of one user while the history is generated. */
interface UserState {
  readonly kind: 'provider' | 'client';
  present: boolean;
  fields: PartnerFields | undefined;
  allEmails: string[];
  /** Counters that make every generated value new. */
  emails: number;
  names: number;
}

/** Turns raw steps into a consistent history with ids unique to `prefix` (one per case). */
export function partnerHistory(
  steps: readonly HistoryStep[],
  options: HistoryOptions,
  prefix: string,
): PartnerHistory {
  const users = new Map<string, UserState>();
  for (const id of PROVIDERS) users.set(id, newUserState('provider'));
  for (const id of CLIENTS) users.set(id, newUserState('client'));
  if (options.ghost) users.set(GHOST_CLIENT, newUserState('client'));
  const ids = [...users.keys()];
  const events: PartnerEvent[] = [];
  let time = BASE_TIME_MS;

  const emit = (
    partnerUserId: string,
    step: HistoryStep,
    body: { readonly type: string; readonly data?: Record<string, unknown> },
  ) => {
    if (!step.tie || events.length === 0) time += EVENT_GAP_MS;
    // Zero-padded sequence numbers: event-id order is generation order, so ties keep it too.
    const eventId = `${prefix}-e${String(events.length).padStart(4, '0')}`;
    // Validated like a real message, so the generator can only make events the contract allows.
    events.push(
      parsePartnerEvent({
        ...body,
        eventId,
        partnerUserId,
        occurredAt: new Date(time).toISOString(),
      }),
    );
  };

  const presentProviders = () => PROVIDERS.filter((id) => users.get(id)!.present);
  const listedByClient = (providerId: string) =>
    [...users.values()].some(
      (user) =>
        user.kind === 'client' && user.present && user.fields?.providers?.includes(providerId),
    );

  for (const step of steps) {
    let id = ids[step.user % ids.length]!;
    let user = users.get(id)!;
    // A client needs an existing provider: a partner creates one first.
    if (user.kind === 'client' && !user.present && id !== GHOST_CLIENT) {
      if (presentProviders().length === 0) {
        id = PROVIDERS.find((provider) => !users.get(provider)!.present)!;
        user = users.get(id)!;
      }
    }
    const random = mulberry32(step.pick);
    if (!user.present) {
      const fields = freshFields(
        id,
        user,
        random,
        id === GHOST_CLIENT ? [GHOST_PROVIDER] : pickProviders(presentProviders(), random),
      );
      user.present = true;
      user.fields = fields;
      if (!user.allEmails.includes(fields.email)) user.allEmails.push(fields.email);
      const type = step.action % 4 === 0 ? 'updated' : 'created';
      emit(id, step, { type: `${user.kind}.${type}`, data: dataOf(fields) });
      continue;
    }
    const action = step.action % 4;
    if (
      action === 2 &&
      (user.kind === 'client' || (options.providerDeletes && !listedByClient(id)))
    ) {
      user.present = false;
      user.fields = undefined;
      emit(id, step, { type: 'user.deleted' });
      continue;
    }
    if (action === 1 && user.kind === 'client') {
      const providers =
        id === GHOST_CLIENT ? [GHOST_PROVIDER] : pickProviders(presentProviders(), random);
      user.fields = { ...user.fields!, providers };
      emit(id, step, {
        type: 'client.providers_changed',
        data: { providerPartnerUserIds: providers },
      });
      continue;
    }
    const fields = changedFields(id, user, random, () =>
      id === GHOST_CLIENT ? [GHOST_PROVIDER] : pickProviders(presentProviders(), random),
    );
    user.fields = fields;
    if (!user.allEmails.includes(fields.email)) user.allEmails.push(fields.email);
    emit(id, step, { type: `${user.kind}.updated`, data: dataOf(fields) });
  }

  const final = new Map<string, FinalUser>();
  for (const [partnerUserId, user] of users) {
    final.set(partnerUserId, {
      partnerUserId,
      kind: user.kind,
      present: user.present,
      fields: user.fields,
      emails: user.allEmails,
    });
  }
  return { events, final };
}

function newUserState(kind: 'provider' | 'client'): UserState {
  return { kind, present: false, fields: undefined, allEmails: [], emails: 0, names: 0 };
}

/** Fields of a (re-)created user; a re-created user may come back with its old email. */
function freshFields(
  id: string,
  user: UserState,
  random: () => number,
  providers: readonly string[],
): PartnerFields {
  const keepEmail = user.emails > 0 && random() < 0.5;
  if (!keepEmail) user.emails += 1;
  user.names += 1;
  return {
    email: emailOf(id, user.emails),
    firstName: `First${user.names}`,
    lastName: `Last${id}`,
    therapyLicence: user.kind === 'provider' ? pickOne(LICENCES, random) : undefined,
    providers: user.kind === 'client' ? providers : undefined,
  };
}

/** An update's full state: some fields change (possibly none, a no-op update). */
function changedFields(
  id: string,
  user: UserState,
  random: () => number,
  providers: () => readonly string[],
): PartnerFields {
  const current = user.fields!;
  let fields = current;
  if (random() < 0.5) {
    user.names += 1;
    fields = { ...fields, firstName: `First${user.names}` };
  }
  if (random() < 0.3) fields = { ...fields, lastName: `Last${id}x${user.names}` };
  if (random() < 0.25) {
    user.emails += 1;
    fields = { ...fields, email: emailOf(id, user.emails) };
  }
  if (user.kind === 'provider' && random() < 0.4) {
    fields = { ...fields, therapyLicence: pickOne(LICENCES, random) };
  }
  if (user.kind === 'client' && random() < 0.4) fields = { ...fields, providers: providers() };
  return fields;
}

/** A user's n-th email (lower-case, so Upheal's stored form equals the partner's). */
function emailOf(id: string, n: number): string {
  return `${id}-${n}@model.example`;
}

/** One to three distinct providers out of `available`, in random order (first = primary). */
function pickProviders(available: readonly string[], random: () => number): string[] {
  const pool = [...available];
  const count = 1 + Math.floor(random() * Math.min(MAX_PROVIDERS_PER_CLIENT, pool.length));
  const picked: string[] = [];
  for (let i = 0; i < count; i++)
    picked.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
  return picked;
}

function pickOne<T>(values: readonly T[], random: () => number): T {
  return values[Math.floor(random() * values.length)]!;
}

/** The event `data` of a user's full state. */
function dataOf(fields: PartnerFields): Record<string, unknown> {
  return fields.providers
    ? {
        email: fields.email,
        firstName: fields.firstName,
        lastName: fields.lastName,
        providerPartnerUserIds: fields.providers,
      }
    : {
        email: fields.email,
        firstName: fields.firstName,
        lastName: fields.lastName,
        therapyLicence: fields.therapyLicence,
      };
}
