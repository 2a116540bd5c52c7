/**
 * DynamoDB adapter of the MappingStore port. Single-item conditional writes only (the local
 * DynamoDB, dynalite, has no transactions); a lost race becomes `false`, never an exception.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
} from '@aws-sdk/lib-dynamodb';
import { TABLE } from '#infra/resources.ts';
import { claimKey, expiresAt, KEY, mappingKey } from '#lib/store/keys.ts';
import type {
  MappingDraft,
  MappingStore,
  PendingCreate,
  UserKind,
  UserMapping,
} from '#lib/store/mapping-store.ts';

/** BatchGetItem reads at most 100 keys per call. */
const BATCH_GET_LIMIT = 100;
/** Unprocessed keys of a BatchGetItem are retried this many times. */
const BATCH_GET_RETRIES = 5;
/** Claims outlive their lease by this much in the table, then TTL removes them. */
const CLAIM_TTL_GRACE_MS = 24 * 60 * 60 * 1000;
/** A claim of the same owner is renewed (written again) only when less than this share is left. */
const CLAIM_RENEW_SHARE = 0.5;
/** The active-user count is cached this long per process (it is a scan of the reverse index). */
const COUNT_CACHE_MS = 60_000;

/** Options of the DynamoDB mapping store. */
export interface DynamoMappingStoreOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly now?: () => number;
}

/** Stored attributes of a mapping item (the domain shape plus keys). */
type MappingItem = UserMapping & { pk: string; sk: string; deletedUphealUserId?: string };

/** Mappings in DynamoDB, one item per partner user. */
export class DynamoMappingStore implements MappingStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;
  #countCache: { value: number; at: number } | undefined;

  constructor(options: DynamoMappingStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#now = options.now ?? Date.now;
  }

  async get(partnerUserId: string): Promise<UserMapping | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: mappingKey(partnerUserId),
        ConsistentRead: true,
      }),
    );
    return Item ? fromItem(Item as MappingItem) : undefined;
  }

  async getMany(partnerUserIds: readonly string[]): Promise<Map<string, UserMapping>> {
    const found = new Map<string, UserMapping>();
    const unique = [...new Set(partnerUserIds)];
    for (let start = 0; start < unique.length; start += BATCH_GET_LIMIT) {
      let keys: Record<string, unknown>[] = unique
        .slice(start, start + BATCH_GET_LIMIT)
        .map((id) => ({ ...mappingKey(id) }));
      for (let attempt = 0; keys.length > 0 && attempt <= BATCH_GET_RETRIES; attempt++) {
        const result = await this.#client.send(
          new BatchGetCommand({
            RequestItems: { [this.#table]: { Keys: keys, ConsistentRead: true } },
          }),
        );
        for (const item of result.Responses?.[this.#table] ?? []) {
          const mapping = fromItem(item as MappingItem);
          found.set(mapping.partnerUserId, mapping);
        }
        keys = (result.UnprocessedKeys?.[this.#table]?.Keys ?? []) as Record<string, unknown>[];
      }
      if (keys.length > 0) throw new Error('DynamoDB left keys unprocessed after retries');
    }
    return found;
  }

  async save(draft: MappingDraft, expectedRev: number | undefined): Promise<boolean> {
    const item: MappingItem = {
      ...mappingKey(draft.partnerUserId),
      ...withoutUndefined(draft),
      rev: (expectedRev ?? 0) + 1,
      updatedAt: new Date(this.#now()).toISOString(),
    };
    // A tombstone keeps the deleted user's id out of the reverse index, so the index (and the
    // delete guard's count) holds active users only.
    if (draft.state === 'deleted' && draft.uphealUserId) {
      item.deletedUphealUserId = draft.uphealUserId;
      delete (item as { uphealUserId?: string }).uphealUserId;
    }
    // Optimistic concurrency: the item must be exactly the revision the caller decided on.
    const condition =
      expectedRev === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk)' }
        : {
            ConditionExpression: 'rev = :expectedRev',
            ExpressionAttributeValues: { ':expectedRev': expectedRev },
          };
    try {
      await this.#client.send(new PutCommand({ TableName: this.#table, Item: item, ...condition }));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async claim(
    partnerUserId: string,
    owner: string,
    leaseMs: number,
    create?: PendingCreate,
  ): Promise<boolean> {
    const now = this.#now();
    // A read first (a fifth of a write's price): a redelivery of the message that holds the claim
    // (a deferral for a slot, say) needs no write while at least half the lease is left, and a
    // claim held by another worker is answered without a failed conditional write.
    const { Item: held } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: claimKey(partnerUserId),
        ConsistentRead: true,
      }),
    );
    if (held !== undefined && held.leaseUntil >= now) {
      if (held.owner !== owner) return false;
      if (held.leaseUntil - now >= leaseMs * CLAIM_RENEW_SHARE) return true;
    }
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...claimKey(partnerUserId),
            owner,
            leaseUntil: now + leaseMs,
            ...(create?.email === undefined
              ? {}
              : {
                  createEmail: create.email,
                  [TABLE.createEmailIndex.partitionKey]: createEmailHash(create.email),
                }),
            ...(create?.fields?.length ? { createFields: [...create.fields] } : {}),
            ...(create?.version
              ? { createVersionMs: create.version.ms, createVersionEventId: create.version.eventId }
              : {}),
            [TABLE.ttlAttribute]: expiresAt(now, leaseMs + CLAIM_TTL_GRACE_MS),
          },
          // Free, expired, or already ours (a redelivery of the same message keeps its claim).
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

  async pendingCreate(partnerUserId: string): Promise<PendingCreate | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: claimKey(partnerUserId),
        ConsistentRead: true,
      }),
    );
    if (Item === undefined) return undefined;
    const fields: unknown = Item.createFields;
    return {
      email: typeof Item.createEmail === 'string' ? Item.createEmail : undefined,
      fields: Array.isArray(fields) ? fields.filter((name) => typeof name === 'string') : undefined,
      version:
        typeof Item.createVersionMs === 'number' && typeof Item.createVersionEventId === 'string'
          ? { ms: Item.createVersionMs, eventId: Item.createVersionEventId }
          : undefined,
    };
  }

  async releaseClaim(partnerUserId: string): Promise<void> {
    await this.#client.send(
      new DeleteCommand({ TableName: this.#table, Key: claimKey(partnerUserId) }),
    );
  }

  async createClaimantsOf(email: string): Promise<string[]> {
    const { Items = [] } = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: TABLE.createEmailIndex.name,
        KeyConditionExpression: '#hash = :hash',
        ExpressionAttributeNames: { '#hash': TABLE.createEmailIndex.partitionKey },
        ExpressionAttributeValues: { ':hash': createEmailHash(email) },
      }),
    );
    return Items.flatMap((item) => {
      const partnerUserId = partnerIdOfClaim(item[TABLE.partitionKey]);
      return partnerUserId === undefined ? [] : [partnerUserId];
    });
  }

  async findByUphealId(uphealUserId: string): Promise<UserMapping | undefined> {
    const { Items } = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        IndexName: TABLE.reverseIndex.name,
        KeyConditionExpression: '#id = :id',
        ExpressionAttributeNames: { '#id': TABLE.reverseIndex.partitionKey },
        ExpressionAttributeValues: { ':id': uphealUserId },
      }),
    );
    const item = Items?.[0];
    return item ? fromItem(item as MappingItem) : undefined;
  }

  async clientsOf(providerPartnerUserId: string): Promise<UserMapping[]> {
    const clients: UserMapping[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new ScanCommand({
          TableName: this.#table,
          FilterExpression:
            'sk = :mapping AND kind = :client AND contains(desiredProviders, :provider)',
          ExpressionAttributeValues: {
            ':mapping': KEY.mappingSk,
            ':client': 'client',
            ':provider': providerPartnerUserId,
          },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) clients.push(fromItem(item as MappingItem));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return clients;
  }

  async countActive(): Promise<number> {
    const now = this.#now();
    if (this.#countCache && now - this.#countCache.at < COUNT_CACHE_MS)
      return this.#countCache.value;
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new ScanCommand({
          TableName: this.#table,
          IndexName: TABLE.reverseIndex.name,
          Select: 'COUNT',
          ExclusiveStartKey: startKey,
        }),
      );
      count += page.Count ?? 0;
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    this.#countCache = { value: count, at: now };
    return count;
  }
}

/** The domain mapping of a stored item (keys and storage-only attributes dropped). */
function fromItem(item: MappingItem): UserMapping {
  const { pk: _pk, sk: _sk, deletedUphealUserId, ...mapping } = item;
  return {
    ...mapping,
    kind: mapping.kind as UserKind,
    uphealUserId: mapping.uphealUserId ?? deletedUphealUserId,
  };
}

/** DynamoDB rejects `undefined` attribute values; drop them. */
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The index key of a create's email: a digest of the normalised email, so the index never holds
 * the address itself (the claim item does, until its TTL).
 */
function createEmailHash(email: string): string {
  return createHash('sha256').update(`create-email:${email.trim().toLowerCase()}`).digest('hex');
}

/** The partner id of a claim item's partition key (`USER#<id>`). */
function partnerIdOfClaim(pk: unknown): string | undefined {
  return typeof pk === 'string' && pk.startsWith(KEY.userPrefix)
    ? pk.slice(KEY.userPrefix.length)
    : undefined;
}
