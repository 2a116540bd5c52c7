/**
 * The job ledger on a real DynamoDB (dynalite over HTTP), with recorders standing in for the
 * control queue and the outbound publisher (their SQS side is covered by the integration tests).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { ControlMessage, ControlQueue } from '#lib/jobs/control-messages.ts';
import type { LedgerDeps } from '#lib/jobs/import-progress.ts';
import { DynamoJobStore } from '#lib/jobs/job-store.ts';
import type { OutboundEvent, OutboundPublisher } from '#lib/outbound/outbound-events.ts';
import { documentClient } from '#lib/store/document-client.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { createTable, startDynamoDb } from '#tools/local/aws-services.ts';
import { localClientConfig } from '#tools/local/stack.ts';

/** The table the fixture creates. */
export const TABLE_NAME = 'upheal-sync-test-state';

/** Control messages sent, in order. */
export class RecordingControlQueue implements ControlQueue {
  readonly sent: ControlMessage[] = [];
  async send(message: ControlMessage): Promise<void> {
    this.sent.push(message);
  }
}

/** Outbound events published, in order. */
export class RecordingOutbound implements OutboundPublisher {
  readonly published: OutboundEvent[] = [];
  async publish(event: OutboundEvent): Promise<void> {
    this.published.push(event);
  }
}

/** A running ledger fixture. */
export interface LedgerFixture {
  readonly documents: DynamoDBDocumentClient;
  readonly jobs: DynamoJobStore;
  readonly failures: DynamoFailureStore;
  readonly mappings: DynamoMappingStore;
  /** Fresh recorders per call, sharing the table. */
  ledger(): LedgerDeps & { control: RecordingControlQueue; outbound: RecordingOutbound };
  stop(): Promise<void>;
}

/** Starts dynalite with the product's table. */
export async function startLedgerFixture(): Promise<LedgerFixture> {
  const service = await startDynamoDb();
  const dynamo = new DynamoDBClient(localClientConfig(service.endpoint));
  await createTable(dynamo, TABLE_NAME);
  const documents = documentClient(dynamo);
  const jobs = new DynamoJobStore(documents, TABLE_NAME);
  return {
    documents,
    jobs,
    failures: new DynamoFailureStore(documents, TABLE_NAME),
    mappings: new DynamoMappingStore({ client: documents, tableName: TABLE_NAME }),
    ledger: () => ({
      jobs,
      control: new RecordingControlQueue(),
      outbound: new RecordingOutbound(),
    }),
    stop: async () => {
      dynamo.destroy();
      await service.stop();
    },
  };
}
