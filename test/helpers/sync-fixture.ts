/**
 * The sync use cases wired to real local services: DynamoDB (dynalite) and SQS (fauxqs) over
 * HTTP, and the Upheal simulator over HTTP through the real client. Only the rate limiter is an
 * unpaced stand-in (its own tests cover pacing), so these tests run at full speed.
 */

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { RateLimiter } from '#lib/limiter/rate-limiter.ts';
import { documentClient } from '#lib/store/document-client.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import type { MappingStore } from '#lib/store/mapping-store.ts';
import { DynamoUserLeases } from '#lib/store/user-lease.ts';
import {
  type AssignmentCommand,
  AssignmentCommandSchema,
  SqsAssignmentQueue,
} from '#lib/sync/assignment-queue.ts';
import { DynamoDeleteGuard } from '#lib/sync/delete-guard.ts';
import type { UphealForMessage, UphealPort } from '#lib/sync/ports.ts';
import { DynamoStagedDeletes } from '#lib/sync/staged-deletes.ts';
import type { SyncUserDeps } from '#lib/sync/sync-user.ts';
import { UphealClient } from '#lib/upheal/client.ts';
import {
  type CreatedQueues,
  createQueues,
  createTable,
  startDynamoDb,
  startSqsS3,
} from '#tools/local/aws-services.ts';
import { localClientConfig } from '#tools/local/stack.ts';
import type { SimulatorOptionsInput } from '#tools/simulator/options.ts';
import { type Simulator, startSimulator } from '#tools/simulator/server.ts';

/** A limiter that grants every request at once. */
export const unpacedLimiter: RateLimiter = {
  acquire: async () => {},
  awaitTurn: async () => {},
  forgo: () => {},
  rateLimited: async () => {},
};

/** Options of the fixture. */
export interface SyncFixtureOptions {
  readonly simulator?: SimulatorOptionsInput;
  readonly deleteGuard?: { maxCount: number; maxShare: number };
}

/** A running fixture. */
export interface SyncFixture {
  readonly deps: SyncUserDeps;
  /** The per-user leases on the fixture's table (what the record work holds around a use case). */
  readonly leases: DynamoUserLeases;
  /**
   * The unpaced client as the record work's Upheal for a message (a message's lease decorates it,
   * as under the pacer in the functions).
   */
  readonly uphealForMessage: UphealForMessage;
  readonly simulator: Simulator;
  readonly mappings: DynamoMappingStore;
  readonly stagedDeletes: DynamoStagedDeletes;
  readonly failures: DynamoFailureStore;
  readonly upheal: UphealClient;
  readonly sqs: SQSClient;
  readonly documents: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Every queue of stage `test`, with its DLQ. */
  readonly queues: CreatedQueues;
  /** Receives (and deletes) the assignment commands queued so far. */
  drainAssignments(): Promise<AssignmentCommand[]>;
  stop(): Promise<void>;
}

const TABLE_NAME = 'upheal-sync-test-state';

/** Receives (and deletes) every assignment command on the queue. */
export async function drainAssignmentCommands(
  sqs: SQSClient,
  queueUrl: string,
): Promise<AssignmentCommand[]> {
  const commands: AssignmentCommand[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) return commands;
    for (const message of Messages) {
      commands.push(AssignmentCommandSchema.parse(JSON.parse(message.Body ?? '{}')));
      await sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
  }
}

/** Starts the services and wires the use-case dependencies. */
export async function startSyncFixture(options: SyncFixtureOptions = {}): Promise<SyncFixture> {
  const [dynamoService, sqsService, simulator] = await Promise.all([
    startDynamoDb(),
    startSqsS3(),
    startSimulator(options.simulator ?? {}),
  ]);
  const dynamo = new DynamoDBClient(localClientConfig(dynamoService.endpoint));
  const documents = documentClient(dynamo);
  const sqs = new SQSClient(localClientConfig(sqsService.endpoint));
  await createTable(dynamo, TABLE_NAME);
  const queues = await createQueues(sqs, 'test');
  const { queueUrls } = queues;
  const mappings = new DynamoMappingStore({ client: documents, tableName: TABLE_NAME });
  const stagedDeletes = new DynamoStagedDeletes(documents, TABLE_NAME);
  const upheal = new UphealClient({
    baseUrl: simulator.url,
    apiKey: 'local-dev-key',
    timeoutMs: 2_000,
  });
  const guard = options.deleteGuard ?? { maxCount: 1000, maxShare: 1 };
  const deps: SyncUserDeps = {
    mappings,
    upheal,
    assignments: new SqsAssignmentQueue(sqs, queueUrls.assignments),
    deleteGuard: new DynamoDeleteGuard({
      client: documents,
      tableName: TABLE_NAME,
      mappings,
      ...guard,
      windowMs: 3_600_000,
    }),
    stagedDeletes,
  };
  return {
    deps,
    leases: new DynamoUserLeases({ client: documents, tableName: TABLE_NAME }),
    uphealForMessage: (_lane, decorate) => (decorate ? decorate(upheal) : upheal),
    simulator,
    mappings,
    stagedDeletes,
    failures: new DynamoFailureStore(documents, TABLE_NAME),
    upheal,
    sqs,
    documents,
    tableName: TABLE_NAME,
    queues,
    drainAssignments: () => drainAssignmentCommands(sqs, queueUrls.assignments),
    async stop() {
      await upheal.close();
      dynamo.destroy();
      sqs.destroy();
      await Promise.all([simulator.stop(), dynamoService.stop(), sqsService.stop()]);
    },
  };
}

/** `base` with some operations replaced (e.g. to stage a race or a lost answer). */
export function uphealWith(base: UphealPort, overrides: Partial<UphealPort>): UphealPort {
  return {
    checkUser: (email, ifNew) => base.checkUser(email, ifNew),
    createProvider: (body) => base.createProvider(body),
    createClient: (body) => base.createClient(body),
    updateUser: (id, body) => base.updateUser(id, body),
    updateProvider: (id, body) => base.updateProvider(id, body),
    replaceProviders: (id, ids) => base.replaceProviders(id, ids),
    deleteUser: (id) => base.deleteUser(id),
    ...overrides,
  };
}

/** `base` with `save` failing, as if the worker died before the mapping write. */
export function crashingBeforeMappingWrite(base: MappingStore): MappingStore {
  return {
    get: (id) => base.get(id),
    getMany: (ids) => base.getMany(ids),
    save: async () => {
      throw new Error('worker crashed before the mapping write');
    },
    claim: (...args) => base.claim(...args),
    pendingCreate: (id) => base.pendingCreate(id),
    releaseClaim: (id) => base.releaseClaim(id),
    createClaimantsOf: (email) => base.createClaimantsOf(email),
    findByUphealId: (id) => base.findByUphealId(id),
    clientsOf: (id) => base.clientsOf(id),
    countActive: () => base.countActive(),
  };
}
