/**
 * Key builders of the sync's items in the single table described in `infra/resources.ts`
 * (mappings, claims, attempts, failures, staged deletes, the delete guard, jobs). The limiter's
 * item (`LIMITER_KEY`) and the ingest nonces (`NONCE_KEY`) are keyed beside their own code.
 */

/** Sort keys and partition-key prefixes of the item kinds. */
export const KEY = {
  userPrefix: 'USER#',
  mappingSk: 'MAPPING',
  claimSk: 'CLAIM',
  failuresPk: 'FAILURES',
  deletesPk: 'DELETES',
  deleteGuardPk: 'DELETEGUARD',
  attemptsPrefix: 'ATTEMPTS#',
  attemptsSk: 'COUNT',
  jobPrefix: 'JOB#',
  jobSk: 'JOB',
  jobFailurePrefix: 'FAIL#',
} as const;

/** A table key. */
export interface TableKey {
  readonly pk: string;
  readonly sk: string;
}

/** The mapping item of a partner user. */
export const mappingKey = (partnerUserId: string): TableKey => ({
  pk: `${KEY.userPrefix}${partnerUserId}`,
  sk: KEY.mappingSk,
});

/**
 * The create claim of a partner user that has a mapping item already (a tombstone being created
 * again); a first create's claim and every lease live on the mapping item (`mapping-item.ts`).
 */
export const claimKey = (partnerUserId: string): TableKey => ({
  pk: `${KEY.userPrefix}${partnerUserId}`,
  sk: KEY.claimSk,
});

/** The retry counter of one SQS message (real failures only; deferrals don't count). */
export const attemptsKey = (messageId: string): TableKey => ({
  pk: `${KEY.attemptsPrefix}${messageId}`,
  sk: KEY.attemptsSk,
});

/** Epoch seconds for DynamoDB's TTL attribute, `ttlMs` from `nowMs`. */
export const expiresAt = (nowMs: number, ttlMs: number): number =>
  Math.ceil((nowMs + ttlMs) / 1000);
