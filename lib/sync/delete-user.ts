/**
 * `user.deleted`: guarded (staged above the thresholds), idempotent, leaves a tombstone. A user
 * with no mapped Upheal user may still have one that a create left behind (found by the email
 * its claim remembers), which is deleted too. Before the `DELETE` of a mapped user goes out, the
 * mapping is marked (`deleteSent`), so a retry of a delete that took effect knows the user is
 * gone whatever Upheal answers for it now, and other work that finds the user missing knows a
 * delete is under way.
 */
import { BadRequestError, ForbiddenError, NotFoundError } from '#lib/errors.ts';
import type { PartnerEventOf } from '#lib/events/partner-event.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import type { UphealPort } from '#lib/sync/ports.ts';
import { staleOrReplayed } from '#lib/sync/replay.ts';
import { mappingDraft, saveWithRetry } from '#lib/sync/save-mapping.ts';
import type { SyncOutcome, SyncUserDeps } from '#lib/sync/sync-types.ts';
import { isStale, versionOf } from '#lib/sync/version.ts';

/** What an error of `DELETE /users/{id}` means for the delete. */
export type DeleteErrorMeaning = 'gone' | 'failed';

/**
 * Upheal answers 404 for a user it does not have (the delete is done), and may answer 400 or
 * 403 instead for an id it no longer knows; those two are taken as "gone" only when this
 * product already sent a delete of the user, since on a first attempt they may mean a refusal.
 */
export function deleteErrorMeaning(error: unknown, alreadySent: boolean): DeleteErrorMeaning {
  if (error instanceof NotFoundError) return 'gone';
  const notAccessible = error instanceof BadRequestError || error instanceof ForbiddenError;
  return notAccessible && alreadySent ? 'gone' : 'failed';
}

/** Deletes an Upheal user; one Upheal no longer has is already what was asked. */
export async function deleteIfPresent(
  upheal: UphealPort,
  uphealUserId: string,
  alreadySent = false,
): Promise<void> {
  try {
    await upheal.deleteUser(uphealUserId);
  } catch (error) {
    if (deleteErrorMeaning(error, alreadySent) === 'failed') throw error;
  }
}

/** Applies a `user.deleted` event. */
export async function deleteUser(
  event: PartnerEventOf<'user.deleted'>,
  deps: SyncUserDeps,
): Promise<SyncOutcome> {
  const { partnerUserId } = event;
  const version = versionOf(event);
  const mapping = await deps.mappings.get(partnerUserId);
  if (mapping && isStale(version, mapping.version)) return staleOrReplayed(mapping, version);
  const mapped = mapping?.state === 'active' ? mapping.uphealUserId : undefined;
  const uphealUserId = mapped ?? (await findOrphan(partnerUserId, deps));
  if (uphealUserId) {
    const admitted =
      mapping?.deleteSent === event.eventId || (await admit(event, uphealUserId, deps));
    if (!admitted) return { kind: 'delete-staged', partnerUserId, uphealUserId };
    const alreadySent = mapped !== undefined && mapping?.deleteSent !== undefined;
    if (mapped && mapping && !alreadySent && !(await markDeleteSent(mapping, event, deps))) {
      return { kind: 'stale', partnerUserId };
    }
    await deleteIfPresent(deps.upheal, uphealUserId, alreadySent);
  }
  await saveWithRetry(
    deps.mappings,
    partnerUserId,
    (current) => {
      if (current && isStale(version, current.version)) return undefined;
      return {
        ...(current ? mappingDraft(current) : {}),
        partnerUserId,
        kind: current?.kind ?? 'client',
        state: 'deleted',
        uphealUserId: current?.uphealUserId ?? uphealUserId,
        version,
        lastOutcome: 'deleted',
        deleteSent: undefined,
      };
    },
    { current: mapping },
  );
  return { kind: 'deleted', partnerUserId, uphealUserId };
}

/**
 * The Upheal user a create of this partner user left without a mapping (its worker died, or the
 * create was answered 5xx after it took effect): found by the email the create's claim
 * remembers, and only when no partner user is mapped to it.
 */
async function findOrphan(partnerUserId: string, deps: SyncUserDeps): Promise<string | undefined> {
  const email = (await deps.mappings.pendingCreate(partnerUserId))?.email;
  if (email === undefined) return undefined;
  // Nothing follows a check that finds no orphan.
  const check = await deps.upheal.checkUser(email, []);
  if (!check.exists) return undefined;
  const owner = await deps.mappings.findByUphealId(check.userId);
  return owner ? undefined : check.userId;
}

/** True when the delete may run now: an operator approved it, or the guard admits it. */
async function admit(
  event: PartnerEventOf<'user.deleted'>,
  uphealUserId: string,
  deps: SyncUserDeps,
): Promise<boolean> {
  const { partnerUserId, eventId, occurredAt } = event;
  if (await deps.stagedDeletes.consumeApproval(partnerUserId, eventId)) return true;
  if (await deps.deleteGuard.admit()) return true;
  await deps.stagedDeletes.stage({ partnerUserId, uphealUserId, eventId, occurredAt });
  return false;
}

/** Marks the mapping before the `DELETE`; false when a newer event was applied meanwhile. */
async function markDeleteSent(
  mapping: UserMapping,
  event: PartnerEventOf<'user.deleted'>,
  deps: SyncUserDeps,
): Promise<boolean> {
  const version = versionOf(event);
  const saved = await saveWithRetry(
    deps.mappings,
    mapping.partnerUserId,
    (current) => {
      if (!current || isStale(version, current.version)) return undefined;
      if (current.state !== 'active' || current.uphealUserId !== mapping.uphealUserId)
        return undefined;
      return { ...mappingDraft(current), deleteSent: event.eventId };
    },
    { current: mapping },
  );
  return saved?.deleteSent === event.eventId;
}
