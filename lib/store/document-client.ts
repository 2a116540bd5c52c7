/**
 * The document client every store is built on: plain objects in and out, and `undefined` fields
 * left out of items (optional fields of the domain types are simply absent in DynamoDB).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** Wraps `dynamo` as the stores expect. */
export function documentClient(dynamo: DynamoDBClient): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(dynamo, { marshallOptions: { removeUndefinedValues: true } });
}
