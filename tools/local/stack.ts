/**
 * The whole product on one machine: SQS/S3 and DynamoDB emulators on loopback, the
 * resources of `infra/resources.ts` (stage `local`), the Upheal simulator (unless a URL is given),
 * and one event source mapping per SQS trigger of `infra/functions.ts`, invoking the functions'
 * built bundles in worker processes. `stop()` ends every process and server it started.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import {
  DEPLOYED_FUNCTIONS,
  type DeployedFunctionName,
  eventSourcesOf,
  FUNCTIONS,
  timeoutOf,
} from '#infra/functions.ts';
import { IMPORT_BUCKET, QUEUES, type QueueKey, resourceName, TABLE } from '#infra/resources.ts';
import { type FunctionUrlHandler, startIngestServer } from '#lib/ingest/http-server.ts';
import { parseSecretList } from '#lib/ingest/secrets.ts';
import { SIGNATURE_SCHEMES } from '#lib/upheal-webhook/signature.ts';
import {
  createBucket,
  createQueues,
  createTable,
  type LocalService,
  type QueueOverrides,
  startDynamoDb,
  startSqsS3,
} from '#tools/local/aws-services.ts';
import {
  EventSourceRunner,
  type InvocationReport,
  MAX_RECEIVE_BATCH,
} from '#tools/local/event-source-runner.ts';
import { type LogSink, WorkerPool } from '#tools/local/worker-pool.ts';
import { DEFAULT_API_KEY, type SimulatorOptionsInput } from '#tools/simulator/options.ts';
import { type Simulator, startSimulator } from '#tools/simulator/server.ts';

/** The stage whose resource names the local stack uses (`upheal-sync-local-…`). */
export const LOCAL_STAGE = 'local';
/** Region of every local resource and client. */
export const LOCAL_REGION = 'us-east-1';
/** Credentials the emulators accept (they never validate them); never real ones. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' } as const;

/** The configuration of an AWS SDK client for a local emulator at `endpoint`. */
export function localClientConfig(endpoint: string) {
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
}
/** Where `scripts/build.ts` writes the bundles, relative to the project root. */
const BUNDLE_DIR = join('dist', 'functions');
/** File name of every bundle within its function's directory. */
const BUNDLE_FILE = 'index.mjs';
/**
 * The ingest signing secret when none is given: a public, local-only default like the
 * simulator's `local-dev-key` (never used by a deployment, which reads SSM).
 */
export const LOCAL_INGEST_SECRET = 'local-dev-ingest-secret';
/** The secret the embedded simulator signs its webhooks with, and upheal-webhook verifies (local only). */
export const LOCAL_UPHEAL_WEBHOOK_SECRET = 'local-dev-upheal-webhook-secret';
/** `workerId` of log lines written by an event source mapping itself rather than a worker. */
export const MAPPING_WORKER_ID = 0;
/** Default time in-flight invocations get to finish on stop before their workers are killed. */
const DEFAULT_DRAIN_MS = 5_000;

/** The project root (this file is `tools/local/stack.ts`). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Options of startLocalStack; all optional. */
export interface LocalStackOptions {
  /** Use this Upheal (e.g. a shared simulator) instead of starting one. */
  readonly uphealUrl?: string;
  /** API key for `uphealUrl` (default: the simulator's `local-dev-key`). */
  readonly uphealApiKey?: string;
  /** Options of the embedded simulator (ignored with `uphealUrl`). */
  readonly simulator?: SimulatorOptionsInput;
  /**
   * Whether the embedded simulator sends its webhooks to the local `upheal-webhook` function URL
   * (default true; ignored when the simulator options name a webhook URL of their own).
   */
  readonly uphealWebhooks?: boolean;
  /** Directory with `<function>/index.mjs` bundles (default `dist/functions`). */
  readonly functionsDir?: string;
  /**
   * Functions that run: SQS-triggered ones get their event sources, URL ones (ingest) a local
   * function URL. Default: every deployed function with a trigger whose bundle exists (the others
   * are listed in `skippedFunctions`). Listing one without a bundle fails.
   */
  readonly functions?: readonly DeployedFunctionName[];
  /** Extra or overriding function environment (e.g. scaled rate limits). */
  readonly env?: Readonly<Record<string, string>>;
  /** Visibility timeout / maxReceiveCount overrides for fast tests. */
  readonly queues?: QueueOverrides;
  /** MaximumConcurrency overrides per event source (default: infra/resources.ts), e.g. benchmarks. */
  readonly concurrency?: Partial<Record<QueueKey, number>>;
  /** Function timeout overrides in seconds (default FUNCTION_TIMEOUT_SECONDS). */
  readonly timeoutSeconds?: Partial<Record<DeployedFunctionName, number>>;
  /** Long-poll wait of the mappings (default 20 s; shorter only speeds up stop). */
  readonly pollWaitSeconds?: number;
  /**
   * Receives every line the workers print, and the mappings' own errors as worker
   * `MAPPING_WORKER_ID` (default: this process's stderr).
   */
  readonly logSink?: LogSink;
  /** Called after every settled batch. */
  readonly onInvocation?: (report: InvocationReport) => void;
  /** Time in-flight invocations get on stop (default 5 s). */
  readonly drainMs?: number;
  /**
   * Start each SQS-triggered function's workers (as many as its event sources' concurrency)
   * before the stack is returned, rather than on the first events (default false). A benchmark
   * that times a run from its first event uses it: on a machine of a few cores, a few dozen cold
   * starts at once queue for the CPU, where Lambda runs them side by side.
   */
  readonly warmWorkers?: boolean;
  /**
   * Functions whose workers run at the lowest CPU priority (niceness 19): they take only the CPU
   * the others leave. A benchmark uses it for `initial-sync`, which on Lambda runs on CPU of its
   * own; on a machine of a few cores its planning and fan-out would take CPU from the workers
   * whose calls are being timed.
   */
  readonly lowPriorityFunctions?: readonly DeployedFunctionName[];
}

/** A running local stack. */
export interface LocalStack {
  readonly endpoints: {
    readonly sqs: string;
    readonly s3: string;
    readonly dynamodb: string;
    readonly upheal: string;
  };
  /** The functions' environment: also what a CLI or test needs to talk to this stack. */
  readonly env: Readonly<Record<string, string>>;
  readonly tableName: string;
  readonly bucketName: string;
  readonly queueUrls: Record<QueueKey, string>;
  readonly queueArns: Record<QueueKey, string>;
  readonly dlqUrls: Record<QueueKey, string>;
  /** Functions that run (event sources or function URL). */
  readonly functions: readonly DeployedFunctionName[];
  /** Local function URLs (payload 2.0, like Lambda function URLs), e.g. `{ ingest: 'http://…/' }`. */
  readonly functionUrls: Partial<Record<DeployedFunctionName, string>>;
  /** Functions skipped because no bundle was found (default selection only). */
  readonly skippedFunctions: readonly DeployedFunctionName[];
  /** The embedded simulator, unless `uphealUrl` was given. */
  readonly simulator?: Simulator;
  /** Process ids of the live worker processes. */
  workerPids(): number[];
  /** Workers started warm with the stack (`warmWorkers`), past their init; 0 otherwise. */
  readonly warmWorkers: number;
  /** Stops polling, lets in-flight batches finish (up to `drainMs`), ends every worker and server. */
  stop(): Promise<void>;
}

/** Starts the local stack; on failure, whatever was started is stopped again. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  try {
    const [sqsS3, dynamodb] = await startServices(cleanups);
    let simulator: Simulator | undefined;
    if (!options.uphealUrl) {
      simulator = await startSimulator(options.simulator ?? {});
      cleanups.push(simulator.stop);
    }
    const uphealUrl = options.uphealUrl ?? simulator!.url;

    const sqs = new SQSClient(localClientConfig(sqsS3.endpoint));
    cleanups.push(async () => sqs.destroy());
    const tableName = resourceName(LOCAL_STAGE, TABLE.suffix);
    const bucketName = resourceName(LOCAL_STAGE, IMPORT_BUCKET.suffix);
    const [queues] = await Promise.all([
      createQueues(sqs, LOCAL_STAGE, options.queues),
      withClient(new DynamoDBClient(localClientConfig(dynamodb.endpoint)), (client) =>
        createTable(client, tableName),
      ),
      withClient(new S3Client(localClientConfig(sqsS3.endpoint)), (client) =>
        createBucket(client, bucketName),
      ),
    ]);

    const env = stackEnvironment({
      sqsS3: sqsS3.endpoint,
      dynamodb: dynamodb.endpoint,
      tableName,
      bucketName,
      uphealUrl,
      queueUrls: queues.queueUrls,
      options,
    });

    const { selected, triggered, bundleOf } = selectFunctions(options);

    const running: RunningFunctions = {
      pools: [],
      runners: [],
      servers: [],
      functionUrls: {},
      warmWorkers: 0,
    };
    const { pools, runners, functionUrls } = running;
    cleanups.push(() => stopFunctions(running, options.drainMs ?? DEFAULT_DRAIN_MS));
    for (const functionName of selected) {
      await startFunction(running, functionName, {
        bundlePath: bundleOf(functionName),
        env,
        sqs,
        queues,
        options,
      });
    }
    for (const runner of runners) runner.start();
    const webhookUrl = functionUrls['upheal-webhook'];
    if (simulator && webhookUrl && options.uphealWebhooks !== false) {
      pointWebhooksAt(simulator, webhookUrl, env);
    }

    let stopping: Promise<void> | undefined;
    return {
      endpoints: {
        sqs: sqsS3.endpoint,
        s3: sqsS3.endpoint,
        dynamodb: dynamodb.endpoint,
        upheal: uphealUrl,
      },
      env,
      tableName,
      bucketName,
      queueUrls: queues.queueUrls,
      queueArns: queues.queueArns,
      dlqUrls: queues.dlqUrls,
      functions: selected,
      functionUrls,
      skippedFunctions: triggered.filter((name) => !selected.includes(name)),
      ...(simulator ? { simulator } : {}),
      workerPids: () => pools.flatMap((pool) => pool.pids),
      warmWorkers: running.warmWorkers,
      stop: () => {
        stopping ??= cleanUp();
        return stopping;
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}

/**
 * Starts fauxqs (SQS and S3) and dynalite concurrently; whichever started is stopped again (its
 * cleanup registered) if the other failed.
 */
async function startServices(
  cleanups: (() => Promise<void>)[],
): Promise<[LocalService, LocalService]> {
  const started = await Promise.allSettled([startSqsS3(), startDynamoDb()]);
  for (const result of started) if (result.status === 'fulfilled') cleanups.push(result.value.stop);
  return started.map((result) => {
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  }) as [LocalService, LocalService];
}

/** The functions' environment on the local stack (what a CLI or test needs to reach it, too). */
function stackEnvironment(stack: {
  readonly sqsS3: string;
  readonly dynamodb: string;
  readonly tableName: string;
  readonly bucketName: string;
  readonly uphealUrl: string;
  readonly queueUrls: Record<QueueKey, string>;
  readonly options: LocalStackOptions;
}): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_SQS: stack.sqsS3,
    AWS_ENDPOINT_URL_S3: stack.sqsS3,
    AWS_ENDPOINT_URL_DYNAMODB: stack.dynamodb,
    TABLE_NAME: stack.tableName,
    [IMPORT_BUCKET.nameEnv]: stack.bucketName,
    UPHEAL_BASE_URL: stack.uphealUrl,
    UPHEAL_API_KEY: stack.options.uphealApiKey ?? DEFAULT_API_KEY,
    INGEST_SECRET: LOCAL_INGEST_SECRET,
    UPHEAL_WEBHOOK_SECRET: LOCAL_UPHEAL_WEBHOOK_SECRET,
    ...Object.fromEntries(
      (Object.keys(QUEUES) as QueueKey[]).map((key) => [QUEUES[key].urlEnv, stack.queueUrls[key]]),
    ),
    ...stack.options.env,
  };
}

/**
 * The functions to run: those asked for, or every function with a trigger whose bundle exists;
 * an asked-for function without a bundle is an error.
 */
function selectFunctions(options: LocalStackOptions) {
  const functionsDir = resolve(PROJECT_ROOT, options.functionsDir ?? BUNDLE_DIR);
  const bundleOf = (name: DeployedFunctionName) => join(functionsDir, name, BUNDLE_FILE);
  const triggered = DEPLOYED_FUNCTIONS.filter(
    (name) => eventSourcesOf(name).length > 0 || FUNCTIONS[name].url,
  );
  const selected = options.functions ?? triggered.filter((name) => existsSync(bundleOf(name)));
  const missing = selected.filter((name) => !existsSync(bundleOf(name)));
  if (missing.length > 0)
    throw new Error(`no bundle for ${missing.join(', ')} in ${functionsDir} (run npm run build)`);
  return { selected, triggered, bundleOf };
}

/** The worker pools, event-source runners and function URLs of the running functions. */
interface RunningFunctions {
  readonly pools: WorkerPool[];
  readonly runners: EventSourceRunner[];
  readonly servers: { stop(): Promise<void> }[];
  readonly functionUrls: Partial<Record<DeployedFunctionName, string>>;
  /** Workers started warm (`warmWorkers`) that passed their init. */
  warmWorkers: number;
}

/** Starts one function: its worker pool, its function URL if it has one, its event sources. */
async function startFunction(
  running: RunningFunctions,
  functionName: DeployedFunctionName,
  setup: {
    readonly bundlePath: string;
    readonly env: Record<string, string>;
    readonly sqs: SQSClient;
    readonly queues: { queueUrls: Record<QueueKey, string>; queueArns: Record<QueueKey, string> };
    readonly options: LocalStackOptions;
  },
): Promise<void> {
  const { options, queues } = setup;
  const pool = new WorkerPool({
    functionName,
    bundlePath: setup.bundlePath,
    env: lambdaEnvironment(functionName, setup.env),
    timeoutSeconds: options.timeoutSeconds?.[functionName] ?? timeoutOf(functionName),
    memoryLimitInMB: FUNCTIONS[functionName].memoryMb,
    region: LOCAL_REGION,
    lowPriority: options.lowPriorityFunctions?.includes(functionName) ?? false,
    ...(options.logSink ? { logSink: options.logSink } : {}),
  });
  running.pools.push(pool);
  if (FUNCTIONS[functionName].url) {
    const server = await startIngestServer({ handler: functionUrlHandler(pool) });
    running.servers.push(server);
    running.functionUrls[functionName] = server.url;
  }
  const sources = eventSourcesOf(functionName);
  const concurrencyOf = (source: (typeof sources)[number]) =>
    options.concurrency?.[source.queueKey] ?? source.maximumConcurrency;
  if (options.warmWorkers) {
    running.warmWorkers += await pool.warm(
      sources.reduce((sum, source) => sum + concurrencyOf(source), 0),
    );
  }
  for (const source of sources) {
    running.runners.push(
      new EventSourceRunner({
        functionName,
        sqs: setup.sqs,
        queueUrl: queues.queueUrls[source.queueKey],
        queueArn: queues.queueArns[source.queueKey],
        region: LOCAL_REGION,
        batchSize: Math.min(source.batchSize, MAX_RECEIVE_BATCH),
        maximumConcurrency: concurrencyOf(source),
        invoker: pool,
        ...(options.pollWaitSeconds === undefined
          ? {}
          : { pollWaitSeconds: options.pollWaitSeconds }),
        ...(options.onInvocation ? { onInvocation: options.onInvocation } : {}),
        ...(options.logSink ? { onError: mappingErrorSink(functionName, options.logSink) } : {}),
      }),
    );
  }
}

/** Function URLs and runners stop first (no new work), in-flight work drains, workers end. */
async function stopFunctions(running: RunningFunctions, drainMs: number): Promise<void> {
  await Promise.all(running.servers.map((server) => server.stop()));
  for (const runner of running.runners) runner.stopPolling();
  const drained = Promise.all(running.runners.map((runner) => runner.stop()));
  await Promise.race([drained, delay(drainMs)]);
  await Promise.all(running.pools.map((pool) => pool.stop()));
  await drained;
}

/**
 * Has the simulator send its webhooks to the local function URL, signed with the function's
 * (first) secret and scheme, unless its options name another URL.
 */
function pointWebhooksAt(
  simulator: Simulator,
  url: string,
  env: Readonly<Record<string, string>>,
): void {
  if (simulator.options().webhooks.url) return;
  const secret = parseSecretList(env.UPHEAL_WEBHOOK_SECRET ?? '')[0];
  if (!secret) return;
  const scheme =
    env.UPHEAL_WEBHOOK_SIGNATURE_SCHEME === SIGNATURE_SCHEMES.timestampBody
      ? SIGNATURE_SCHEMES.timestampBody
      : SIGNATURE_SCHEMES.body;
  simulator.setWebhooks({ url, secret, scheme });
}

/**
 * The environment of one function's workers: the stack's plus what the Lambda runtime sets. Not
 * this process's environment: Lambda instances see only their configuration.
 */
function lambdaEnvironment(
  functionName: DeployedFunctionName,
  env: Readonly<Record<string, string>>,
): Record<string, string> {
  return {
    ...(process.env.PATH ? { PATH: process.env.PATH } : {}),
    TZ: 'UTC',
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(FUNCTIONS[functionName].memoryMb),
    ...env,
  };
}

/**
 * The mapping's own errors (SQS unreachable, expired receipt handles) as log lines of worker 0,
 * so a log sink sees every line the stack produces.
 */
function mappingErrorSink(functionName: DeployedFunctionName, sink: LogSink) {
  return (error: unknown) =>
    sink({
      functionName,
      workerId: MAPPING_WORKER_ID,
      stream: 'stderr',
      line: `event source mapping: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`,
    });
}

/**
 * A function URL's invocation through a worker: the handler's result is the HTTP answer; an
 * error, crash or timeout throws, which the server answers 502 like a function URL does.
 */
function functionUrlHandler(pool: WorkerPool): FunctionUrlHandler {
  return async (event) => {
    const outcome = await pool.invoke(event);
    if (outcome.kind === 'response')
      return outcome.response as Awaited<ReturnType<FunctionUrlHandler>>;
    throw new Error(`function URL invocation failed: ${outcome.kind}`);
  };
}

async function withClient<Client extends { destroy(): void }>(
  client: Client,
  use: (client: Client) => Promise<void>,
): Promise<void> {
  try {
    await use(client);
  } finally {
    client.destroy();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
