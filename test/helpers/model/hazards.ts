/**
 * What real partner data does that a well-behaved history never does, as switchable features of
 * the model's generator: emails shared between partner users, deactivated Upheal accounts that
 * already hold a partner user's email, far-future timestamps, cleared optional fields, and an
 * import whose export is older than the live events that overtake it, clients without email
 * whose lost creates only Upheal's webhooks can heal. Each feature names the
 * rule the oracle then holds the sync to (`oracle.ts`).
 */
import { type PartnerEvent, parsePartnerEvent } from '#lib/events/partner-event.ts';
import { type SeedUser, USER_TYPES } from '#tools/simulator/schemas.ts';

/** The generator's optional behaviours. */
export const MODEL_FEATURES = {
  /**
   * A client created (or changed) with a sibling client's email (a family email) or with its
   * primary provider's email. The later partner user to reach Upheal must fail, naming the
   * other partner id, with both accounts untouched.
   */
  sharedEmails: 'sharedEmails',
  /**
   * Upheal already has a deactivated account (`isActive: false`) with the first email of a client
   * and of a provider. It is never linked: that partner user fails, the account stays untouched.
   */
  deactivatedAccounts: 'deactivatedAccounts',
  /**
   * Some events are dated far in the future (next year, or 9999). They are refused (a failure
   * naming `occurredAt`), never applied, and never make later real events stale.
   */
  futureTimestamps: 'futureTimestamps',
  /**
   * Providers get a pronoun, and updates clear the licence or the pronoun. Upheal must have the
   * partner's value, or the mapping must list the field as unapplied.
   */
  optionalFieldClears: 'optionalFieldClears',
  /**
   * A snapshot of every present user, taken part-way through the history and versioned with the
   * export time, arrives on the import queue after newer live events: it must change nothing.
   */
  staleExports: 'staleExports',
  /**
   * Clients without an email (`EMAILLESS_CLIENTS`), and Upheal's user-created webhooks: every
   * user the simulated Upheal creates (also one whose create it answered 500) is announced,
   * delivered late, out of order, twice, retried or lost (`webhook-channel.ts`) through the real
   * receiver to the real healer. An email-less client whose create took effect while its answer
   * was lost must end mapped to that Upheal user, with no failure left, when its webhook
   * arrived; when every delivery of it was lost, it fails naming the webhook wait and its Upheal
   * account stays unmapped.
   */
  uphealWebhooks: 'uphealWebhooks',
} as const;

/** One optional behaviour of the generator. */
export type ModelFeature = (typeof MODEL_FEATURES)[keyof typeof MODEL_FEATURES];

/** Every feature. */
export const ALL_FEATURES: readonly ModelFeature[] = Object.values(MODEL_FEATURES);

/**
 * The features `npm test`'s fast strict subset enables: those the sync passes, which is every
 * one. A new feature joins this list once the sync meets what it demands.
 */
export const FAST_SUBSET_FEATURES: readonly ModelFeature[] = ALL_FEATURES;

/**
 * The features named by `MODEL_FEATURES` (`all`, `none`, or a comma-separated list), or
 * `fallback` when unset; an unknown name is an error that names it.
 */
export function featuresFrom(
  value: string | undefined,
  fallback: readonly ModelFeature[],
): ReadonlySet<ModelFeature> {
  if (value === undefined || value.trim() === '') return new Set(fallback);
  if (value.trim() === 'all') return new Set(ALL_FEATURES);
  if (value.trim() === 'none') return new Set();
  const names = value.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!(ALL_FEATURES as readonly string[]).includes(name)) {
      throw new Error(
        `MODEL_FEATURES: unknown feature "${name}" (known: ${ALL_FEATURES.join(', ')}, all, none)`,
      );
    }
  }
  return new Set(names as ModelFeature[]);
}

/** `occurredAt` of refused events: far enough ahead that no clock skew allowance covers it. */
const FUTURE_TIMES = ['9999-01-01T00:00:00.000Z', '2027-12-01T00:00:00.000Z'] as const;

/**
 * A far-future event of a user: a change of names, or a delete, that the sync must refuse. It is
 * built as a valid event of `now`, then dated in the future, so the generator does not depend on
 * where the sync refuses it.
 */
export function futureEvent(
  partnerUserId: string,
  eventId: string,
  body: { readonly type: string; readonly data?: Record<string, unknown> },
  now: string,
  random: () => number,
): PartnerEvent {
  const event = parsePartnerEvent({ ...body, eventId, partnerUserId, occurredAt: now });
  return { ...event, occurredAt: FUTURE_TIMES[Math.floor(random() * FUTURE_TIMES.length)]! };
}

/** The name a deactivated account has (never a partner user's). */
const DEACTIVATED_NAME = { firstName: 'Deactivated', lastName: 'Account' } as const;

/**
 * The deactivated Upheal accounts of a case: one with the client `clientId`'s first email and
 * one with the provider `providerId`'s first email (`emailOf` gives a user's n-th email).
 */
export function deactivatedAccounts(
  clientId: string,
  providerId: string,
  emailOf: (id: string, n: number) => string,
): SeedUser[] {
  return [
    {
      userType: USER_TYPES.client,
      email: emailOf(clientId, 1),
      ...DEACTIVATED_NAME,
      isActive: false,
    },
    {
      userType: USER_TYPES.provider,
      email: emailOf(providerId, 1),
      ...DEACTIVATED_NAME,
      isActive: false,
    },
  ];
}
