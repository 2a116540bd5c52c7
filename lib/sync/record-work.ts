/**
 * The per-record work of the two SQS functions: decode the message, run the use case, tell the
 * partner (outbound events) and log the outcome with ids only.
 */
import type { SQSRecord } from 'aws-lambda';
import { type PartnerEvent, parsePartnerEventJson } from '#lib/events/partner-event.ts';
import { parseWith } from '#lib/events/validation.ts';
import {
  type CallGuardFactory,
  GuardedUpheal,
  type InvocationClock,
} from '#lib/limiter/guarded-upheal.ts';
import { LANES, type Lane } from '#lib/limiter/rate-limiter.ts';
import type { Logger } from '#lib/observability/logger.ts';
import type { OutboundEvent, OutboundPublisher } from '#lib/outbound/outbound-events.ts';
import type { RecordWork } from '#lib/sqs/consumer.ts';
import type { FailureRecord } from '#lib/store/failure-store.ts';
import { leaseMsFor, type UserLeases } from '#lib/store/user-lease.ts';
import {
  type AssignOutcome,
  type AssignProvidersDeps,
  assignProviders,
} from '#lib/sync/assign-providers.ts';
import { AssignmentCommandSchema } from '#lib/sync/assignment-queue.ts';
import { createsFirst, type ImportProgress } from '#lib/sync/create-mode.ts';

import { type MessageLease, messageLease } from '#lib/sync/message-lease.ts';
import type { OutcomeCause, UphealForMessage, UphealPort } from '#lib/sync/ports.ts';
import {
  type SyncOutcome,
  type SyncUserContext,
  type SyncUserDeps,
  syncUser,
} from '#lib/sync/sync-user.ts';

/** Message attributes an import message carries (set by `initial-sync`). */
export const IMPORT_ATTRIBUTES = { jobId: 'jobId', line: 'line', mode: 'mode' } as const;

/** What the sync-user work needs. */
export interface SyncUserWorkDeps extends Omit<SyncUserDeps, 'upheal'> {
  /** Upheal for each message, in its lane. */
  readonly upheal: UphealForMessage;
  readonly outbound: OutboundPublisher;
  readonly logger: Logger;
  /** One message at a time per user across the live, import and assignments queues. */
  readonly leases: UserLeases;
  readonly shareInviteUrl: boolean;
  readonly importProgress?: ImportProgress | undefined;
  /** Checks before each Upheal call of a record (time left, quarantine); none when absent. */
  readonly callGuard?: CallGuardFactory | undefined;
  /** How far in the future `occurredAt` may be; a later event fails for good, naming the field. */
  readonly maxFutureSkewMs?: number | undefined;
}

/**
 * The limiter lane of a message's calls: the work of an import job (its rows, their
 * assignments) uses the bulk lane, partner events the live lane, which is served first.
 */
export function laneOf(cause: OutcomeCause): Lane {
  return cause.jobId ? LANES.bulk : LANES.live;
}

/** The port of one record: behind its guards when the function has any. */
function guarded(
  upheal: UphealPort,
  callGuard: CallGuardFactory | undefined,
  invocation: InvocationClock | undefined,
): UphealPort {
  return callGuard ? new GuardedUpheal(upheal, callGuard(invocation)) : upheal;
}

/** The record work of `sync-user`. */
export function syncUserWork(deps: SyncUserWorkDeps): RecordWork {
  const decoded = new WeakMap<SQSRecord, PartnerEvent>();
  return {
    async run(record, invocation) {
      // Validated again here: a producer may publish to the queue directly, and a far-future
      // occurredAt would make every later event of the user look stale.
      const event = parsePartnerEventJson(record.body, `message ${record.messageId}`, {
        maxFutureSkewMs: deps.maxFutureSkewMs,
      });
      decoded.set(record, event);
      const jobId = attribute(record, IMPORT_ATTRIBUTES.jobId);
      const lane = laneOf({ jobId });
      const mode = attribute(record, IMPORT_ATTRIBUTES.mode);
      const createFirst = await createsFirst(event, jobId, mode, deps.importProgress);
      const outcome = await applyPartnerEvent(
        event,
        { claimOwner: record.messageId, eventId: event.eventId, jobId, createFirst },
        deps,
        leaseMsFor(invocation),
        (decorate) => guarded(deps.upheal(lane, decorate), deps.callGuard, invocation),
      );
      deps.logger.info('applied', {
        outcome: outcome.kind,
        partnerUserId: outcome.partnerUserId,
        uphealUserId: 'uphealUserId' in outcome ? outcome.uphealUserId : undefined,
        replayed: 'replayed' in outcome ? outcome.replayed : undefined,
        providersAssigned:
          outcome.kind === 'created' ? outcome.providersAssigned?.length : undefined,
        // A create sent without a check: one call fewer than the guide's flow.
        checkSkipped: outcome.kind === 'created' ? outcome.checkSkipped : undefined,
        eventId: event.eventId,
        eventType: event.type,
        jobId,
        lane,
      });
      const outbound = outboundOf(
        outcome,
        { eventId: jobId ? undefined : event.eventId, jobId },
        deps.shareInviteUrl,
      );
      if (outbound) await deps.outbound.publish(outbound);
      if (outcome.kind === 'created' && outcome.providersAssigned) {
        // The full list went out right after the create: the partner hears of it as of any
        // assignment.
        await deps.outbound.publish(
          providersAssignedEvent(
            { ...outcome, providerUserIds: outcome.providersAssigned },
            { eventId: jobId ? undefined : event.eventId, jobId },
          ),
        );
      }
      if (jobId) await deps.importProgress?.recordOutcome(jobId, outcome.kind);
    },
    isImportWork(record) {
      return attribute(record, IMPORT_ATTRIBUTES.jobId) !== undefined;
    },
    describe(record) {
      const event = decoded.get(record) ?? peekIds(record.body);
      const line = Number(attribute(record, IMPORT_ATTRIBUTES.line));
      return {
        operation: event?.type ?? 'sync-user',
        partnerUserId: event?.partnerUserId,
        eventId: event?.eventId,
        jobId: attribute(record, IMPORT_ATTRIBUTES.jobId),
        line: Number.isInteger(line) && line > 0 ? line : undefined,
      };
    },
    async onFailed(failure) {
      await deps.outbound.publish(failedEvent(failure));
      if (failure.jobId) await deps.importProgress?.recordOutcome(failure.jobId, 'failed');
    },
  };
}

/** Upheal for one message, built around the decoration that takes the message's lease. */
export type LeasedPort = (decorate: (port: UphealPort) => UphealPort) => UphealPort;

/**
 * Applies one partner event under the user's per-user lease (`message-lease.ts`): taken at the
 * first Upheal call, given back however the work ends. `upheal` builds the message's port around
 * the lease: in the functions, the pacer's port over the decorated client, so a message deferred
 * for a slot takes no lease.
 */
export async function applyPartnerEvent(
  event: PartnerEvent,
  context: SyncUserContext,
  deps: Omit<SyncUserDeps, 'upheal'> & { readonly leases: UserLeases },
  leaseMs: number | undefined,
  upheal: LeasedPort,
): Promise<SyncOutcome> {
  const lease = messageLease(
    deps.leases,
    deps.mappings,
    event.partnerUserId,
    context.claimOwner,
    leaseMs,
  );
  const port = upheal(lease.decorate);
  try {
    return await syncUser(event, context, { ...deps, mappings: lease.mappings, upheal: port });
  } finally {
    await releaseQuietly(lease);
  }
}

/** Reconciles a client's provider list under the client's lease (for the message `owner`). */
export async function applyAssignment(
  clientPartnerUserId: string,
  owner: string,
  deps: Omit<AssignProvidersDeps, 'upheal'> & { readonly leases: UserLeases },
  leaseMs: number | undefined,
  upheal: LeasedPort,
): Promise<AssignOutcome> {
  const lease = messageLease(deps.leases, deps.mappings, clientPartnerUserId, owner, leaseMs);
  const port = upheal(lease.decorate);
  try {
    return await assignProviders(clientPartnerUserId, {
      mappings: lease.mappings,
      upheal: port,
    });
  } finally {
    await releaseQuietly(lease);
  }
}

/**
 * Gives a lease back. A failed release only delays the user's next message until the lease runs
 * out; the work's own outcome or error is what the queue must see.
 */
async function releaseQuietly(lease: MessageLease): Promise<void> {
  await lease.release().catch(() => undefined);
}

/** What the assign-providers work needs. */
export interface AssignWorkDeps extends Omit<AssignProvidersDeps, 'upheal'> {
  /** Upheal for each message, in its lane (an import's assignments name their job). */
  readonly upheal: UphealForMessage;
  readonly outbound: OutboundPublisher;
  readonly logger: Logger;
  /** Checks before each Upheal call of a record (time left, quarantine); none when absent. */
  readonly callGuard?: CallGuardFactory | undefined;
  /** The client's lease, shared with its events on the live and import queues. */
  readonly leases: UserLeases;
}

/** The record work of `assign-providers`. */
export function assignProvidersWork(deps: AssignWorkDeps): RecordWork {
  const decoded = new WeakMap<
    SQSRecord,
    { clientPartnerUserId: string; eventId?: string; jobId?: string }
  >();
  return {
    async run(record, invocation) {
      const command = parseWith(
        AssignmentCommandSchema,
        safeJson(record.body),
        `message ${record.messageId}`,
      );
      decoded.set(record, command);
      const outcome: AssignOutcome = await applyAssignment(
        command.clientPartnerUserId,
        record.messageId,
        deps,
        leaseMsFor(invocation),
        (decorate) => guarded(deps.upheal(laneOf(command), decorate), deps.callGuard, invocation),
      );
      deps.logger.info('applied', {
        outcome: outcome.kind,
        partnerUserId: outcome.partnerUserId,
        uphealUserId: 'uphealUserId' in outcome ? outcome.uphealUserId : undefined,
        changed: 'changed' in outcome ? outcome.changed : undefined,
        eventId: command.eventId,
        jobId: command.jobId,
      });
      if (outcome.kind === 'providers-assigned') {
        await deps.outbound.publish(providersAssignedEvent(outcome, command));
      }
    },
    isImportWork(record) {
      // The command is read again by `run`; one that does not parse counts as live work.
      const parsed = AssignmentCommandSchema.safeParse(safeJson(record.body));
      return parsed.success && parsed.data.jobId !== undefined;
    },
    describe(record) {
      const command = decoded.get(record);
      return {
        operation: 'assign-providers',
        partnerUserId: command?.clientPartnerUserId,
        eventId: command?.eventId,
        jobId: command?.jobId,
      };
    },
    async onFailed(failure) {
      await deps.outbound.publish(failedEvent(failure));
    },
  };
}

/** The outbound event announcing a sync outcome, if the partner hears of that kind. */
export function outboundOf(
  outcome: SyncOutcome,
  cause: { eventId?: string | undefined; jobId?: string | undefined },
  shareInviteUrl: boolean,
): OutboundEvent | undefined {
  const base = { ...cause, occurredAt: new Date().toISOString() };
  switch (outcome.kind) {
    case 'created':
      return {
        ...base,
        type: 'user.created',
        partnerUserId: outcome.partnerUserId,
        uphealUserId: outcome.uphealUserId,
        inviteUrl: shareInviteUrl ? outcome.inviteUrl : undefined,
        unappliedFields: outcome.unappliedFields,
      };
    case 'linked':
      return {
        ...base,
        type: 'user.linked',
        partnerUserId: outcome.partnerUserId,
        uphealUserId: outcome.uphealUserId,
        unappliedFields: outcome.unappliedFields,
      };
    case 'updated':
      return {
        ...base,
        type: 'user.updated',
        partnerUserId: outcome.partnerUserId,
        uphealUserId: outcome.uphealUserId,
        changed: outcome.changed,
        unappliedFields: outcome.unappliedFields,
      };
    case 'deleted':
      return {
        ...base,
        type: 'user.deleted',
        partnerUserId: outcome.partnerUserId,
        uphealUserId: outcome.uphealUserId,
      };
    case 'delete-staged':
    case 'providers-recorded':
    case 'stale':
      return undefined;
  }
}

/** The outbound event announcing a client's provider list in Upheal. */
function providersAssignedEvent(
  assigned: { partnerUserId: string; uphealUserId: string; providerUserIds: readonly string[] },
  cause: OutcomeCause,
): OutboundEvent {
  return {
    type: 'client.providers_assigned',
    partnerUserId: assigned.partnerUserId,
    uphealUserId: assigned.uphealUserId,
    providerUserIds: [...assigned.providerUserIds],
    eventId: cause.eventId,
    jobId: cause.jobId,
    occurredAt: new Date().toISOString(),
  };
}

/** The outbound event of a permanent failure. */
function failedEvent(failure: FailureRecord): OutboundEvent {
  return {
    type: 'user.failed',
    partnerUserId: failure.partnerUserId,
    operation: failure.operation,
    status: failure.status,
    reason: failure.reason,
    eventId: failure.eventId,
    jobId: failure.jobId,
    occurredAt: failure.at,
  };
}

/** Longest id taken from an invalid message for its failure record. */
const MAX_PEEKED_ID_LENGTH = 128;

/**
 * The ids of a message that failed validation, so its failure record names the user: only the
 * envelope's id fields, and only when they look like ids (never `data`, which is clinical).
 */
function peekIds(
  body: string,
): { type?: string; partnerUserId?: string; eventId?: string } | undefined {
  const decoded = safeJson(body);
  if (!decoded || typeof decoded !== 'object') return undefined;
  const envelope = decoded as Record<string, unknown>;
  const id = (value: unknown) =>
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_PEEKED_ID_LENGTH &&
    !/\s|@/.test(value)
      ? value
      : undefined;
  return {
    type:
      typeof envelope.type === 'string' && /^[a-z_.]{1,40}$/.test(envelope.type)
        ? envelope.type
        : undefined,
    partnerUserId: id(envelope.partnerUserId),
    eventId: id(envelope.eventId),
  };
}

/** A string message attribute, if present. */
function attribute(record: SQSRecord, name: string): string | undefined {
  return record.messageAttributes[name]?.stringValue;
}

/** Parsed JSON, or the raw text when it is not JSON (the schema then names the problem). */
function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
