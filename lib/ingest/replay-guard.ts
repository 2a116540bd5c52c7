/**
 * Replay protection for signed ingest requests. The signature's timestamp bounds a replay to the
 * replay window; within the window, each signed request is accepted once. The record of "seen"
 * requests lives in the DynamoDB table, not in memory, because every Lambda instance must see it.
 *
 * Item: `pk = INGEST#<digest of the signed content>`, `sk = NONCE`, `expiresAt` (epoch seconds,
 * the table's TTL attribute). DynamoDB's TTL deletes lazily (up to days later), so the condition
 * also treats an item past its `expiresAt` as absent.
 */
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { NONCE_KEY, TABLE } from '#infra/resources.ts';
import { MS_PER_SECOND } from '#lib/time.ts';

/** Partition-key prefix of nonce items. */
export const NONCE_PK_PREFIX = NONCE_KEY.pkPrefix;

/** Sort key of nonce items. */
export const NONCE_SK = NONCE_KEY.sk;

/** Records signed requests already accepted. */
export interface NonceStore {
  /**
   * Records `nonce` until `expiresAtMs`. Resolves true the first time, false when the nonce is
   * already recorded and not yet expired (a replay).
   */
  claim(nonce: string, expiresAtMs: number, nowMs: number): Promise<boolean>;
  /** Forgets `nonce`, so the same signed request may be retried (used when we answered 5xx). */
  release(nonce: string): Promise<void>;
}

/** Condition parts of the claim: the item is new, or the one there has outlived its TTL. */
const CONDITIONS = {
  absent: `attribute_not_exists(${TABLE.partitionKey})`,
  expired: `${TABLE.ttlAttribute} < :now`,
} as const;

/**
 * The NonceStore on the product's DynamoDB table (one conditional PutItem per request). `prefix`
 * keeps the nonces of different endpoints apart (and lets IAM scope each to its own items).
 */
export function dynamoNonceStore(
  client: DynamoDBClient,
  tableName: string,
  prefix: string = NONCE_PK_PREFIX,
): NonceStore {
  const key = (nonce: string) => ({
    [TABLE.partitionKey]: { S: `${prefix}${nonce}` },
    [TABLE.sortKey]: { S: NONCE_SK },
  });
  return {
    async claim(nonce, expiresAtMs, nowMs) {
      try {
        await client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: {
              ...key(nonce),
              [TABLE.ttlAttribute]: { N: String(Math.ceil(expiresAtMs / MS_PER_SECOND)) },
            },
            ConditionExpression: `${CONDITIONS.absent} OR ${CONDITIONS.expired}`,
            ExpressionAttributeValues: { ':now': { N: String(Math.floor(nowMs / MS_PER_SECOND)) } },
          }),
        );
        return true;
      } catch (error) {
        if (error instanceof ConditionalCheckFailedException) return false;
        throw error;
      }
    },
    async release(nonce) {
      await client.send(new DeleteItemCommand({ TableName: tableName, Key: key(nonce) }));
    },
  };
}
