/**
 * What a stale event amounts to: nothing — unless it is the very event last applied (a
 * redelivery after the worker died before announcing it). Pure: rebuilt from the mapping.
 */
import type { UserMapping, Version } from '#lib/store/mapping-store.ts';
import type { SyncOutcome } from '#lib/sync/sync-types.ts';

/**
 * The outcome of an event that is not newer than the mapping: `stale`, or for a redelivery of
 * the last applied event its outcome rebuilt with no call, so the partner still hears of it. A
 * rebuilt `created` has no `inviteUrl` (never stored).
 */
export function staleOrReplayed(mapping: UserMapping, version: Version): SyncOutcome {
  const { partnerUserId, uphealUserId, lastOutcome, kind: userKind } = mapping;
  const sameEvent =
    mapping.version?.eventId === version.eventId && mapping.version.ms === version.ms;
  if (!sameEvent || !lastOutcome) return { kind: 'stale', partnerUserId };
  if (lastOutcome === 'deleted')
    return { kind: 'deleted', partnerUserId, uphealUserId, replayed: true };
  if (!uphealUserId) return { kind: 'stale', partnerUserId };
  const unappliedFields = mapping.unappliedFields ?? [];
  if (lastOutcome === 'updated') {
    return {
      kind: 'updated',
      partnerUserId,
      userKind,
      uphealUserId,
      changed: true,
      unappliedFields,
      replayed: true,
    };
  }
  const base = { partnerUserId, userKind, uphealUserId, replayed: true } as const;
  const unapplied = unappliedFields.length > 0 ? { unappliedFields } : {};
  if (lastOutcome === 'linked') return { kind: 'linked', ...base, ...unapplied };
  // A client's full list that went out with the create (or since) is announced again too.
  const providersAssigned =
    userKind === 'client' && (mapping.assignedProviders?.length ?? 0) > 1
      ? { providersAssigned: mapping.assignedProviders }
      : {};
  return { kind: 'created', ...base, ...providersAssigned, ...unapplied };
}
