/**
 * The per-user lease: one conditional-write item per partner user, held by one SQS message while
 * the work of that message (a partner event, an import row or an assignment command) reads the
 * user's state, calls Upheal and writes the mapping. One user's messages on the live queue, the
 * import queue and the assignments queue are separate FIFO message groups, so SQS alone lets them
 * run at the same time; the lease makes their mutating calls mutually exclusive, so an older
 * event's `PUT` can never land after a newer one's.
 *
 * Single-item conditional writes only (dynalite has no transactions). The lease lasts until the
 * holding invocation's deadline plus a margin for clocks (Lambda stops an invocation at its
 * timeout), so a live holder never loses it, and a crashed holder's lease frees itself soon
 * after. The redelivery of the holding message (same message id) takes it back at once.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { FUNCTION_TIMEOUT_SECONDS, TABLE } from '#infra/resources.ts';
import { UserBusyError } from '#lib/errors.ts';
import { expiresAt, userLeaseKey } from '#lib/store/keys.ts';

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
/** Lease items stay in the table this long after they run out, then TTL removes them. */
const LEASE_TTL_GRACE_MS = 24 * 60 * 60 * 1000;
/**
 * A message that finds the lease taken looks again after this long (the holder usually gives it
 * back within one event's calls; the queue's deferral grows the wait if it does not).
 */
export const LEASE_BUSY_RETRY_MS = 1_000;

/** Per-user leases (the port; `DynamoUserLeases` is its adapter). */
export interface UserLeases {
  /**
   * Takes the user's lease for `owner` for `leaseMs`: free, run out, or already this owner's
   * (renewed).
   */
  acquire(partnerUserId: string, owner: string, leaseMs?: number): Promise<boolean>;
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

/** Per-user leases in DynamoDB, item `USER#<partnerUserId>` / `LEASE`. */
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

  async acquire(partnerUserId: string, owner: string, leaseMs?: number): Promise<boolean> {
    const now = this.#now();
    const lengthMs = leaseMs ?? this.#leaseMs;
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...userLeaseKey(partnerUserId),
            owner,
            leaseUntil: now + lengthMs,
            [TABLE.ttlAttribute]: expiresAt(now, lengthMs + LEASE_TTL_GRACE_MS),
          },
          // Free, run out (its holder died), or ours (a redelivery of the holding message).
          ConditionExpression: 'attribute_not_exists(pk) OR leaseUntil < :now OR #owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':now': now, ':owner': owner },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async release(partnerUserId: string, owner: string): Promise<void> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: userLeaseKey(partnerUserId),
          // Never another holder's lease (ours may have run out and been taken meanwhile).
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

/**
 * Runs `work` holding the user's lease, and gives the lease back however the work ends (an
 * exception included: a deferral or a retry must not keep others waiting). A lease held by
 * another message is a wait like any dependency (`UserBusyError`, a `NotReadyError`), so the
 * message is deferred without counting as a failed attempt; unlike a dependency, it never ends in
 * a failure when the dependency wait runs out, since the holder is gone within a lease's length.
 */
export async function withUserLease<T>(
  leases: UserLeases,
  partnerUserId: string,
  owner: string,
  work: () => Promise<T>,
  leaseMs?: number,
): Promise<T> {
  if (!(await leases.acquire(partnerUserId, owner, leaseMs))) {
    throw new UserBusyError(
      `user ${partnerUserId} is being changed by another message`,
      LEASE_BUSY_RETRY_MS,
      Math.max(USER_LEASE_MS, leaseMs ?? 0),
    );
  }
  let outcome: { value: T } | undefined;
  try {
    outcome = { value: await work() };
  } finally {
    if (outcome) {
      await leases.release(partnerUserId, owner);
    } else {
      // The work's own error is what the queue must see; a failed release only delays the
      // user's next message until the lease runs out.
      await leases.release(partnerUserId, owner).catch(() => undefined);
    }
  }
  return outcome.value;
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
