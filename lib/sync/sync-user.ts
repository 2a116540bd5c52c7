/**
 * The `sync-user` use case: applies one partner event to Upheal, exactly once and in order.
 * Steps for a `created`/`updated` event (both are upserts):
 *   1. read the mapping; drop the event if it is not newer than the last applied one;
 *   2. mapped → update (`update-user.ts`): send only the bodies whose hash changed, report
 *      fields Upheal can't change or clear;
 *   3. not mapped → match by email and link when the identity rules allow, else claim the
 *      create and create (`create-or-link.ts`); a client waits for its primary provider;
 *   4. save the mapping (optimistic concurrency) and, for a client whose provider list differs
 *      from what Upheal has, queue the full-list replace (`save-created.ts`).
 * A delete (`delete-user.ts`) is guarded, tolerates "already gone", and leaves a tombstone.
 * Errors are thrown for the consumer to classify (`lib/sqs/outcome-policy.ts`).
 */
import { ValidationError } from '#lib/errors.ts';
import { EVENT_TYPES, type PartnerEvent, type PartnerEventOf } from '#lib/events/partner-event.ts';
import type { UserKind, Version } from '#lib/store/mapping-store.ts';
import { createOrLink } from '#lib/sync/create-or-link.ts';
import { deleteUser } from '#lib/sync/delete-user.ts';
import type { UserFields } from '#lib/sync/field-plan.ts';
import { queueAssignmentIfNeeded, requeueAssignment } from '#lib/sync/provider-lists.ts';
import { staleOrReplayed } from '#lib/sync/replay.ts';
import { mappingDraft, saveWithRetry } from '#lib/sync/save-mapping.ts';
import type { SyncOutcome, SyncUserContext, SyncUserDeps } from '#lib/sync/sync-types.ts';
import { updateUser } from '#lib/sync/update-user.ts';
import { isStale, versionOf } from '#lib/sync/version.ts';

export { CLAIM_LEASE_MS } from '#lib/sync/create-or-link.ts';
export { sameList } from '#lib/sync/provider-lists.ts';
export type { SyncOutcome, SyncUserContext, SyncUserDeps } from '#lib/sync/sync-types.ts';

/** Applies one validated partner event. Throws for the consumer to classify. */
export async function syncUser(
  event: PartnerEvent,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<SyncOutcome> {
  switch (event.type) {
    case EVENT_TYPES.providerCreated:
    case EVENT_TYPES.providerUpdated:
      return upsertUser(
        event.partnerUserId,
        'provider',
        event.data,
        versionOf(event),
        context,
        deps,
      );
    case EVENT_TYPES.clientCreated:
    case EVENT_TYPES.clientUpdated:
      return upsertUser(event.partnerUserId, 'client', event.data, versionOf(event), context, deps);
    case EVENT_TYPES.clientProvidersChanged:
      return recordProviders(event, context, deps);
    case EVENT_TYPES.userDeleted:
      return deleteUser(event, deps);
  }
}

/** Steps 1–4 for a full-state provider or client event. */
async function upsertUser(
  partnerUserId: string,
  kind: UserKind,
  fields: UserFields,
  version: Version,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<SyncOutcome> {
  const mapping = await deps.mappings.get(partnerUserId);
  if (mapping && isStale(version, mapping.version)) {
    const outcome = staleOrReplayed(mapping, version);
    // The worker that applied this event may have died before queueing the assignment.
    if ('replayed' in outcome) await requeueAssignment(mapping, context, deps);
    return outcome;
  }
  if (mapping && mapping.state !== 'deleted' && mapping.kind !== kind) {
    throw new ValidationError(
      [
        {
          field: 'type',
          reason: `partner user is a ${mapping.kind} here, the event is for a ${kind}`,
        },
      ],
      `user ${partnerUserId}`,
    );
  }
  if (mapping?.state === 'active' && mapping.uphealUserId) {
    return updateUser(mapping, mapping.uphealUserId, kind, fields, version, context, deps);
  }
  return createOrLink({ partnerUserId, kind, fields, version, mapping }, context, deps);
}

/** `client.providers_changed`: records the desired list; the assignment follows when mapped. */
async function recordProviders(
  event: PartnerEventOf<'client.providers_changed'>,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<SyncOutcome> {
  const { partnerUserId } = event;
  const version = versionOf(event);
  const mapping = await deps.mappings.get(partnerUserId);
  if (mapping?.state === 'deleted' && isStale(version, mapping.version)) {
    return { kind: 'stale', partnerUserId };
  }
  if (mapping && isStale(version, mapping.providersVersion)) {
    // The very list last recorded, delivered again: its assignment may never have been queued.
    const sameEvent = mapping.providersVersion?.eventId === version.eventId;
    if (sameEvent) await requeueAssignment(mapping, context, deps);
    return { kind: 'stale', partnerUserId };
  }
  if (mapping && mapping.kind !== 'client') {
    throw new ValidationError(
      [{ field: 'type', reason: 'partner user is a provider here; only clients have providers' }],
      `user ${partnerUserId}`,
    );
  }
  const saved = await saveWithRetry(
    deps.mappings,
    partnerUserId,
    (current) => {
      if (current && isStale(version, current.providersVersion)) return undefined;
      return {
        ...(current ? mappingDraft(current) : { partnerUserId, kind: 'client', state: 'pending' }),
        desiredProviders: event.data.providerPartnerUserIds,
        providersVersion: version,
      };
    },
    { current: mapping },
  );
  const queued = await queueAssignmentIfNeeded(saved, mapping?.desiredProviders, context, deps);
  return { kind: 'providers-recorded', partnerUserId, queued };
}
