/**
 * The partner side of the model: random histories of partner events over a small universe of
 * users, generated as a consistent partner system would produce them, and the partner's final
 * state that Upheal must end up mirroring (SPEC §5: the latest event of a user wins).
 *
 * A history is generated in partner-time order from raw random steps. What a consistent partner
 * never does, the generator never does: a client always has at least one existing provider, a
 * provider is only deleted when no existing client lists it, a deleted user gets no events but a
 * re-create. Reorderings, duplicates and faults come later, from the delivery plan. What real
 * partner data does besides (shared emails, far-future timestamps, …) comes from the features of
 * `hazards.ts`, each switched on per run.
 */
import fc from 'fast-check';
import { type PartnerEvent, parsePartnerEvent } from '#lib/events/partner-event.ts';
import { mulberry32 } from '#tools/simulator/prng.ts';
import type { SeedUser } from '#tools/simulator/schemas.ts';
import { deactivatedAccounts, futureEvent, MODEL_FEATURES, type ModelFeature } from './hazards.ts';
import {
  changedFields,
  dataOf,
  emailOf,
  freshFields,
  newUserState,
  pickOne,
  pickProviders,
  type UserState,
} from './partner-fields.ts';

/** The universe of partner users. */
export const PROVIDERS = ['p0', 'p1', 'p2'] as const;
/** Clients of the universe. */
export const CLIENTS = ['c0', 'c1', 'c2', 'c3', 'c4'] as const;
/** A provider every history names but no history ever creates: a dependency that never arrives. */
export const GHOST_PROVIDER = 'p-ghost';
/** A client whose primary provider is the ghost: it can never be created in Upheal. */
export const GHOST_CLIENT = 'c-ghost';
/** Fewest raw steps of a history (enough for creates, changes and deletes to meet). */
const MIN_HISTORY_STEPS = 8;
/** First `occurredAt` of every history. */
const BASE_TIME_MS = Date.parse('2026-11-27T10:00:00.000Z');
/** One event in this many has the same `occurredAt` as the one before. */
const TIE_ODDS = 8;
/** Gap between consecutive partner events. */
const EVENT_GAP_MS = 1_000;
/** A stale export is taken this long after the event before it (less than EVENT_GAP_MS). */
const EXPORT_OFFSET_MS = 500;
/** The client and the provider whose first email a deactivated Upheal account already holds. */
const DEACTIVATED_HOLDERS = { client: 'c4', provider: 'p2' } as const;
/** Clients that never have an email (uphealWebhooks): only Upheal's webhook heals their lost creates. */
export const EMAILLESS_CLIENTS: readonly string[] = ['c2', 'c3'];
/** Odds, per step, of a far-future event of the user (futureTimestamps). */
const FUTURE_EVENT_ODDS = 0.08;

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
  /** The optional behaviours switched on (`hazards.ts`). */
  readonly features: ReadonlySet<ModelFeature>;
}

/** A user's fields in the partner system at some point. */
export interface PartnerFields {
  /** Absent only for the email-less clients (uphealWebhooks). */
  readonly email: string | undefined;
  readonly firstName: string;
  readonly lastName: string;
  /** Providers only; optional (a partner may clear it). */
  readonly therapyLicence?: string | undefined;
  /** Providers only, with optionalFieldClears; optional. */
  readonly pronoun?: string | undefined;
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
  /** Every first and last name the partner ever gave the user (refused events' included). */
  readonly names: { readonly first: readonly string[]; readonly last: readonly string[] };
}

/** A snapshot of the partner's users, versioned with its export time, sent on the import queue. */
export interface StaleExport {
  /** How many of the history's events are older than the export. */
  readonly afterEvent: number;
  readonly events: readonly PartnerEvent[];
}

/** A generated history. */
export interface PartnerHistory {
  /** In partner-time (= version) order, except the refused far-future events. */
  readonly events: readonly PartnerEvent[];
  readonly final: ReadonlyMap<string, FinalUser>;
  /** Ids of the events the sync must refuse (far-future `occurredAt`). */
  readonly refused: ReadonlySet<string>;
  /** The export that live events overtake (staleExports), if any. */
  readonly export: StaleExport | undefined;
  /** Upheal accounts that exist before the sync starts (deactivatedAccounts). */
  readonly seeded: readonly SeedUser[];
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

/** Turns raw steps into a consistent history with ids unique to `prefix` (one per case). */
export function partnerHistory(
  steps: readonly HistoryStep[],
  options: HistoryOptions,
  prefix: string,
): PartnerHistory {
  const users = new Map<string, UserState>();
  const emailless = options.features.has(MODEL_FEATURES.uphealWebhooks);
  for (const id of PROVIDERS) users.set(id, newUserState('provider'));
  for (const id of CLIENTS) {
    users.set(id, newUserState('client', emailless && EMAILLESS_CLIENTS.includes(id)));
  }
  if (options.ghost) users.set(GHOST_CLIENT, newUserState('client'));
  const ids = [...users.keys()];
  const events: PartnerEvent[] = [];
  const refused = new Set<string>();
  const has = (feature: ModelFeature) => options.features.has(feature);
  let time = BASE_TIME_MS;
  let staleExport: StaleExport | undefined;
  const exportStep = has(MODEL_FEATURES.staleExports) ? exportStepOf(steps) : -1;

  const emit = (
    partnerUserId: string,
    step: HistoryStep,
    body: { readonly type: string; readonly data?: Record<string, unknown> },
  ) => {
    if (!step.tie || events.length === 0) time += EVENT_GAP_MS;
    // Zero-padded sequence numbers: event-id order is generation order, so ties keep it too.
    const eventId = nextEventId();
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

  const nextEventId = () => `${prefix}-e${String(events.length).padStart(4, '0')}`;
  const presentProviders = () => PROVIDERS.filter((id) => users.get(id)!.present);
  const remember = (user: UserState, fields: PartnerFields) => {
    if (fields.email && !user.allEmails.includes(fields.email)) user.allEmails.push(fields.email);
    if (!user.firstNames.includes(fields.firstName)) user.firstNames.push(fields.firstName);
    if (!user.lastNames.includes(fields.lastName)) user.lastNames.push(fields.lastName);
  };
  // A family email (another present client's) or the primary provider's, for a client.
  const sharedEmail = (id: string, providers: readonly string[], random: () => number) => {
    const { kind, emailless: noEmail } = users.get(id)!;
    const client = kind === 'client';
    if (!has(MODEL_FEATURES.sharedEmails) || !client || noEmail || id === GHOST_CLIENT) {
      return undefined;
    }
    const draw = random();
    if (draw < 0.15) {
      const siblings = CLIENTS.filter((other) => other !== id && users.get(other)!.present);
      return siblings.length > 0 ? users.get(pickOne(siblings, random))!.fields!.email : undefined;
    }
    if (draw < 0.3 && providers[0]) return users.get(providers[0])?.fields?.email;
    return undefined;
  };
  const listedByClient = (providerId: string) =>
    [...users.values()].some(
      (user) =>
        user.kind === 'client' && user.present && user.fields?.providers?.includes(providerId),
    );

  steps.forEach((step, index) => {
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
    const clears = has(MODEL_FEATURES.optionalFieldClears);
    applyStep(id, user, step, random, clears);
    if (has(MODEL_FEATURES.futureTimestamps) && user.present && random() < FUTURE_EVENT_ODDS) {
      // A partner clock gone wrong: the event must be refused, so the state does not change.
      user.names += 1;
      const renamed = { ...user.fields!, firstName: `Future${user.names}-${id}` };
      remember(user, renamed);
      const body =
        random() < 0.7
          ? { type: `${user.kind}.updated`, data: dataOf(renamed) }
          : { type: 'user.deleted' };
      const event = futureEvent(id, nextEventId(), body, new Date(time).toISOString(), random);
      refused.add(event.eventId);
      events.push(event);
    }
    if (index === exportStep) {
      staleExport = { afterEvent: events.length, events: snapshot(time + EXPORT_OFFSET_MS) };
    }
  });

  function applyStep(
    id: string,
    user: UserState,
    step: HistoryStep,
    random: () => number,
    clears: boolean,
  ): void {
    if (!user.present) {
      const providers =
        id === GHOST_CLIENT ? [GHOST_PROVIDER] : pickProviders(presentProviders(), random);
      const fields = freshFields(id, user, random, providers, clears);
      const shared = sharedEmail(id, providers, random);
      user.present = true;
      user.fields = shared ? { ...fields, email: shared } : fields;
      remember(user, user.fields);
      const type = step.action % 4 === 0 ? 'updated' : 'created';
      emit(id, step, { type: `${user.kind}.${type}`, data: dataOf(user.fields) });
      return;
    }
    const action = step.action % 4;
    if (
      action === 2 &&
      (user.kind === 'client' || (options.providerDeletes && !listedByClient(id)))
    ) {
      user.present = false;
      user.fields = undefined;
      emit(id, step, { type: 'user.deleted' });
      return;
    }
    if (action === 1 && user.kind === 'client') {
      const providers =
        id === GHOST_CLIENT ? [GHOST_PROVIDER] : pickProviders(presentProviders(), random);
      user.fields = { ...user.fields!, providers };
      emit(id, step, {
        type: 'client.providers_changed',
        data: { providerPartnerUserIds: providers },
      });
      return;
    }
    const fields = changedFields(
      id,
      user,
      random,
      () => (id === GHOST_CLIENT ? [GHOST_PROVIDER] : pickProviders(presentProviders(), random)),
      clears,
    );
    const shared =
      has(MODEL_FEATURES.sharedEmails) && random() < 0.3
        ? sharedEmail(id, fields.providers ?? [], random)
        : undefined;
    user.fields = shared ? { ...fields, email: shared } : fields;
    remember(user, user.fields);
    emit(id, step, { type: `${user.kind}.updated`, data: dataOf(user.fields) });
  }

  /** Every present user's full state as an upsert versioned `at` (the export time). */
  function snapshot(at: number): PartnerEvent[] {
    return [...users]
      .filter(([, user]) => user.present)
      .map(([partnerUserId, user], index) =>
        parsePartnerEvent({
          type: `${user.kind}.updated`,
          data: dataOf(user.fields!),
          eventId: `${prefix}-x${String(index).padStart(4, '0')}`,
          partnerUserId,
          occurredAt: new Date(at).toISOString(),
        }),
      );
  }

  const final = new Map<string, FinalUser>();
  for (const [partnerUserId, user] of users) {
    final.set(partnerUserId, {
      partnerUserId,
      kind: user.kind,
      present: user.present,
      fields: user.fields,
      emails: user.allEmails,
      names: { first: user.firstNames, last: user.lastNames },
    });
  }
  const seeded = has(MODEL_FEATURES.deactivatedAccounts)
    ? deactivatedAccounts(DEACTIVATED_HOLDERS.client, DEACTIVATED_HOLDERS.provider, emailOf)
    : [];
  return { events, final, refused, export: staleExport, seeded };
}

/**
 * The step after which a stale export is taken: one chosen by the steps themselves, moved on
 * past ties, so every event older than the export comes before it and every later one is newer.
 */
function exportStepOf(steps: readonly HistoryStep[]): number {
  if (steps.length === 0) return -1;
  let index = steps[0]!.pick % steps.length;
  while (index + 1 < steps.length && steps[index + 1]!.tie) index += 1;
  return index;
}
