/**
 * A client's provider list as the sync use case tracks it: which list is the newest (the
 * event's or one recorded since), and when the full-list replace must be queued.
 */
import type { ClientFields } from '#lib/events/user-fields.ts';
import type { MappingDraft, UserMapping, Version } from '#lib/store/mapping-store.ts';
import type { SyncUserContext, SyncUserDeps } from '#lib/sync/sync-types.ts';
import { isStale } from '#lib/sync/version.ts';

/** A client's provider list: partner ids and the Upheal ids they map to, in the same order. */
export interface ProviderList {
  readonly partner: readonly string[];
  readonly upheal: readonly string[];
}

/** True when both lists hold the same ids in the same order (the first is the primary). */
export function sameList(a: readonly string[], b: readonly string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((id, index) => id === b[index]);
}

/** The client's provider list from a full-state event, when it is newer than the recorded one. */
export function newerProviderList(
  mapping: UserMapping | undefined,
  fields: ClientFields,
  version: Version,
): Pick<MappingDraft, 'desiredProviders' | 'providersVersion'> | undefined {
  if (mapping && isStale(version, mapping.providersVersion)) return undefined;
  return { desiredProviders: fields.providerPartnerUserIds, providersVersion: version };
}

/** The newest provider list of a client: the event's, or one recorded after it. */
export function effectiveProviders(
  mapping: UserMapping | undefined,
  fields: ClientFields,
  version: Version,
): readonly string[] {
  return (
    newerProviderList(mapping, fields, version)?.desiredProviders ??
    mapping?.desiredProviders ??
    fields.providerPartnerUserIds
  );
}

/**
 * True when the full-list replace must be queued: the client is in Upheal and its desired list
 * differs from the one Upheal last confirmed, or the desired list just changed (an assignment
 * of the previous list may be in flight and would otherwise have the last word).
 */
export function needsAssignment(
  mapping: UserMapping | undefined,
  previousDesired: readonly string[] | undefined,
): mapping is UserMapping {
  if (mapping?.kind !== 'client' || mapping.state !== 'active') return false;
  const desired = mapping.desiredProviders ?? [];
  if (desired.length === 0) return false;
  const changed = previousDesired !== undefined && !sameList(desired, previousDesired);
  return changed || !sameList(desired, mapping.assignedPartnerProviders);
}

/**
 * Queues the full-list replace when `needsAssignment` says so. `assign-providers` compares
 * Upheal ids before calling, so a command that turns out equal costs no call.
 */
export async function queueAssignmentIfNeeded(
  mapping: UserMapping | undefined,
  previousDesired: readonly string[] | undefined,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<boolean> {
  if (!needsAssignment(mapping, previousDesired)) return false;
  await deps.assignments.enqueue(mapping.partnerUserId, context);
  return true;
}

/** Queues an active client's assignment unconditionally (after a possibly lost enqueue). */
export async function requeueAssignment(
  mapping: UserMapping,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<void> {
  if (mapping.kind !== 'client' || mapping.state !== 'active') return;
  if ((mapping.desiredProviders ?? []).length === 0) return;
  await deps.assignments.enqueue(mapping.partnerUserId, context);
}
