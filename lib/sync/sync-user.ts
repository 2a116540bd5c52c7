/**
 * The `sync-user` use case: applies one partner event to Upheal, exactly once and in order
 * (SPEC §3.3). Steps for a `created`/`updated` event (both are upserts):
 *   1. read the mapping; drop the event if it is not newer than the last applied one;
 *   2. mapped → update: send only the bodies whose hash changed, note fields Upheal can't change;
 *   3. not mapped → check by email and link, else claim the create and create (a 409 or
 *      duplicate 400 is resolved by a check); a client waits for its primary provider's mapping;
 *   4. save the mapping (optimistic concurrency) and, for a client whose provider list differs
 *      from what Upheal has, queue the full-list replace.
 * A delete is guarded (staged above the thresholds), tolerates "already gone", and leaves a
 * tombstone. Errors are thrown for the consumer to classify (`lib/sqs/outcome-policy.ts`).
 */
import {
  AwaitingWebhookError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  NotReadyError,
  ValidationError,
} from '#lib/errors.ts';
import { EVENT_TYPES, type PartnerEvent, type PartnerEventOf } from '#lib/events/partner-event.ts';
import type { ClientFields, ProviderFields } from '#lib/events/user-fields.ts';
import type {
  MappingDraft,
  MappingStore,
  UserKind,
  UserMapping,
  Version,
} from '#lib/store/mapping-store.ts';
import {
  changedFixedFields,
  commonUpdateBody,
  createClientBody,
  createProviderBody,
  type FixedField,
  fieldsHash,
  fixedFieldHashes,
  hasFields,
  providerUpdateBody,
} from '#lib/sync/fields.ts';
import type { UphealPort } from '#lib/sync/paced-upheal.ts';
import type { AssignmentQueue, DeleteGuard, OutcomeCause, StagedDeletes } from '#lib/sync/ports.ts';
import { saveWithRetry } from '#lib/sync/save-mapping.ts';
import { isStale, versionOf } from '#lib/sync/version.ts';

/** How long a create-path claim holds off other workers (longer than one create attempt). */
export const CLAIM_LEASE_MS = 60_000;
/** When the claim is held elsewhere, try again after this long. */
const CLAIM_BUSY_RETRY_MS = 5_000;
/** When Upheal no longer has a mapped user (a delete half done?), look again after this long. */
const DELETE_SETTLE_RETRY_MS = 10_000;
/** When a create answered 409 without an email to check, look for the healed mapping after this long. */
const WEBHOOK_WAIT_RETRY_MS = 10_000;
/** When a client's primary provider is not mapped yet, look again after this long. */
const PROVIDER_WAIT_RETRY_MS = 10_000;

/** Everything the use case talks to. */
export interface SyncUserDeps {
  readonly mappings: MappingStore;
  readonly upheal: UphealPort;
  readonly assignments: AssignmentQueue;
  readonly deleteGuard: DeleteGuard;
  readonly stagedDeletes: StagedDeletes;
}

/** Where the event came from: its delivery (for the claim) and its cause (for outcomes). */
export interface SyncUserContext extends OutcomeCause {
  /** Identifies this delivery's worker for the create-path claim (the SQS message id). */
  readonly claimOwner: string;
}

/**
 * What applying an event did. `inviteUrl` is a credential: never log it. `replayed` marks the
 * outcome of a redelivered event that was already applied: no call was made, and it is
 * announced again (outbound deduplication drops it if the first announcement got through).
 */
export type SyncOutcome =
  | {
      readonly kind: 'created';
      readonly partnerUserId: string;
      readonly userKind: UserKind;
      readonly uphealUserId: string;
      readonly inviteUrl?: string | undefined;
      /** A client's full provider list (Upheal ids), sent right after the create. */
      readonly providersAssigned?: readonly string[] | undefined;
      readonly replayed?: boolean;
    }
  | {
      readonly kind: 'linked';
      readonly partnerUserId: string;
      readonly userKind: UserKind;
      readonly uphealUserId: string;
      readonly replayed?: boolean;
    }
  | {
      readonly kind: 'updated';
      readonly partnerUserId: string;
      readonly userKind: UserKind;
      readonly uphealUserId: string;
      /** False when nothing changed, so no call was made. */
      readonly changed: boolean;
      readonly unappliedFields: readonly FixedField[];
      readonly replayed?: boolean;
    }
  | {
      readonly kind: 'deleted';
      readonly partnerUserId: string;
      readonly uphealUserId?: string | undefined;
      readonly replayed?: boolean;
    }
  | {
      readonly kind: 'delete-staged';
      readonly partnerUserId: string;
      readonly uphealUserId: string;
    }
  | {
      readonly kind: 'providers-recorded';
      readonly partnerUserId: string;
      readonly queued: boolean;
    }
  | { readonly kind: 'stale'; readonly partnerUserId: string };

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
  fields: ProviderFields | ClientFields,
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
  return createOrLink(partnerUserId, kind, fields, version, mapping, context, deps);
}

/** Step 2: a mapped user; only changed bodies are sent. */
async function updateUser(
  mapping: UserMapping,
  uphealUserId: string,
  kind: UserKind,
  fields: ProviderFields | ClientFields,
  version: Version,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<SyncOutcome> {
  const { partnerUserId } = mapping;
  const isProvider = kind === 'provider';
  const common = commonUpdateBody(fields, isProvider);
  const commonHash = fieldsHash(partnerUserId, common);
  let changed = false;
  let providerHash = mapping.providerHash;
  try {
    if (commonHash !== mapping.commonHash && hasFields(common)) {
      await deps.upheal.updateUser(uphealUserId, common);
      changed = true;
    }
    if (isProvider) {
      const specific = providerUpdateBody(fields as ProviderFields);
      providerHash = fieldsHash(partnerUserId, specific);
      if (providerHash !== mapping.providerHash && hasFields(specific)) {
        await deps.upheal.updateProvider(uphealUserId, specific);
        changed = true;
      }
    }
  } catch (error) {
    // Upheal no longer has the user while our mapping does: most likely a delete of this user
    // is half done (Upheal answered, the tombstone not yet written). Wait for it to settle; if
    // the user is really gone from Upheal, the wait runs out and the reason says so.
    if (error instanceof NotFoundError) {
      throw new NotReadyError(
        `Upheal has no user ${uphealUserId} for ${partnerUserId} (a delete in progress?)`,
        DELETE_SETTLE_RETRY_MS,
      );
    }
    throw error;
  }
  const unappliedFields = changedFixedFields(
    mapping.fixedHashes,
    fixedFieldHashes(partnerUserId, fields),
  );
  const providers = isProvider
    ? undefined
    : newerProviderList(mapping, fields as ClientFields, version);
  let overtaken = false;
  const saved = await saveWithRetry(
    deps.mappings,
    partnerUserId,
    (current) => {
      // A newer event of this user was applied meanwhile (from the other queue): our call may
      // have landed after its one, so Upheal's fields are unknown now — the next event of the
      // user sends them all again.
      if (current && isStale(version, current.version)) {
        overtaken = true;
        return { ...mappingDraft(current), commonHash: undefined, providerHash: undefined };
      }
      return {
        ...mappingDraft(current ?? mapping),
        version,
        commonHash,
        providerHash,
        unappliedFields,
        lastOutcome: 'updated',
        ...(providers ?? {}),
      };
    },
    { current: mapping },
  );
  if (overtaken) return { kind: 'stale', partnerUserId };
  await queueAssignmentIfNeeded(saved, mapping.desiredProviders, context, deps);
  return { kind: 'updated', partnerUserId, userKind: kind, uphealUserId, changed, unappliedFields };
}

/** Step 3: not mapped yet (or a tombstone older than this event). */
async function createOrLink(
  partnerUserId: string,
  kind: UserKind,
  fields: ProviderFields | ClientFields,
  version: Version,
  mapping: UserMapping | undefined,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<SyncOutcome> {
  // A client needs its primary provider's Upheal id; wait (bounded by the consumer) until mapped.
  // The primary is the first of the newest list: the event's, or one recorded since (a
  // `client.providers_changed` that arrived first, also on a tombstone).
  let therapistUserId: string | undefined;
  let primary: string | undefined;
  // A client with more providers whose every provider is mapped gets its full list right after
  // the create, in this event (the assignment job is only needed when that is not possible).
  let fullList: ProviderList | undefined;
  if (kind === 'client') {
    const desired = effectiveProviders(mapping, fields as ClientFields, version);
    primary = desired[0]!;
    const providers = await deps.mappings.getMany(desired);
    const provider = providers.get(primary);
    if (provider?.state !== 'active' || !provider.uphealUserId) {
      throw new NotReadyError(
        `primary provider ${primary} of client ${partnerUserId} is not mapped to Upheal`,
        PROVIDER_WAIT_RETRY_MS,
      );
    }
    therapistUserId = provider.uphealUserId;
    const ids = desired.map((id) => providers.get(id)?.uphealUserId);
    const allMapped = desired.every((id) => providers.get(id)?.state === 'active');
    if (desired.length > 1 && allMapped && ids.every((id) => id !== undefined)) {
      fullList = { partner: desired, upheal: ids };
    }
  }

  // Match before create; a crash after an earlier create is healed here too.
  deps.upheal.callsAfterCheck?.(fullList ? 2 : 1);
  const email = fields.email;
  let uphealUserId = email ? await findByEmail(deps.upheal, email) : undefined;
  let inviteUrl: string | undefined;
  let linked = uphealUserId !== undefined;
  if (!uphealUserId) {
    await claimCreate(partnerUserId, mapping, context, deps);
    try {
      if (kind === 'provider') {
        const created = await deps.upheal.createProvider(
          createProviderBody(partnerUserId, fields as ProviderFields),
        );
        uphealUserId = created.userId;
        inviteUrl = created.inviteUrl;
      } else {
        const created = await deps.upheal.createClient(
          createClientBody(partnerUserId, fields as ClientFields, therapistUserId!),
        );
        uphealUserId = created.userId;
      }
    } catch (error) {
      // 409, or the 400 some create endpoints answer for a duplicate: the user may exist already.
      const maybeDuplicate = error instanceof ConflictError || error instanceof BadRequestError;
      const existing = maybeDuplicate && email ? await findByEmail(deps.upheal, email) : undefined;
      if (!existing) {
        // Without an email nothing can be checked: the 409 may be our own earlier create whose
        // answer was lost. Upheal's user-created webhook names it (lib/upheal-webhook).
        if (error instanceof ConflictError && !email) {
          throw new AwaitingWebhookError(
            `create of ${partnerUserId} answered 409 and it has no email: waiting for Upheal's user-created webhook`,
            WEBHOOK_WAIT_RETRY_MS,
          );
        }
        throw error;
      }
      uphealUserId = existing;
      linked = true;
    }
  }

  const isProvider = kind === 'provider';
  const clientFields = isProvider ? undefined : (fields as ClientFields);
  /**
   * What Upheal's provider list of the user is known to be. Creating a client assigns its primary
   * provider (`therapistUserId`), then its full list when it has more (`fullList`); a link tells
   * nothing. A client whose full list could not be sent now is recorded as unknown rather than as
   * its primary alone: its full-list replace follows anyway (queued below), and with the list
   * already unknown it needs no write to mark it so before the call.
   */
  let known: ProviderList | undefined;
  if (!linked && !isProvider) {
    known = fullList
      ? await replaceAfterCreate(deps.upheal, uphealUserId, fullList)
      : { partner: [primary!], upheal: [therapistUserId!] };
  }
  const knownAssignment = (desired: readonly string[] | undefined) =>
    known === undefined || (!fullList && !sameList(desired ?? [], known.partner))
      ? { assignedProviders: undefined, assignedPartnerProviders: undefined }
      : { assignedProviders: known.upheal, assignedPartnerProviders: known.partner };
  const saved = await saveWithRetry(
    deps.mappings,
    partnerUserId,
    (current) => {
      // A newer event of this user was applied meanwhile (a delete, say, from the other queue).
      if (current && isStale(version, current.version)) return undefined;
      const base = current && current.state !== 'deleted' ? mappingDraft(current) : undefined;
      // A list recorded after this event (even on a tombstone) is newer than the event's.
      const providers = clientFields
        ? (newerProviderList(current, clientFields, version) ?? {
            desiredProviders: current?.desiredProviders,
            providersVersion: current?.providersVersion,
          })
        : undefined;
      return {
        ...base,
        partnerUserId,
        kind,
        state: 'active',
        uphealUserId,
        version,
        // Linking adopts the existing user as it is (no update call: "check only" for a user
        // Upheal has); the partner's fields of this event become the baseline, so a re-run
        // costs nothing and a later change on the partner's side is sent.
        commonHash: fieldsHash(partnerUserId, commonUpdateBody(fields, isProvider)),
        providerHash: isProvider
          ? fieldsHash(partnerUserId, providerUpdateBody(fields as ProviderFields))
          : undefined,
        fixedHashes: fixedFieldHashes(partnerUserId, fields),
        unappliedFields: [],
        lastOutcome: linked ? 'linked' : 'created',
        desiredProviders: providers?.desiredProviders,
        providersVersion: providers?.providersVersion,
        ...knownAssignment(providers?.desiredProviders),
      };
    },
    { current: mapping },
  );
  if (saved?.version?.eventId !== version.eventId) {
    // Overtaken by a newer event: a user this event created must not outlive a newer delete.
    if (saved?.state === 'deleted' && !linked) await deleteIfPresent(deps.upheal, uphealUserId);
    return { kind: 'stale', partnerUserId };
  }
  await queueAssignmentIfNeeded(saved, undefined, context, deps);
  // A provider coming back (a new Upheal user after a delete) must be put back on its clients.
  if (kind === 'provider' && mapping?.state === 'deleted') {
    for (const client of await deps.mappings.clientsOf(partnerUserId)) {
      if (client.state === 'active') await deps.assignments.enqueue(client.partnerUserId, context);
    }
  }
  return linked
    ? { kind: 'linked', partnerUserId, userKind: kind, uphealUserId }
    : {
        kind: 'created',
        partnerUserId,
        userKind: kind,
        uphealUserId,
        inviteUrl,
        providersAssigned: fullList && known ? known.upheal : undefined,
      };
}

/**
 * Claims the create of a user (SPEC §3.3 "never two creates"): only one worker may create it
 * while its lease lasts, and a worker that is refused comes back later, when the mapping the
 * other one saved sends it down the update path. The claim comes after the check, right before
 * the create, so a message deferred for a slot holds no claim and writes none; a mapping saved
 * since this attempt read it (a worker whose lease ran out) is caught by reading it again.
 */
async function claimCreate(
  partnerUserId: string,
  mapping: UserMapping | undefined,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<void> {
  if (!(await deps.mappings.claim(partnerUserId, context.claimOwner, CLAIM_LEASE_MS))) {
    throw new NotReadyError(
      `create of ${partnerUserId} is claimed by another worker`,
      CLAIM_BUSY_RETRY_MS,
    );
  }
  const now = await deps.mappings.get(partnerUserId);
  if (now?.rev !== mapping?.rev) {
    throw new NotReadyError(
      `mapping of ${partnerUserId} changed while its create was claimed`,
      CLAIM_BUSY_RETRY_MS,
    );
  }
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

/** `user.deleted`: guarded, idempotent, leaves a tombstone. */
async function deleteUser(
  event: PartnerEventOf<'user.deleted'>,
  deps: SyncUserDeps,
): Promise<SyncOutcome> {
  const { partnerUserId } = event;
  const version = versionOf(event);
  const mapping = await deps.mappings.get(partnerUserId);
  if (mapping && isStale(version, mapping.version)) return staleOrReplayed(mapping, version);
  const uphealUserId = mapping?.state === 'active' ? mapping.uphealUserId : undefined;
  if (uphealUserId) {
    const approved = await deps.stagedDeletes.consumeApproval(partnerUserId, event.eventId);
    if (!approved && !(await deps.deleteGuard.admit())) {
      await deps.stagedDeletes.stage({
        partnerUserId,
        uphealUserId,
        eventId: event.eventId,
        occurredAt: event.occurredAt,
      });
      return { kind: 'delete-staged', partnerUserId, uphealUserId };
    }
    await deleteIfPresent(deps.upheal, uphealUserId);
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
        uphealUserId: current?.uphealUserId,
        version,
        lastOutcome: 'deleted',
      };
    },
    { current: mapping },
  );
  return { kind: 'deleted', partnerUserId, uphealUserId };
}

/**
 * A stale event is dropped — unless it is the very event last applied (a redelivery after the
 * worker died before announcing it): then its outcome is rebuilt from the mapping, with no call,
 * so the partner still hears of it. A rebuilt `created` has no `inviteUrl` (never stored).
 */
function staleOrReplayed(mapping: UserMapping, version: Version): SyncOutcome {
  const { partnerUserId, uphealUserId, lastOutcome, kind: userKind } = mapping;
  const sameEvent =
    mapping.version?.eventId === version.eventId && mapping.version.ms === version.ms;
  if (!sameEvent || !lastOutcome) return { kind: 'stale', partnerUserId };
  if (lastOutcome === 'deleted')
    return { kind: 'deleted', partnerUserId, uphealUserId, replayed: true };
  if (!uphealUserId) return { kind: 'stale', partnerUserId };
  if (lastOutcome === 'updated') {
    const unappliedFields = (mapping.unappliedFields ?? []) as FixedField[];
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
  if (
    lastOutcome === 'created' &&
    userKind === 'client' &&
    (mapping.assignedProviders?.length ?? 0) > 1
  ) {
    // Its full list went out with the create (or since): announce it again too.
    const providersAssigned = mapping.assignedProviders;
    return {
      kind: 'created',
      partnerUserId,
      userKind,
      uphealUserId,
      providersAssigned,
      replayed: true,
    };
  }
  return { kind: lastOutcome, partnerUserId, userKind, uphealUserId, replayed: true };
}

/** Deletes an Upheal user; one Upheal no longer has is already what was asked (SPEC §3.3). */
async function deleteIfPresent(upheal: UphealPort, uphealUserId: string): Promise<void> {
  try {
    await upheal.deleteUser(uphealUserId);
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
  }
}

/** A client's provider list: partner ids and the Upheal ids they map to, in the same order. */
interface ProviderList {
  readonly partner: readonly string[];
  readonly upheal: readonly string[];
}

/**
 * Sends a just-created client's full provider list. Returns it as what Upheal now has, or
 * undefined when the call failed (it may still have taken effect: unknown), in which case the
 * assignment job, queued after the mapping is saved, sends it again.
 */
async function replaceAfterCreate(
  upheal: UphealPort,
  uphealUserId: string,
  list: ProviderList,
): Promise<ProviderList | undefined> {
  try {
    await upheal.replaceProviders(uphealUserId, [...list.upheal]);
    return list;
  } catch {
    return undefined;
  }
}

/** The Upheal id of the user with this email, if Upheal has one. */
async function findByEmail(upheal: UphealPort, email: string): Promise<string | undefined> {
  const result = await upheal.checkUser(email);
  return result.exists ? result.userId : undefined;
}

/** The client's provider list from a full-state event, when it is newer than the recorded one. */
function newerProviderList(
  mapping: UserMapping | undefined,
  fields: ClientFields,
  version: Version,
): Pick<MappingDraft, 'desiredProviders' | 'providersVersion'> | undefined {
  if (mapping && isStale(version, mapping.providersVersion)) return undefined;
  return { desiredProviders: fields.providerPartnerUserIds, providersVersion: version };
}

/** The newest provider list of a client: the event's, or one recorded after it. */
function effectiveProviders(
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
 * Queues the full-list replace when the client is in Upheal and its desired list differs from
 * the one Upheal last confirmed, or when the desired list just changed (an assignment of the
 * previous list may be in flight and would otherwise have the last word). `assign-providers`
 * compares Upheal ids before calling, so a command that turns out equal costs no call.
 */
async function queueAssignmentIfNeeded(
  mapping: UserMapping | undefined,
  previousDesired: readonly string[] | undefined,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<boolean> {
  if (mapping?.kind !== 'client' || mapping.state !== 'active') return false;
  const desired = mapping.desiredProviders ?? [];
  if (desired.length === 0) return false;
  const changed = previousDesired !== undefined && !sameList(desired, previousDesired);
  if (!changed && sameList(desired, mapping.assignedPartnerProviders)) return false;
  await deps.assignments.enqueue(mapping.partnerUserId, context);
  return true;
}

/** Queues an active client's assignment unconditionally (after a possibly lost enqueue). */
async function requeueAssignment(
  mapping: UserMapping,
  context: SyncUserContext,
  deps: SyncUserDeps,
): Promise<void> {
  if (mapping.kind !== 'client' || mapping.state !== 'active') return;
  if ((mapping.desiredProviders ?? []).length === 0) return;
  await deps.assignments.enqueue(mapping.partnerUserId, context);
}

/** True when both lists hold the same ids in the same order (the first is the primary). */
export function sameList(a: readonly string[], b: readonly string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((id, index) => id === b[index]);
}

/** The writable part of a stored mapping. */
function mappingDraft(mapping: UserMapping | MappingDraft): MappingDraft {
  const { rev: _rev, updatedAt: _updatedAt, ...draft } = mapping as UserMapping;
  return draft;
}
