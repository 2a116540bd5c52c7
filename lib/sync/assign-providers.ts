/**
 * The `assign-providers` use case: makes a client's provider list in Upheal equal to the
 * partner's desired list with one full-list replace (`POST /users/{userId}/providers`), primary
 * provider first, and skips the call when Upheal already has exactly that list.
 * A client or provider not mapped yet is waited for (NotReadyError, bounded by the consumer),
 * then fails with a reason naming the missing partner ids.
 */
import { NotFoundError, NotReadyError } from '#lib/errors.ts';
import type { MappingStore } from '#lib/store/mapping-store.ts';
import type { UphealPort } from '#lib/sync/ports.ts';
import { sameList } from '#lib/sync/provider-lists.ts';
import { saveWithRetry } from '#lib/sync/save-mapping.ts';

/** How soon to look again for mappings that are not there yet. */
const MAPPING_WAIT_RETRY_MS = 10_000;

/** Everything the use case talks to. */
export interface AssignProvidersDeps {
  readonly mappings: MappingStore;
  readonly upheal: UphealPort;
}

/** What the reconciliation did. */
export type AssignOutcome =
  | {
      readonly kind: 'providers-assigned';
      readonly partnerUserId: string;
      readonly uphealUserId: string;
      readonly providerUserIds: readonly string[];
      /** False when Upheal already had the list, so no call was made. */
      readonly changed: boolean;
    }
  | { readonly kind: 'client-gone'; readonly partnerUserId: string };

/** Reconciles one client's provider list. */
export async function assignProviders(
  clientPartnerUserId: string,
  deps: AssignProvidersDeps,
): Promise<AssignOutcome> {
  const client = await deps.mappings.get(clientPartnerUserId);
  if (client?.state === 'deleted')
    return { kind: 'client-gone', partnerUserId: clientPartnerUserId };
  if (client?.state !== 'active' || !client.uphealUserId) {
    throw new NotReadyError(
      `client ${clientPartnerUserId} is not mapped to Upheal yet`,
      MAPPING_WAIT_RETRY_MS,
    );
  }
  const uphealUserId = client.uphealUserId;
  const desired = client.desiredProviders ?? [];
  const providers = await deps.mappings.getMany(desired);
  const missing = desired.filter((id) => {
    const provider = providers.get(id);
    return provider?.state !== 'active' || !provider.uphealUserId;
  });
  if (missing.length > 0) {
    throw new NotReadyError(
      `providers of client ${clientPartnerUserId} not mapped to Upheal: ${missing.join(', ')}`,
      MAPPING_WAIT_RETRY_MS,
    );
  }
  const providerUserIds = desired.map((id) => providers.get(id)!.uphealUserId!);
  if (sameList(providerUserIds, client.assignedProviders)) {
    await recordAssigned(deps.mappings, clientPartnerUserId, desired, providerUserIds);
    return {
      kind: 'providers-assigned',
      partnerUserId: clientPartnerUserId,
      uphealUserId,
      providerUserIds,
      changed: false,
    };
  }
  // From here until Upheal answers, its list is unknown: a call that fails may still have taken
  // effect, and a later "Upheal already has it" must not be believed.
  await recordAssigned(deps.mappings, clientPartnerUserId, undefined, undefined);
  try {
    await deps.upheal.replaceProviders(uphealUserId, providerUserIds);
  } catch (error) {
    // The client was deleted while this command waited: nothing left to assign.
    if (error instanceof NotFoundError) {
      const now = await deps.mappings.get(clientPartnerUserId);
      if (now?.state === 'deleted' || now?.uphealUserId !== uphealUserId) {
        return { kind: 'client-gone', partnerUserId: clientPartnerUserId };
      }
      // Still mapped: a delete of the client may be half done; wait for it to settle.
      throw new NotReadyError(
        `Upheal has no client ${uphealUserId} for ${clientPartnerUserId} (a delete in progress?)`,
        MAPPING_WAIT_RETRY_MS,
      );
    }
    throw error;
  }
  await recordAssigned(deps.mappings, clientPartnerUserId, desired, providerUserIds);
  return {
    kind: 'providers-assigned',
    partnerUserId: clientPartnerUserId,
    uphealUserId,
    providerUserIds,
    changed: true,
  };
}

/**
 * Records the list Upheal now has (undefined: unknown); the desired list may have moved on
 * meanwhile, and stays.
 */
async function recordAssigned(
  mappings: MappingStore,
  partnerUserId: string,
  partnerIds: readonly string[] | undefined,
  uphealIds: readonly string[] | undefined,
): Promise<void> {
  await saveWithRetry(mappings, partnerUserId, (current) => {
    if (current?.state !== 'active') return undefined;
    const unchanged =
      uphealIds === undefined
        ? current.assignedProviders === undefined && current.assignedPartnerProviders === undefined
        : sameList(uphealIds, current.assignedProviders) &&
          sameList(partnerIds ?? [], current.assignedPartnerProviders);
    if (unchanged) return undefined;
    const { rev: _rev, updatedAt: _updatedAt, ...draft } = current;
    return { ...draft, assignedProviders: uphealIds, assignedPartnerProviders: partnerIds };
  });
}
