/**
 * The per-user lease: held by one SQS message while the work of that message (a partner event,
 * an import row or an assignment command) changes the user — its Upheal calls that change
 * something and its mapping writes. One user's messages on the live queue, the import queue and
 * the assignments queue are separate FIFO message groups, so SQS alone lets them run at the same
 * time; the lease makes their changes mutually exclusive, so an older event's `PUT` can never
 * land after a newer one's.
 *
 * The lease lives on the user's mapping item (`mapping-item.ts`), so taking it is one conditional
 * write that also returns the mapping as it is now (the holder re-validates its decision without
 * another read), and the holder's mapping save — a whole-item put — gives it back. Only work that
 * ends without a save pays a second write to give it back. A create claim rides on the same write.
 * A user with no mapping yet gets a "shell" item holding the lease and the claim, with a TTL.
 *
 * Single-item conditional writes only (dynalite has no transactions). The lease lasts until the
 * holding invocation's deadline plus a margin for clocks (Lambda stops an invocation at its
 * timeout), so a live holder never loses it, and a crashed holder's lease frees itself soon
 * after. The redelivery of the holding message (same message id) takes it back at once.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { FUNCTION_TIMEOUT_SECONDS, TABLE } from '#infra/resources.ts';
import { claimKey, expiresAt, mappingKey } from '#lib/store/keys.ts';
import { createEmailHash, ITEM, leaseHeldByOther, mappingOfItem } from '#lib/store/mapping-item.ts';
import type { PendingCreate, UserMapping } from '#lib/store/mapping-store.ts';

/**
 * How long a lease lasts when the holder's deadline is unknown (no Lambda context): twice the
 * longest timeout of the functions that take it, so it cannot run out under a live invocation.
 */
export const USER_LEASE_MS =
  2 *
  1_000 *
  Math.max(FUNCTION_TIMEOUT_SECONDS['sync-user'], FUNCTION_TIMEOUT_SECONDS['assign-providers']);
/** Added to an invocation's remaining time: clocks of Lambda hosts may differ this much. */
export const LEASE_CLOCK_MARGIN_MS = 2_000;
/**
 * A shell item (lease or claim of a user with no mapping) and a claim item stay this long after
 * the lease runs out, then TTL removes them with the email a claim remembered.
 */
const CLAIM_TTL_GRACE_MS = 24 * 60 * 60 * 1000;
/**
 * A message that finds the lease taken looks again after this long (the holder usually gives it
 * back within one event's calls; the queue's deferral grows the wait if it does not).
 */
export const LEASE_BUSY_RETRY_MS = 1_000;

/** What taking a lease gave: the user's mapping as it is now, or a busy user. */
export type LeaseGrant =
  | { readonly taken: true; readonly mapping: UserMapping | undefined }
  | { readonly taken: false };

/** How to take a lease. */
export interface AcquireOptions {
  /** Lease length (default: the store's). */
  readonly leaseMs?: number | undefined;
  /** A create about to be sent: claimed with the lease, remembered for a retry to find the user. */
  readonly pending?: PendingCreate | undefined;
  /** Whether the caller last saw a mapping (a saved item): saves a retried write when right. */
  readonly expectMapping?: boolean | undefined;
  /**
   * With `pending` on a user with no mapping: the claim the caller's decision rests on (`null`:
   * none), by its `claimedAt`. A different claim on the item (another message claimed a create
   * since the caller read it) fails the write, and the user is reported busy: the caller starts
   * over from a fresh read, so no claim it did not see is ever replaced.
   */
  readonly expectClaimedAt?: number | null | undefined;
}

/** Per-user leases (the port; `DynamoUserLeases` is its adapter). */
export interface UserLeases {
  /**
   * Takes the user's lease for `owner`: free, run out, or already this owner's (renewed), and
   * claims the create when `pending` is given.
   */
  acquire(partnerUserId: string, owner: string, options?: AcquireOptions): Promise<LeaseGrant>;
  /** Gives the lease back, if `owner` still holds it. */
  release(partnerUserId: string, owner: string): Promise<void>;
}

/** Options of the DynamoDB lease store. */
export interface DynamoUserLeasesOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Lease length (default USER_LEASE_MS). */
  readonly leaseMs?: number;
  readonly now?: () => number;
}

/** Per-user leases on the mapping items in DynamoDB. */
export class DynamoUserLeases implements UserLeases {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #leaseMs: number;
  readonly #now: () => number;

  constructor(options: DynamoUserLeasesOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#leaseMs = options.leaseMs ?? USER_LEASE_MS;
    this.#now = options.now ?? Date.now;
  }

  async acquire(
    partnerUserId: string,
    owner: string,
    options: AcquireOptions = {},
  ): Promise<LeaseGrant> {
    const now = this.#now();
    const lengthMs = options.leaseMs ?? this.#leaseMs;
    let mapped = options.expectMapping ?? false;
    // At most twice: a failed condition that is not another holder means the item is of the
    // other shape (a mapping was saved, or a shell is all there is), known after one read.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const item = await this.#write(
          partnerUserId,
          owner,
          now,
          lengthMs,
          mapped,
          options.pending,
          options.expectClaimedAt,
        );
        // A user with a mapping (a tombstone being created again) keeps its claim apart.
        if (mapped && options.pending)
          await this.#claimItem(partnerUserId, owner, now, lengthMs, options.pending);
        return { taken: true, mapping: mappingOfItem(item) };
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
      const { Item } = await this.#client.send(
        new GetCommand({
          TableName: this.#table,
          Key: mappingKey(partnerUserId),
          ConsistentRead: true,
        }),
      );
      if (leaseHeldByOther(Item, owner, now)) return { taken: false };
      mapped = Item?.rev !== undefined;
      // Another claim than the one the caller saw: writing again would fail the same way.
      if (!mapped && options.pending && options.expectClaimedAt !== undefined) {
        const claimedAt = Item?.[ITEM.claimedAt];
        if ((claimedAt ?? null) !== options.expectClaimedAt) return { taken: false };
      }
    }
    return { taken: false };
  }

  async release(partnerUserId: string, owner: string): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: mappingKey(partnerUserId),
          UpdateExpression: 'REMOVE #owner, #until',
          // Never another holder's lease (ours may have run out and been taken meanwhile).
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': ITEM.leaseOwner, '#until': ITEM.leaseUntil },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /**
   * One conditional update of the user's item: the lease (free, run out, or this owner's), on a
   * shell also the claim and the TTL. The item's shape is part of the condition, so a shell's TTL
   * never lands on a mapping. Returns the item as written.
   */
  async #write(
    partnerUserId: string,
    owner: string,
    now: number,
    lengthMs: number,
    mapped: boolean,
    pending: PendingCreate | undefined,
    expectClaimedAt: number | null | undefined,
  ): Promise<Record<string, unknown> | undefined> {
    const names: Record<string, string> = {
      '#owner': ITEM.leaseOwner,
      '#until': ITEM.leaseUntil,
      '#rev': 'rev',
    };
    const values: Record<string, unknown> = {
      ':owner': owner,
      ':until': now + lengthMs,
      ':now': now,
    };
    const set = ['#owner = :owner', '#until = :until'];
    const remove: string[] = [];
    if (!mapped) {
      names['#ttl'] = TABLE.ttlAttribute;
      values[':ttl'] = expiresAt(now, lengthMs + CLAIM_TTL_GRACE_MS);
      set.push('#ttl = :ttl');
      if (pending) claimUpdate(pending, now, names, values, set, remove);
    }
    let sameClaim = '';
    if (!mapped && pending && expectClaimedAt !== undefined) {
      names['#claimedAt'] = ITEM.claimedAt;
      if (expectClaimedAt === null) sameClaim = ' AND attribute_not_exists(#claimedAt)';
      else {
        values[':seenClaimedAt'] = expectClaimedAt;
        sameClaim = ' AND #claimedAt = :seenClaimedAt';
      }
    }
    const { Attributes } = await this.#client.send(
      new UpdateCommand({
        TableName: this.#table,
        Key: mappingKey(partnerUserId),
        UpdateExpression: `SET ${set.join(', ')}${remove.length ? ` REMOVE ${remove.join(', ')}` : ''}`,
        ConditionExpression: `(attribute_not_exists(#until) OR #until < :now OR #owner = :owner) AND ${
          mapped ? 'attribute_exists(#rev)' : 'attribute_not_exists(#rev)'
        }${sameClaim}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
      }),
    );
    return Attributes;
  }

  /** The claim of a user that has a mapping item already: an item of its own, with a TTL. */
  async #claimItem(
    partnerUserId: string,
    owner: string,
    now: number,
    lengthMs: number,
    pending: PendingCreate,
  ): Promise<void> {
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          ...claimKey(partnerUserId),
          [ITEM.leaseOwner]: owner,
          [ITEM.claimedAt]: now,
          ...(pending.email === undefined
            ? {}
            : {
                [ITEM.createEmail]: pending.email,
                [TABLE.createEmailIndex.partitionKey]: createEmailHash(pending.email),
              }),
          ...(pending.fields?.length ? { [ITEM.createFields]: [...pending.fields] } : {}),
          ...(pending.version
            ? {
                [ITEM.createVersionMs]: pending.version.ms,
                [ITEM.createVersionEventId]: pending.version.eventId,
              }
            : {}),
          [TABLE.ttlAttribute]: expiresAt(now, lengthMs + CLAIM_TTL_GRACE_MS),
        },
      }),
    );
  }
}

/** Adds a claim's attributes to an update: what it was sent with replaces any earlier claim's. */
function claimUpdate(
  pending: PendingCreate,
  now: number,
  names: Record<string, string>,
  values: Record<string, unknown>,
  set: string[],
  remove: string[],
): void {
  names['#claimedAt'] = ITEM.claimedAt;
  names['#email'] = ITEM.createEmail;
  names['#hash'] = TABLE.createEmailIndex.partitionKey;
  names['#fields'] = ITEM.createFields;
  values[':claimedAt'] = now;
  set.push('#claimedAt = :claimedAt');
  if (pending.email === undefined) {
    remove.push('#email', '#hash');
  } else {
    values[':email'] = pending.email;
    values[':hash'] = createEmailHash(pending.email);
    set.push('#email = :email', '#hash = :hash');
  }
  if (pending.fields?.length) {
    values[':fields'] = [...pending.fields];
    set.push('#fields = :fields');
  } else {
    remove.push('#fields');
  }
  names['#versionMs'] = ITEM.createVersionMs;
  names['#versionEventId'] = ITEM.createVersionEventId;
  if (pending.version) {
    values[':versionMs'] = pending.version.ms;
    values[':versionEventId'] = pending.version.eventId;
    set.push('#versionMs = :versionMs', '#versionEventId = :versionEventId');
  } else {
    remove.push('#versionMs', '#versionEventId');
  }
}

/**
 * The lease length for work done within a Lambda invocation: its remaining time plus the clock
 * margin (the invocation cannot outlive it); without a context, the store's default.
 */
export function leaseMsFor(
  invocation: Pick<Context, 'getRemainingTimeInMillis'> | undefined,
): number | undefined {
  if (!invocation) return undefined;
  return Math.max(0, invocation.getRemainingTimeInMillis()) + LEASE_CLOCK_MARGIN_MS;
}
