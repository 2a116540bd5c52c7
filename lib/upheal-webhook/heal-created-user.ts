/**
 * Healing a create whose answer was lost. Upheal's user-created webhook carries the partner user
 * id we sent with the create; when that partner user is not mapped although we tried to create
 * it (a create claim) or gave up on it (a failure record), the create did take effect: the
 * mapping is recorded (under the same identity rule as every link: the Upheal user must be mapped
 * to no other partner user), the failure records are cleared, and the partner hears the
 * `user.created` it should have had. An event waiting for this webhook (a create answered 409
 * for a client without email) finds the mapping when it comes back. A webhook for a partner id we
 * never sent changes nothing. Every webhook leaves a trace (ids only).
 *
 * A tombstone (the partner user deleted here) is healed over only when the create the claim
 * remembers is newer than the delete and the Upheal user is not the one that delete removed: a
 * re-create whose answer was lost while an older delete was applied. Otherwise the deleted user
 * stays deleted, whatever Upheal still holds.
 *
 * Upheal announces every create when it happens, most of them answered normally: the webhook
 * then races the creating worker's own mapping write, which comes within that worker's invocation
 * (after a provider-list call, say). So a claimed but unmapped user is healed only once the
 * webhook is older than WORKER_SETTLE_MS (any invocation that saw the create's answer is over);
 * until then the command waits (NotReadyError) and usually finds the worker's mapping.
 */
import { FUNCTION_TIMEOUT_SECONDS } from '#infra/resources.ts';
import { NotReadyError } from '#lib/errors.ts';
import type { OutboundPublisher } from '#lib/outbound/outbound-events.ts';
import type {
  MappingDraft,
  MappingStore,
  PendingCreate,
  UserKind,
  UserMapping,
  Version,
} from '#lib/store/mapping-store.ts';
import { fixedFieldHashes } from '#lib/sync/fields.ts';
import type { AssignmentQueue } from '#lib/sync/ports.ts';
import { saveWithRetry } from '#lib/sync/save-mapping.ts';
import { isStale } from '#lib/sync/version.ts';
import type { HealCommand } from '#lib/upheal-webhook/heal-command.ts';
import {
  type FoundFailure,
  HEAL_OUTCOMES,
  type HealOutcomeKind,
  type HealStore,
} from '#lib/upheal-webhook/heal-store.ts';

/** Margin over sync-user's timeout for the last writes and the clocks of two functions. */
const SETTLE_MARGIN_MS = 15_000;
/**
 * How long after a webhook a worker that saw its create answered may still write the mapping:
 * the default of `UPHEAL_WEBHOOK_SETTLE_SECONDS`, sync-user's timeout plus a margin.
 */
export const WORKER_SETTLE_MS = FUNCTION_TIMEOUT_SECONDS['sync-user'] * 1000 + SETTLE_MARGIN_MS;

/** What is known when deciding about one webhook. */
export interface HealFacts {
  readonly partnerUserId: string;
  readonly uphealUserId: string;
  /** The user's kind as Upheal reports it, when it does. */
  readonly userKind: UserKind | undefined;
  /** The partner user's mapping, if any. */
  readonly mapping: UserMapping | undefined;
  /** The partner user mapped to this Upheal id, if any (reverse index). */
  readonly owner: UserMapping | undefined;
  /** Whether we ever claimed this partner user's create. */
  readonly claimed: boolean;
  /** How many failure records name this partner user. */
  readonly failures: number;
  /** The version of the event whose create the claim remembers, when known. */
  readonly createVersion?: Version | undefined;
}

/** The decision about one webhook. */
export type HealDecision =
  | { readonly action: 'heal'; readonly kind: UserKind }
  | {
      readonly action: 'trace';
      readonly outcome: Exclude<HealOutcomeKind, 'healed'>;
      readonly reason?: string;
    };

/** Decides what a user-created webhook means for our mappings (pure; rules in the file header). */
export function decideHeal(facts: HealFacts): HealDecision {
  const { partnerUserId, uphealUserId, mapping, owner } = facts;
  if (mapping?.state === 'active') {
    if (mapping.uphealUserId === uphealUserId) {
      return { action: 'trace', outcome: HEAL_OUTCOMES.alreadyMapped };
    }
    return {
      action: 'trace',
      outcome: HEAL_OUTCOMES.conflict,
      reason: `${partnerUserId} is mapped to Upheal user ${mapping.uphealUserId ?? '(none)'}, not ${uphealUserId}`,
    };
  }
  if (mapping?.state === 'deleted' && !createdOverTombstone(facts, mapping)) {
    return {
      action: 'trace',
      outcome: HEAL_OUTCOMES.deleted,
      reason: `${partnerUserId} is deleted here; Upheal user ${uphealUserId} left as it is`,
    };
  }
  if (owner && owner.partnerUserId !== partnerUserId) {
    return {
      action: 'trace',
      outcome: HEAL_OUTCOMES.conflict,
      reason: `Upheal user ${uphealUserId} is mapped to partner user ${owner.partnerUserId}`,
    };
  }
  if (!facts.claimed && facts.failures === 0) {
    return { action: 'trace', outcome: HEAL_OUTCOMES.unknownPartnerUser };
  }
  const kind = facts.userKind ?? mapping?.kind;
  if (kind === undefined) {
    return {
      action: 'trace',
      outcome: HEAL_OUTCOMES.unknownKind,
      reason: `Upheal reported no known user type for ${uphealUserId}`,
    };
  }
  if (mapping && mapping.kind !== kind) {
    return {
      action: 'trace',
      outcome: HEAL_OUTCOMES.conflict,
      reason: `${partnerUserId} is a ${mapping.kind} here, Upheal user ${uphealUserId} a ${kind}`,
    };
  }
  return { action: 'heal', kind };
}

/**
 * Whether the Upheal user comes from a create newer than the tombstone: the claim remembers a
 * create of a later event, and the delete did not remove this very Upheal user.
 */
function createdOverTombstone(
  facts: Pick<HealFacts, 'uphealUserId' | 'createVersion'>,
  tombstone: UserMapping,
): boolean {
  if (!facts.createVersion || tombstone.uphealUserId === facts.uphealUserId) return false;
  return !isStale(facts.createVersion, tombstone.version);
}

/** What applying a webhook did (ids only: safe to log). */
export interface HealResult {
  readonly outcome: HealOutcomeKind;
  readonly partnerUserId: string;
  readonly uphealUserId: string;
  readonly reason?: string | undefined;
  /** Failure records cleared. */
  readonly clearedFailures: number;
}

/** The healer's collaborators. */
export interface HealDeps {
  readonly mappings: MappingStore;
  readonly store: HealStore;
  readonly outbound: OutboundPublisher;
  readonly assignments: AssignmentQueue;
  /** How old a webhook must be before a claimed user is healed (default WORKER_SETTLE_MS). */
  readonly settleMs?: number;
  readonly now?: () => number;
}

/** Applies one user-created webhook. Idempotent: a redelivery finds the mapping and traces it. */
export async function healCreatedUser(command: HealCommand, deps: HealDeps): Promise<HealResult> {
  const { partnerUserId, uphealUserId } = command;
  const [mapping, owner, claim] = await Promise.all([
    deps.mappings.get(partnerUserId),
    deps.mappings.findByUphealId(uphealUserId),
    deps.mappings.pendingCreate(partnerUserId),
  ]);
  // What the lost create was sent with, as its claim remembers it: what Upheal now holds. Read
  // up front only for a tombstone (whether the create is newer than the delete decides).
  let pending =
    mapping?.state === 'deleted' ? await deps.mappings.pendingCreate(partnerUserId) : undefined;
  const facts = {
    partnerUserId,
    uphealUserId,
    userKind: command.userKind,
    owner,
    claimed: claim !== undefined,
    createVersion: pending?.version,
  };
  const settleMs = deps.settleMs ?? WORKER_SETTLE_MS;
  const ageMs = (deps.now ?? Date.now)() - Date.parse(command.receivedAt);
  if (ageMs < settleMs && decideHeal({ ...facts, mapping, failures: 0 }).action === 'heal') {
    throw new NotReadyError(
      `create of ${partnerUserId} may still be saved by its worker; looking again`,
      settleMs - ageMs,
    );
  }
  // A mapping this healer wrote (no event applied since) whose delivery may have stopped before
  // clearing the failures and telling the partner: those steps are repeated (both idempotent).
  const healedBefore = mapping !== undefined && wroteBefore(mapping, uphealUserId);
  // Failure records are searched only for a user that may be healed (neither mapped nor deleted
  // here, or deleted before a newer create): the common case (a create answered normally) reads
  // none of them.
  const settled =
    mapping?.state === 'active' ||
    (mapping?.state === 'deleted' && !createdOverTombstone(facts, mapping));
  const failures = settled && !healedBefore ? [] : await deps.store.failuresOf(partnerUserId);
  let decision = decideHeal({ ...facts, mapping, failures: failures.length });
  let saved: UserMapping | undefined;
  if (decision.action === 'heal') {
    pending ??= await deps.mappings.pendingCreate(partnerUserId);
    saved = await saveWithRetry(
      deps.mappings,
      partnerUserId,
      (current) => {
        // Decided again on every read: a worker may have mapped the user meanwhile.
        decision = decideHeal({ ...facts, mapping: current, failures: failures.length });
        return decision.action === 'heal'
          ? healedDraft(current, partnerUserId, decision.kind, uphealUserId, pending)
          : undefined;
      },
      { current: mapping },
    );
  }
  if (decision.action === 'trace' && healedBefore) {
    await settle(command, mapping, failures, claim?.version?.eventId, deps);
  }
  if (decision.action === 'trace') {
    await deps.store.recordTrace({
      ...traceOf(command),
      outcome: decision.outcome,
      reason: decision.reason,
    });
    return {
      ...traceOf(command),
      outcome: decision.outcome,
      reason: decision.reason,
      clearedFailures: healedBefore ? failures.length : 0,
    };
  }
  await settle(command, saved, failures, claim?.version?.eventId, deps);
  await deps.store.recordTrace({ ...traceOf(command), outcome: HEAL_OUTCOMES.healed });
  return { ...traceOf(command), outcome: HEAL_OUTCOMES.healed, clearedFailures: failures.length };
}

/**
 * A mapping this healer wrote and no event has changed since: active on the Upheal user, created,
 * and no hash of what was sent (every create and update of the sync records them).
 */
function wroteBefore(mapping: UserMapping, uphealUserId: string): boolean {
  return (
    mapping.state === 'active' &&
    mapping.uphealUserId === uphealUserId &&
    mapping.lastOutcome === 'created' &&
    mapping.commonHash === undefined &&
    mapping.providerHash === undefined
  );
}

/**
 * After the mapping is saved: failures cleared, the partner told, a client's list queued. What
 * is announced names the event whose create was lost (the claim's) when a failure of it is
 * found, else only an import job: another failure of the user (an event refused for its own
 * reason) is not what took effect.
 */
async function settle(
  command: HealCommand,
  saved: UserMapping | undefined,
  failures: readonly FoundFailure[],
  createEventId: string | undefined,
  deps: HealDeps,
): Promise<void> {
  await deps.store.clearFailures(failures);
  const cause = failures.find((failure) => failure.eventId === createEventId) ?? {
    jobId: failures.find((failure) => failure.jobId !== undefined)?.jobId,
    eventId: undefined,
  };
  await deps.outbound.publish({
    type: 'user.created',
    partnerUserId: command.partnerUserId,
    uphealUserId: command.uphealUserId,
    eventId: cause?.jobId ? undefined : cause?.eventId,
    jobId: cause?.jobId,
    occurredAt: command.receivedAt,
  });
  // A client whose provider list is known gets it sent; assign-providers skips an equal list.
  if (saved?.kind === 'client' && (saved.desiredProviders?.length ?? 0) > 0) {
    await deps.assignments.enqueue(command.partnerUserId, {
      jobId: cause?.jobId,
      eventId: cause?.eventId,
    });
  }
}

/**
 * The mapping of a healed user: active, with its Upheal id and no hashes of what was sent, so the
 * partner's next event of the user sends every field; over a tombstone it keeps the delete's
 * version (events older than the delete stay stale), else it has none. What the claim
 * remembers of the lost create is kept, so that event reports what Upheal cannot change: the
 * email the create went with (none for a client created without one: a later email is reported
 * as not applied) and the optional fields it set (a later clear of them is reported).
 */
function healedDraft(
  current: UserMapping | undefined,
  partnerUserId: string,
  kind: UserKind,
  uphealUserId: string,
  pending: PendingCreate | undefined,
): MappingDraft {
  return {
    partnerUserId,
    kind,
    state: 'active',
    uphealUserId,
    version: current?.state === 'deleted' ? current.version : undefined,
    desiredProviders: current?.desiredProviders,
    providersVersion: current?.providersVersion,
    lastOutcome: 'created',
    ...(pending
      ? {
          fixedHashes: fixedFieldHashes(partnerUserId, { email: pending.email }),
          setFields: pending.fields,
        }
      : {}),
  };
}

function traceOf(command: HealCommand) {
  return {
    partnerUserId: command.partnerUserId,
    uphealUserId: command.uphealUserId,
    receivedAt: command.receivedAt,
  };
}
