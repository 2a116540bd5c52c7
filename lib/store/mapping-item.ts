/**
 * The stored shape of a partner user's item (`USER#<id>` / `MAPPING`) shared by the mapping
 * store and the per-user lease, which both write it. Besides the mapping itself the item carries
 * the user's lease (`leaseOwner`, `leaseUntil`) and, while the user has no mapping yet, the create
 * claim (`claimedAt`, `createEmail`, `createFields`, `createEmailHash`, and the version of its
 * event, `createVersionMs` and `createVersionEventId`) and a TTL: such a "shell" item has no
 * `rev`, is no mapping to any reader, and is replaced whole by the first mapping save.
 */
import { createHash } from 'node:crypto';
import { TABLE } from '#infra/resources.ts';
import type { PendingCreate, SeenClaim, UserKind, UserMapping } from '#lib/store/mapping-store.ts';

/** Attribute names of the lease and the claim on the user's item. */
export const ITEM = {
  leaseOwner: 'leaseOwner',
  leaseUntil: 'leaseUntil',
  claimedAt: 'claimedAt',
  createEmail: 'createEmail',
  createFields: 'createFields',
  createVersionMs: 'createVersionMs',
  createVersionEventId: 'createVersionEventId',
} as const;

/** Attributes that are storage only: never part of the domain mapping. */
const STORAGE_ONLY = new Set<string>([
  'pk',
  'sk',
  'deletedUphealUserId',
  ...Object.values(ITEM),
  TABLE.createEmailIndex.partitionKey,
  TABLE.ttlAttribute,
]);

/** The domain mapping of a stored item; undefined for a shell (lease or claim, no mapping yet). */
export function mappingOfItem(item: Record<string, unknown> | undefined): UserMapping | undefined {
  if (item === undefined || item.rev === undefined) return undefined;
  const mapping = Object.fromEntries(
    Object.entries(item).filter(([name]) => !STORAGE_ONLY.has(name)),
  ) as unknown as UserMapping;
  const deletedUphealUserId = item.deletedUphealUserId as string | undefined;
  return {
    ...mapping,
    kind: mapping.kind as UserKind,
    uphealUserId: mapping.uphealUserId ?? deletedUphealUserId,
  };
}

/** The create claim a shell item holds, if any. */
export function claimOfItem(item: Record<string, unknown> | undefined): PendingCreate | undefined {
  if (item === undefined || item[ITEM.claimedAt] === undefined) return undefined;
  return pendingOf(item);
}

/** The claim a shell item (or no item) holds, as a read saw it: what it was sent with, and when. */
export function seenClaimOf(item: Record<string, unknown> | undefined): SeenClaim {
  const claimedAt = item?.[ITEM.claimedAt];
  return {
    pending: claimOfItem(item),
    claimedAt: typeof claimedAt === 'number' ? claimedAt : undefined,
  };
}

/** A stored claim's email and field names (a shell item or a claim item alike). */
export function pendingOf(item: Record<string, unknown>): PendingCreate {
  const email = item[ITEM.createEmail];
  const fields = item[ITEM.createFields];
  const versionMs = item[ITEM.createVersionMs];
  const versionEventId = item[ITEM.createVersionEventId];
  return {
    email: typeof email === 'string' ? email : undefined,
    fields: Array.isArray(fields) ? fields.filter((name) => typeof name === 'string') : undefined,
    version:
      typeof versionMs === 'number' && typeof versionEventId === 'string'
        ? { ms: versionMs, eventId: versionEventId }
        : undefined,
  };
}

/** The owner of the item's lease while it has not run out. */
export function leaseHolderOf(
  item: Record<string, unknown> | undefined,
  now: number,
): string | undefined {
  const until = item?.[ITEM.leaseUntil];
  const owner = item?.[ITEM.leaseOwner];
  return typeof until === 'number' && until >= now && typeof owner === 'string' ? owner : undefined;
}

/** True when another owner holds the item's lease and it has not run out. */
export function leaseHeldByOther(
  item: Record<string, unknown> | undefined,
  owner: string,
  now: number,
): boolean {
  const holder = leaseHolderOf(item, now);
  return holder !== undefined && holder !== owner;
}

/**
 * The index key of a create's email: a digest of the normalised email, so the index never holds
 * the address itself (the claim does, until the mapping is saved or the TTL removes it).
 */
export function createEmailHash(email: string): string {
  return createHash('sha256').update(`create-email:${email.trim().toLowerCase()}`).digest('hex');
}

/** DynamoDB rejects `undefined` attribute values; drop them. */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
