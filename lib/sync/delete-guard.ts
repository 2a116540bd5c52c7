/**
 * DynamoDB adapter of the DeleteGuard port: deletes are counted per fixed window in
 * one item; the count may only grow while it stays under the threshold, which is the smaller of
 * a fixed count and a share of the mapped users. One atomic conditional update per delete.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { TABLE } from '#infra/resources.ts';
import { expiresAt, KEY } from '#lib/store/keys.ts';
import type { MappingStore } from '#lib/store/mapping-store.ts';
import type { DeleteGuard } from '#lib/sync/ports.ts';

/** Thresholds of the guard. */
export interface DeleteGuardOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly mappings: Pick<MappingStore, 'countActive'>;
  /** Most deletes per window. */
  readonly maxCount: number;
  /** Most deletes per window as a share of mapped users. */
  readonly maxShare: number;
  readonly windowMs: number;
  readonly now?: () => number;
}

/** Counts deletes per window and refuses the one that would cross the threshold. */
export class DynamoDeleteGuard implements DeleteGuard {
  readonly #options: DeleteGuardOptions;
  readonly #now: () => number;

  constructor(options: DeleteGuardOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  async admit(): Promise<boolean> {
    const { client, tableName, mappings, maxCount, maxShare, windowMs } = this.#options;
    const now = this.#now();
    const windowStart = now - (now % windowMs);
    const threshold = Math.min(maxCount, Math.floor(maxShare * (await mappings.countActive())));
    if (threshold <= 0) return false;
    try {
      await client.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: KEY.deleteGuardPk, sk: String(windowStart) },
          UpdateExpression: 'ADD deletes :one SET #ttl = :ttl',
          // Admit while this window's count is below the threshold.
          ConditionExpression: 'attribute_not_exists(deletes) OR deletes < :threshold',
          ExpressionAttributeNames: { '#ttl': TABLE.ttlAttribute },
          ExpressionAttributeValues: {
            ':one': 1,
            ':threshold': threshold,
            ':ttl': expiresAt(windowStart, 2 * windowMs),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
