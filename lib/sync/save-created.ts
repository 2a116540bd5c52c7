/**
 * Step 4 after a create or a link: the mapping is saved (optimistic concurrency), and a client's
 * assignment queued when its list in Upheal is not known to be right.
 */
import type { ClientFields } from '#lib/events/user-fields.ts';
import type { MappingDraft, UserMapping } from '#lib/store/mapping-store.ts';
import { deleteIfPresent } from '#lib/sync/delete-user.ts';
import type { FieldState } from '#lib/sync/field-plan.ts';
import {
  newerProviderList,
  type ProviderList,
  queueAssignmentIfNeeded,
  sameList,
} from '#lib/sync/provider-lists.ts';
import { staleOrReplayed } from '#lib/sync/replay.ts';
import { mappingDraft, saveWithRetry } from '#lib/sync/save-mapping.ts';
import type { SyncOutcome, SyncUserContext, SyncUserDeps, Upsert } from '#lib/sync/sync-types.ts';
import type { Therapist } from '#lib/sync/therapist.ts';
import { isStale } from '#lib/sync/version.ts';

/** What the create or link did in Upheal. */
export interface Applied {
  readonly uphealUserId: string;
  readonly linked: boolean;
  readonly inviteUrl?: string | undefined;
  /** What Upheal's provider list of a created client is known to be; undefined when unknown. */
  readonly known?: ProviderList | undefined;
  readonly fieldState: FieldState;
  /**
   * Whether to remove the create-path claim once the mapping is saved: after a user was found by
   * the email the claim remembered. Otherwise the claim is left to its TTL, which costs no write.
   */
  readonly releaseClaim: boolean;
  /** A create sent without a check before it (create first), which it answered. */
  readonly checkSkipped?: boolean | undefined;
}

/** Saves the mapping of a created or linked user and announces the outcome. */
export async function saveCreatedOrLinked(
  upsert: Upsert,
  applied: Applied,
  therapist: Therapist | undefined,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<SyncOutcome> {
  const { partnerUserId, kind, version, mapping } = upsert;
  let wrote = false;
  const saved = await saveWithRetry(
    deps.mappings,
    partnerUserId,
    (current) => {
      const draft = createdDraft(upsert, applied, therapist, current);
      wrote = draft !== undefined;
      return draft;
    },
    { current: mapping },
  );
  if (applied.releaseClaim) await deps.mappings.releaseClaim(partnerUserId);
  const { uphealUserId, linked } = applied;
  if (saved?.version?.eventId !== version.eventId) {
    // Overtaken by a newer event: a user this event created must not outlive a newer delete.
    if (saved?.state === 'deleted' && !linked) await deleteIfPresent(deps.upheal, uphealUserId);
    return { kind: 'stale', partnerUserId };
  }
  // Another delivery of this same event (a redelivery while this one was slow) saved it first:
  // announce its outcome, so the partner hears of the user once.
  if (!wrote) return staleOrReplayed(saved, version);
  await queueAssignmentIfNeeded(saved, undefined, context, deps);
  // A provider coming back (a new Upheal user after a delete) must be put back on its clients.
  if (kind === 'provider' && mapping?.state === 'deleted') {
    for (const client of await deps.mappings.clientsOf(partnerUserId)) {
      if (client.state === 'active') await deps.assignments.enqueue(client.partnerUserId, context);
    }
  }
  const { unappliedFields } = applied.fieldState;
  const unapplied = unappliedFields.length > 0 ? { unappliedFields } : {};
  if (linked) return { kind: 'linked', partnerUserId, userKind: kind, uphealUserId, ...unapplied };
  return {
    kind: 'created',
    partnerUserId,
    userKind: kind,
    uphealUserId,
    inviteUrl: applied.inviteUrl,
    providersAssigned: therapist?.fullList && applied.known ? applied.known.upheal : undefined,
    ...(applied.checkSkipped ? { checkSkipped: true } : {}),
    ...unapplied,
  };
}

/**
 * Pure: the mapping to save after a create or link, given the stored one now; undefined when a
 * newer event was applied meanwhile (a delete, say, from the other queue).
 */
export function createdDraft(
  upsert: Upsert,
  applied: Applied,
  therapist: Therapist | undefined,
  current: UserMapping | undefined,
): MappingDraft | undefined {
  const { partnerUserId, kind, fields, version } = upsert;
  if (current && isStale(version, current.version)) return undefined;
  const base = current && current.state !== 'deleted' ? mappingDraft(current) : undefined;
  // A list recorded after this event (even on a tombstone) is newer than the event's.
  const providers =
    kind === 'client'
      ? (newerProviderList(current, fields as ClientFields, version) ?? {
          desiredProviders: current?.desiredProviders,
          providersVersion: current?.providersVersion,
        })
      : undefined;
  return {
    ...base,
    partnerUserId,
    kind,
    state: 'active',
    uphealUserId: applied.uphealUserId,
    version,
    ...applied.fieldState,
    lastOutcome: applied.linked ? 'linked' : 'created',
    deleteSent: undefined,
    desiredProviders: providers?.desiredProviders,
    providersVersion: providers?.providersVersion,
    ...knownAssignment(applied.known, therapist, providers?.desiredProviders),
  };
}

/**
 * What Upheal's provider list of the user is recorded as. Creating a client assigns its primary
 * provider, then its full list when it has more; a link tells nothing. A client whose full list
 * could not be sent now is recorded as unknown rather than as its primary alone: its full-list
 * replace follows anyway, and with the list already unknown it needs no write to mark it so.
 */
function knownAssignment(
  known: ProviderList | undefined,
  therapist: Therapist | undefined,
  desired: readonly string[] | undefined,
): Pick<MappingDraft, 'assignedProviders' | 'assignedPartnerProviders'> {
  const unknown = { assignedProviders: undefined, assignedPartnerProviders: undefined };
  if (known === undefined) return unknown;
  if (!therapist?.fullList && !sameList(desired ?? [], known.partner)) return unknown;
  return { assignedProviders: known.upheal, assignedPartnerProviders: known.partner };
}
