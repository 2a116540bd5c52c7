/**
 * DynamoDB adapter of the MappingStore port. Single-item conditional writes only (the local
 * DynamoDB, dynalite, has no transactions); a lost race becomes `false`, never an exception.
 */
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
import { claimKey, KEY, mappingKey } from '#lib/store/keys.ts';
import {
  claimOfItem,
  createEmailHash,
  leaseHolderOf,
  mappingOfItem,
  pendingOf,
  seenClaimOf,
  withoutUndefined,
} from '#lib/store/mapping-item.ts';
import type {
  MappingDraft,
  MappingLookup,
  MappingStore,
  PendingCreate,
  UserMapping,
} from '#lib/store/mapping-store.ts';
import { DynamoUserLeases } from '#lib/store/user-lease.ts';

/** BatchGetItem reads at most 100 keys per call. */
const BATCH_GET_LIMIT = 100;
/** Unprocessed keys of a BatchGetItem are retried this many times. */
const BATCH_GET_RETRIES = 5;
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

/**
 * Mappings in DynamoDB, one item per partner user (`mapping-item.ts` says what else it holds).
 * A claim is the per-user lease taken with the create's details (`user-lease.ts`).
 */
export class DynamoMappingStore implements MappingStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;
  readonly #leases: DynamoUserLeases;
  #countCache: { value: number; at: number } | undefined;

  constructor(options: DynamoMappingStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#now = options.now ?? Date.now;
    this.#leases = new DynamoUserLeases(options);
  }

  async get(partnerUserId: string): Promise<UserMapping | undefined> {
    return (await this.lookup(partnerUserId)).mapping;
  }

  async lookup(partnerUserId: string): Promise<MappingLookup> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: mappingKey(partnerUserId),
        ConsistentRead: true,
      }),
    );
    return {
      mapping: mappingOfItem(Item),
      leaseHolder: leaseHolderOf(Item, this.#now()),
      // A user with a mapping keeps its claim in an item apart: only a shell's (or no item's) is known.
      ...(Item?.rev === undefined ? { claim: seenClaimOf(Item) } : {}),
    };
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
          const mapping = mappingOfItem(item);
          if (mapping) found.set(mapping.partnerUserId, mapping);
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
    // Optimistic concurrency: the item must be exactly the revision the caller decided on (a
    // shell, holding a lease or a claim, is no revision). The put replaces the whole item, so the
    // lease and a shell's claim go with it: the holder's save gives them back.
    const condition =
      expectedRev === undefined
        ? { ConditionExpression: 'attribute_not_exists(rev)' }
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
    expectedRev?: number,
  ): Promise<boolean> {
    const grant = await this.#leases.acquire(partnerUserId, owner, {
      leaseMs,
      pending: create ?? {},
      expectMapping: expectedRev !== undefined,
    });
    if (!grant.taken) return false;
    // The write returns the item as it is now: a mapping saved since the caller read it (by a
    // worker whose lease ran out) is caught without another read.
    if (grant.mapping?.rev === expectedRev) return true;
    await this.#leases.release(partnerUserId, owner);
    return false;
  }

  async pendingCreate(partnerUserId: string): Promise<PendingCreate | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: mappingKey(partnerUserId),
        ConsistentRead: true,
      }),
    );
    if (Item?.rev === undefined) return claimOfItem(Item);
    // A user with a mapping (a tombstone being created again) keeps its claim in an item apart.
    const { Item: claim } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: claimKey(partnerUserId),
        ConsistentRead: true,
      }),
    );
    return claim === undefined ? undefined : pendingOf(claim);
  }

  async releaseClaim(partnerUserId: string): Promise<void> {
    // A shell's claim went with the mapping save; a claim item apart is deleted.
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
    // Only mapping items count (nothing else should carry the attribute, but a stray item must
    // never pass for a mapping).
    return (Items ?? []).map(mappingOfItem).find((mapping) => mapping !== undefined);
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
      for (const item of page.Items ?? []) {
        const client = mappingOfItem(item);
        if (client) clients.push(client);
      }
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

/** The partner id of a claim item's partition key (`USER#<id>`). */
function partnerIdOfClaim(pk: unknown): string | undefined {
  return typeof pk === 'string' && pk.startsWith(KEY.userPrefix)
    ? pk.slice(KEY.userPrefix.length)
    : undefined;
}
