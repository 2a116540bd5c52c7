/**
 * A new client's primary provider: the first of its newest provider list (the event's, or one
 * recorded since — a `client.providers_changed` that arrived first, also on a tombstone). The
 * client waits (bounded by the consumer) until that provider is mapped.
 */

import { NotReadyError } from '#lib/errors.ts';
import type { ClientFields } from '#lib/events/user-fields.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import { effectiveProviders, type ProviderList } from '#lib/sync/provider-lists.ts';
import type { SyncUserDeps, Upsert } from '#lib/sync/sync-types.ts';

/** When a client's primary provider is not mapped yet, look again after this long. */
const PROVIDER_WAIT_RETRY_MS = 10_000;

/** A new client's primary provider and, when it has more, all mapped, its full list. */
export interface Therapist {
  readonly partnerUserId: string;
  readonly uphealUserId: string;
  /** Sent right after the create, in the same event, when every provider is mapped. */
  readonly fullList?: ProviderList | undefined;
}

/** The providers a new client is created with; throws NotReadyError while the primary is unmapped. */
export async function resolveTherapist(upsert: Upsert, deps: SyncUserDeps): Promise<Therapist> {
  const fields = upsert.fields as ClientFields;
  const desired = effectiveProviders(upsert.mapping, fields, upsert.version);
  const providers = await deps.mappings.getMany(desired);
  const decision = decideTherapist(desired, providers);
  if (!decision) {
    throw new NotReadyError(
      `primary provider ${desired[0]} of client ${upsert.partnerUserId} is not mapped to Upheal`,
      PROVIDER_WAIT_RETRY_MS,
    );
  }
  return decision;
}

/**
 * Pure: the primary provider (the first desired one) when it is mapped, with the full list when
 * there are more and every one is mapped; undefined while the primary is not mapped.
 */
export function decideTherapist(
  desired: readonly string[],
  providers: ReadonlyMap<string, UserMapping>,
): Therapist | undefined {
  const primary = desired[0];
  const provider = primary === undefined ? undefined : providers.get(primary);
  if (primary === undefined || provider?.state !== 'active' || !provider.uphealUserId) {
    return undefined;
  }
  const ids = desired.map((id) =>
    providers.get(id)?.state === 'active' ? providers.get(id)?.uphealUserId : undefined,
  );
  const fullList =
    desired.length > 1 && ids.every((id) => id !== undefined)
      ? { partner: desired, upheal: ids as string[] }
      : undefined;
  return { partnerUserId: primary, uphealUserId: provider.uphealUserId, fullList };
}
