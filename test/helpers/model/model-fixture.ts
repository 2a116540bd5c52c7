/**
 * The services behind the model-based test: DynamoDB (dynalite) and SQS (fauxqs) over HTTP and
 * the Upheal simulator over HTTP through the real client, like `sync-fixture.ts`, but with every
 * clock the sync reads (claim leases, the delete guard's window, the active-user cache) driven by
 * the delivery model's virtual clock (the per-user leases too), and a fresh table per case so cases never share state.
 * With webhooks on, the simulator's user-created webhooks are sent to a small local HTTP
 * endpoint that keeps their bodies for the model's webhook channel (`webhook-channel.ts`).
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import { dynamoNonceStore, type NonceStore } from '#lib/ingest/replay-guard.ts';
import { DynamoJobStore } from '#lib/jobs/job-store.ts';
import { documentClient } from '#lib/store/document-client.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { DynamoUserLeases } from '#lib/store/user-lease.ts';
import { type AssignmentCommand, SqsAssignmentQueue } from '#lib/sync/assignment-queue.ts';
import { DynamoDeleteGuard } from '#lib/sync/delete-guard.ts';
import { DynamoStagedDeletes } from '#lib/sync/staged-deletes.ts';
import { UphealClient } from '#lib/upheal/client.ts';
import { DynamoHealStore } from '#lib/upheal-webhook/heal-store.ts';
import { WEBHOOK_NONCE_PREFIX } from '#lib/upheal-webhook/receive-webhook.ts';
import type { DeliveryDeps } from '#test/helpers/model/crash.ts';
import { drainAssignmentCommands } from '#test/helpers/sync-fixture.ts';
import { createQueues, createTable, startDynamoDb, startSqsS3 } from '#tools/local/aws-services.ts';
import { localClientConfig } from '#tools/local/stack.ts';
import { type Simulator, startSimulator } from '#tools/simulator/server.ts';

/**
 * Client timeout for Upheal calls: small, so a simulated hang costs little real time. The
 * simulator answers loopback requests in a few milliseconds, so only a hang ever reaches it.
 */
export const MODEL_UPHEAL_TIMEOUT_MS = 1_000;
/** The delete guard is not under test here: a threshold no history reaches. */
const UNGUARDED = { maxCount: 1_000_000, maxShare: 1_000_000, windowMs: 3_600_000 } as const;
/** The model runs far more Upheal calls than 300 a minute; pacing is not under test here. */
const UNLIMITED_RATE = 1_000_000_000;

/** The secret the simulator signs its webhooks with here (at least 16 characters). */
export const MODEL_WEBHOOK_SECRET = 'model-upheal-webhook-secret';

/** Pause between looks at a table being created. */
const TABLE_POLL_MS = 5;

/** Waits until dynalite has finished creating the table (it answers before it is usable). */
async function untilActive(dynamo: DynamoDBClient, tableName: string): Promise<void> {
  for (;;) {
    const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await sleep(TABLE_POLL_MS);
  }
}

/** One case's wiring: its own table, the shared queues and simulator. */
export interface ModelCase {
  readonly deps: DeliveryDeps;
  readonly mappings: DynamoMappingStore;
  /** What the healer reads and writes besides mappings (claims, failure records, traces). */
  readonly heal: DynamoHealStore;
  /** Failure records, as the consumer writes them. */
  readonly failures: DynamoFailureStore;
  readonly jobs: DynamoJobStore;
  /** The webhook receiver's replay guard. */
  readonly nonces: NonceStore;
}

/** The running services. */
export interface ModelFixture {
  readonly simulator: Simulator;
  /** Starts a case: resets the simulator and wires the use cases to a fresh table. */
  startCase(caseNumber: number, now: () => number): Promise<ModelCase>;
  /** Receives (and deletes) the assignment commands queued so far, oldest first. */
  drainAssignments(): Promise<AssignmentCommand[]>;
  /**
   * The bodies of the simulator's webhooks sent since the last call, once every one in flight
   * has arrived (none unless the fixture was started with webhooks).
   */
  takeWebhooks(): Promise<string[]>;
  stop(): Promise<void>;
}

/** An HTTP endpoint that answers 204 and keeps every body it receives. */
async function startWebhookSink(): Promise<{ server: Server; url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(Buffer.concat(chunks).toString('utf8'));
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/webhook`, bodies };
}

/** Starts dynalite, fauxqs and the simulator (its webhooks captured when `webhooks`). */
export async function startModelFixture(
  options: { readonly webhooks?: boolean } = {},
): Promise<ModelFixture> {
  const [dynamoService, sqsService, simulator, sink] = await Promise.all([
    startDynamoDb(),
    startSqsS3(),
    startSimulator({ rateLimit: { limit: UNLIMITED_RATE } }),
    options.webhooks ? startWebhookSink() : undefined,
  ]);
  if (sink) {
    // One plain delivery per created user: the model's channel adds Upheal's disorder.
    simulator.setWebhooks({
      url: sink.url,
      secret: MODEL_WEBHOOK_SECRET,
      retries: 0,
      duplicates: 0,
      reorderMaxMs: 0,
    });
  }
  const dynamo = new DynamoDBClient(localClientConfig(dynamoService.endpoint));
  const documents = documentClient(dynamo);
  const sqs = new SQSClient(localClientConfig(sqsService.endpoint));
  const { queueUrls } = await createQueues(sqs, 'model');
  const upheal = new UphealClient({
    baseUrl: simulator.url,
    apiKey: 'local-dev-key',
    timeoutMs: MODEL_UPHEAL_TIMEOUT_MS,
  });
  const assignments = new SqsAssignmentQueue(sqs, queueUrls.assignments);

  return {
    simulator,
    async startCase(caseNumber, now) {
      simulator.reset();
      const tableName = `model-case-${caseNumber}`;
      await createTable(dynamo, tableName);
      await untilActive(dynamo, tableName);
      const mappings = new DynamoMappingStore({ client: documents, tableName, now });
      const deps: DeliveryDeps = {
        mappings,
        leases: new DynamoUserLeases({ client: documents, tableName, now }),
        upheal,
        assignments,
        deleteGuard: new DynamoDeleteGuard({
          client: documents,
          tableName,
          mappings,
          ...UNGUARDED,
          now,
        }),
        stagedDeletes: new DynamoStagedDeletes(documents, tableName),
      };
      return {
        deps,
        mappings,
        heal: new DynamoHealStore(documents, tableName, now),
        failures: new DynamoFailureStore(documents, tableName, now),
        jobs: new DynamoJobStore(documents, tableName, now),
        nonces: dynamoNonceStore(dynamo, tableName, WEBHOOK_NONCE_PREFIX),
      };
    },
    drainAssignments: () => drainAssignmentCommands(sqs, queueUrls.assignments),
    async takeWebhooks() {
      if (!sink) return [];
      await simulator.webhooksSettled();
      return sink.bodies.splice(0);
    },
    async stop() {
      if (sink) await new Promise((resolve) => sink.server.close(resolve));
      await upheal.close();
      dynamo.destroy();
      sqs.destroy();
      await Promise.all([simulator.stop(), dynamoService.stop(), sqsService.stop()]);
    },
  };
}
