/**
 * DynamoDB adapter of the StagedDeletes port: one item per staged user under `DELETES`. An
 * operator's approval re-sends the delete event; `sync-user` then consumes the approval and runs
 * the delete past the guard.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { KEY } from '#lib/store/keys.ts';
import type { StagedDelete, StagedDeletes } from '#lib/sync/ports.ts';

/** Staged deletes in DynamoDB. */
export class DynamoStagedDeletes implements StagedDeletes {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #now: () => number;

  constructor(client: DynamoDBDocumentClient, tableName: string, now: () => number = Date.now) {
    this.#client = client;
    this.#table = tableName;
    this.#now = now;
  }

  async stage(entry: Omit<StagedDelete, 'stagedAt' | 'approved'>): Promise<void> {
    const item: StagedDelete = {
      ...entry,
      stagedAt: new Date(this.#now()).toISOString(),
      approved: false,
    };
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: { pk: KEY.deletesPk, sk: entry.partnerUserId, ...item },
      }),
    );
  }

  async consumeApproval(partnerUserId: string, eventId: string): Promise<boolean> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk: KEY.deletesPk, sk: partnerUserId },
          // Only an approved entry for this very event lets the delete pass the guard.
          ConditionExpression: 'approved = :yes AND eventId = :eventId',
          ExpressionAttributeValues: { ':yes': true, ':eventId': eventId },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async list(): Promise<StagedDelete[]> {
    const items: StagedDelete[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': KEY.deletesPk },
          ExclusiveStartKey: startKey,
          ConsistentRead: true,
        }),
      );
      for (const item of page.Items ?? []) items.push(toStaged(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return items;
  }

  async approve(partnerUserId: string): Promise<StagedDelete | undefined> {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: { pk: KEY.deletesPk, sk: partnerUserId },
          UpdateExpression: 'SET approved = :yes',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':yes': true },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes ? toStaged(Attributes) : undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async reject(partnerUserId: string): Promise<boolean> {
    try {
      await this.#client.send(
        new DeleteCommand({
          TableName: this.#table,
          Key: { pk: KEY.deletesPk, sk: partnerUserId },
          ConditionExpression: 'attribute_exists(pk)',
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

/** The domain shape of a stored item. */
function toStaged(item: Record<string, unknown>): StagedDelete {
  return {
    partnerUserId: String(item.partnerUserId),
    uphealUserId: String(item.uphealUserId),
    eventId: String(item.eventId),
    occurredAt: String(item.occurredAt),
    stagedAt: String(item.stagedAt),
    approved: item.approved === true,
  };
}
