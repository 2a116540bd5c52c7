/**
 * One benchmark scenario of the product itself: the unchanged, built `sync-user` and
 * `assign-providers` bundles on the local stack (worker processes, Lambda-like event sources),
 * the scaled sliding-window simulator as Upheal, the counting proxy in front of dynalite, and the
 * workload published like `initial-sync` does (providers on the import queue first, clients once
 * every provider is applied), with a trickle of live events on the user-events queue meanwhile.
 * Optionally the finished load is re-run (same users, newer `occurredAt`).
 */
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { QueueKey } from '#infra/resources.ts';
import { IMPORT_MODES, type ImportMode } from '#lib/import/import-mode.ts';
import { emptyPlan } from '#lib/import/plan.ts';
import { JOB_PHASES } from '#lib/jobs/job.ts';
import { IMPORT_ATTRIBUTES } from '#lib/sync/record-work.ts';
import { waitForDrain } from '#tools/cli/drain.ts';
import { targetFromEnv } from '#tools/cli/target.ts';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalStack,
  startLocalStack,
} from '#tools/local/stack.ts';
import { DEFAULT_API_KEY, type FaultOptions } from '#tools/simulator/options.ts';
import { AppliedLog } from './applied-log.ts';
import { type DynamoCounter, diffCounts, startDynamoCounter } from './dynamo-counter.ts';
import { LiveTrickle } from './live-trickle.ts';
import {
  callCounts,
  clientPhaseAt,
  latencySummary,
  peaks,
  TIMELINE_BUCKET_MS,
  timeline,
  utilisation,
} from './metrics.ts';
import { type ScenarioResult, SYSTEMS } from './result.ts';
import {
  LIVE_INTERVAL_MS,
  SCALED,
  scaledLimiterEnv,
  scaledQuarantineEnv,
  simulatorRateLimit,
  TAIL_CALLS,
} from './settings.ts';
import { type RemoteSimulator, startRemoteSimulator } from './simulator-process.ts';
import {
  type BenchUser,
  LIVE_PROVIDER_CALLS,
  minimumCalls,
  upsertEvent,
  type Workload,
} from './workload.ts';

/** What a sync scenario runs. */
export interface SyncScenarioOptions {
  readonly name: string;
  /** MaximumConcurrency of the bulk event sources (imports, assignments). */
  readonly workers: number;
  readonly foreignShare: number;
  /** The simulator's faults (none when absent). */
  readonly faults?: Partial<FaultOptions>;
  readonly workload: Workload;
  /** Also re-run the finished load and report it as its own result. */
  readonly rerun: boolean;
  /** How the import creates users it has no mapping for. */
  readonly mode: ImportMode;
  /** Gives up waiting for a phase after this long. */
  readonly phaseTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** The two functions the workload needs (no ingest: events go straight to the queues). */
const FUNCTIONS = ['sync-user', 'assign-providers'] as const;
/** `occurredAt` of the load and of its re-run (an hour later: newer, so not stale). */
const LOAD_OCCURRED_AT = '2026-11-27T10:00:00.000Z';
const RERUN_OCCURRED_AT = '2026-11-27T11:00:00.000Z';
/** SendMessageBatch takes at most 10 entries; this many batches are sent at once. */
const SQS_BATCH = 10;
const PARALLEL_BATCHES = 4;
/** Progress line interval. */
const PROGRESS_MS = 5_000;
/** Queues the functions consume, for the final drain. */
const CONSUMED: readonly QueueKey[] = ['imports', 'assignments', 'userEvents'];
/** Longest wait for the queues to report empty after everything applied. */
const DRAIN_TIMEOUT_MS = 30_000;
/** Time in-flight invocations get when the stack stops. */
const STOP_DRAIN_MS = 2_000;
/** Long poll of the event sources: short, so stopping is quick. */
const POLL_WAIT_SECONDS = 1;

/** An SQS message to send. */
interface Outgoing {
  readonly body: string;
  readonly groupId: string;
  readonly deduplicationId: string;
  readonly attributes?: Record<string, { DataType: 'String'; StringValue: string }>;
}

/** Sends messages in batches of 10, a few batches at a time; throws if SQS refuses any. */
async function sendAll(sqs: SQSClient, queueUrl: string, messages: readonly Outgoing[]) {
  const batches: Outgoing[][] = [];
  for (let start = 0; start < messages.length; start += SQS_BATCH)
    batches.push(messages.slice(start, start + SQS_BATCH));
  for (let start = 0; start < batches.length; start += PARALLEL_BATCHES) {
    await Promise.all(
      batches.slice(start, start + PARALLEL_BATCHES).map(async (batch) => {
        const result = await sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: batch.map((message, index) => ({
              Id: String(index),
              MessageBody: message.body,
              MessageGroupId: message.groupId,
              MessageDeduplicationId: message.deduplicationId,
              ...(message.attributes ? { MessageAttributes: message.attributes } : {}),
            })),
          }),
        );
        if (result.Failed?.length)
          throw new Error(`SQS refused ${result.Failed.length} message(s)`);
      }),
    );
  }
}

/** The import message of a user, as initial-sync sends it (job id, line and mode attributes). */
function importMessage(
  user: BenchUser,
  line: number,
  jobId: string,
  eventId: string,
  occurredAt: string,
  mode: ImportMode = IMPORT_MODES.checkFirst,
): Outgoing {
  return {
    body: JSON.stringify(upsertEvent(user, eventId, occurredAt)),
    groupId: user.partnerUserId,
    deduplicationId: eventId,
    attributes: {
      [IMPORT_ATTRIBUTES.jobId]: { DataType: 'String', StringValue: jobId },
      [IMPORT_ATTRIBUTES.line]: { DataType: 'String', StringValue: String(line) },
      [IMPORT_ATTRIBUTES.mode]: { DataType: 'String', StringValue: mode },
    },
  };
}

/**
 * The job's ledger item, as initial-sync leaves it after planning: `auto` decides on the counts
 * sync-user adds to it. (The `start-clients` message its ledger sends when the providers settle
 * goes unread: the scenario publishes the clients itself.)
 */
async function createJob(stack: LocalStack, jobId: string, workload: Workload, mode: ImportMode) {
  const target = targetFromEnv(stack.env);
  try {
    await target.jobs.create({
      jobId,
      format: 'ndjson',
      source: { bucket: 'bench', key: `${jobId}.ndjson` },
      dryRun: false,
      mode,
    });
    const totals = {
      exportedAt: LOAD_OCCURRED_AT,
      providers: workload.providers.length,
      clients: workload.clients.length,
      invalid: 0,
      plan: emptyPlan(),
    };
    await target.jobs.finishPlanning(jobId, totals, JOB_PHASES.providers);
  } finally {
    target.close();
  }
}

/** Runs the scenario; resolves with its result (and the re-run's, when asked for). */
export async function runSyncScenario(options: SyncScenarioOptions): Promise<ScenarioResult[]> {
  const { workload, log, name } = options;
  const counter = await startDynamoCounter();
  const applied = new AppliedLog();
  let stack: LocalStack | undefined;
  let sqs: SQSClient | undefined;
  let simulator: RemoteSimulator | undefined;
  try {
    simulator = await startRemoteSimulator({
      rateLimit: simulatorRateLimit(options.foreignShare),
      ...(options.faults ? { faults: options.faults } : {}),
    });
    const upheal = simulator;
    stack = await startLocalStack({
      uphealUrl: simulator.url,
      uphealApiKey: DEFAULT_API_KEY,
      functions: [...FUNCTIONS],
      env: {
        ...scaledLimiterEnv(),
        ...scaledQuarantineEnv(),
        AWS_ENDPOINT_URL_DYNAMODB: counter.url,
        // Debug level adds only the consumer's `deferred` lines (ids and error class): counted.
        LOG_LEVEL: 'DEBUG',
      },
      concurrency: { imports: options.workers, assignments: options.workers },
      logSink: applied.sink,
      pollWaitSeconds: POLL_WAIT_SECONDS,
      drainMs: STOP_DRAIN_MS,
    });
    counter.setUpstream(stack.endpoints.dynamodb);
    if (workload.seeded.length > 0) await simulator.seedUsers(workload.seeded);
    sqs = new SQSClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.endpoints.sqs,
    });
    const client = sqs;
    const importsUrl = stack.queueUrls.imports;
    const liveUrl = stack.queueUrls.userEvents;
    const jobId = `bench-${options.workers}-${options.mode}`;
    // Only `auto` reads the ledger; the other modes run without one, as the scenarios always did.
    if (options.mode === IMPORT_MODES.auto) await createJob(stack, jobId, workload, options.mode);
    const loadId = (user: BenchUser) => `load-${user.partnerUserId}`;
    const multi = workload.clients.filter((c) => c.fields.providerPartnerUserIds.length > 1);
    const trickle = new LiveTrickle(LIVE_INTERVAL_MS, (live) =>
      sendAll(client, liveUrl, [
        {
          body: JSON.stringify(upsertEvent(live.user, live.eventId, LOAD_OCCURRED_AT)),
          groupId: live.user.partnerUserId,
          deduplicationId: live.eventId,
        },
      ]),
    );
    const progress = (phase: string) => async () => {
      const stats = await upheal.stats();
      const clients = applied.countApplied('sync-user', workload.clients.map(loadId));
      const assigned = applied.countAssigned(multi.map(loadId));
      log(
        `  [${name}] ${phase}: providers ${applied.countApplied('sync-user', workload.providers.map(loadId))}/${workload.providers.length}` +
          ` clients ${clients}/${workload.clients.length} assignments ${assigned}/${multi.length}` +
          ` live ${trickle.published.length} | calls ${stats.totalCalls} (429: ${stats.rateLimited})`,
      );
    };
    const wait = (phase: string, done: () => boolean) =>
      applied.waitUntil(done, {
        timeoutMs: options.phaseTimeoutMs,
        progressMs: PROGRESS_MS,
        progress: () => {
          progress(phase)().catch(() => {});
        },
      });

    // Providers first, as initial-sync does; clients once every provider is applied.
    const startedAt = Date.now();
    trickle.start();
    let line = 0;
    await sendAll(
      client,
      importsUrl,
      workload.providers.map((user) =>
        importMessage(user, ++line, jobId, loadId(user), LOAD_OCCURRED_AT, options.mode),
      ),
    );
    const providerIds = workload.providers.map(loadId);
    let complete = await wait(
      'providers',
      () => applied.countApplied('sync-user', providerIds) === providerIds.length,
    );
    const clientPhaseIndex = (await simulator.stats()).arrivals;
    await sendAll(
      client,
      importsUrl,
      workload.clients.map((user) =>
        importMessage(user, ++line, jobId, loadId(user), LOAD_OCCURRED_AT, options.mode),
      ),
    );
    const clientIds = workload.clients.map(loadId);
    const multiIds = multi.map(loadId);
    complete =
      (await wait(
        'clients',
        () =>
          applied.countApplied('sync-user', clientIds) === clientIds.length &&
          applied.countAssigned(multiIds) === multiIds.length,
      )) && complete;
    await trickle.stop();
    const liveIds = trickle.published.map((live) => live.eventId);
    complete =
      (await wait(
        'live',
        () => applied.countApplied('sync-user', liveIds) === liveIds.length - trickle.errors,
      )) && complete;
    const finishedAt = Math.max(
      ...[...providerIds, ...clientIds, ...liveIds].map(
        (id) => applied.get('sync-user', id)?.at ?? 0,
      ),
      ...multiIds.map((id) => applied.assignedAt(id) ?? 0),
    );
    const target = targetFromEnv(stack.env);
    await waitForDrain(target, CONSUMED, () => {}, DRAIN_TIMEOUT_MS).catch(() => {
      log(`  [${name}] queues not drained after ${DRAIN_TIMEOUT_MS} ms`);
    });
    target.close();

    const arrivals = await simulator.arrivals();
    const loadCounts = callCounts(arrivals);
    const loadDynamo = counter.counts();
    const latencies = trickle.published.flatMap((live) => {
      const entry = applied.get('sync-user', live.eventId);
      return entry ? [entry.at - live.publishedAt] : [];
    });
    const imported: BenchUser[] = [...workload.providers, ...workload.clients];
    const problems = applied.problems();
    const load: ScenarioResult = {
      name,
      system: SYSTEMS.sync,
      workers: options.workers,
      foreignShare: options.foreignShare,
      mode: options.mode,
      preExistingShare: imported.filter((user) => user.preExisting).length / imported.length,
      multiProviderClients: multi.length,
      users: imported.length + trickle.published.length,
      minimumCalls:
        imported.reduce((sum, user) => sum + minimumCalls(user, options.mode), 0) +
        trickle.published.length * LIVE_PROVIDER_CALLS,
      calls: loadCounts.calls,
      rateLimited: loadCounts.rateLimited,
      callsByRoute: loadCounts.byRoute,
      utilisation: utilisation(arrivals.slice(clientPhaseIndex), {
        limit: SCALED.limit,
        windowMs: SCALED.windowMs,
        tailCalls: TAIL_CALLS,
      }),
      peaks: peaks(arrivals, SCALED.limit, SCALED.windowMs),
      dynamo: loadDynamo,
      live: { ...latencySummary(latencies), latenciesMs: latencies },
      timeline: timeline(arrivals),
      clientPhaseAtS: clientPhaseAt(arrivals, clientPhaseIndex),
      durationMs: finishedAt - startedAt,
      complete,
      failures: problems.failures,
      retries: problems.retries,
      deferrals: applied.deferrals(),
      mostDeferralsOfOneEvent: applied.mostDeferralsOfOneEvent(),
      eventsPerSecond: applied.eventTimeline(arrivals[0]?.at ?? startedAt, TIMELINE_BUCKET_MS),
    };
    const results = [load];
    if (options.rerun)
      results.push(await rerun(options, stack, simulator, client, applied, counter));
    return results;
  } finally {
    sqs?.destroy();
    await stack?.stop();
    await simulator?.stop();
    await counter.stop();
  }
}

/**
 * The finished load again: every import user with a newer `occurredAt` and the same fields. The
 * mappings are known and the field hashes equal, so the target is zero Upheal calls.
 */
async function rerun(
  options: SyncScenarioOptions,
  stack: LocalStack,
  simulator: RemoteSimulator,
  sqs: SQSClient,
  applied: AppliedLog,
  counter: DynamoCounter,
): Promise<ScenarioResult> {
  const { workload, log } = options;
  const name = `re-run (${options.name})`;
  const arrivalIndex = (await simulator.stats()).arrivals;
  const countsBefore = counter.counts();
  const problemsBefore = applied.problems();
  const deferralsBefore = applied.deferrals();
  const users: BenchUser[] = [...workload.providers, ...workload.clients];
  const rerunId = (user: BenchUser) => `rerun-${user.partnerUserId}`;
  const jobId = `bench-rerun-${options.workers}`;
  const startedAt = Date.now();
  await sendAll(
    sqs,
    stack.queueUrls.imports,
    users.map((user, index) =>
      importMessage(user, index + 1, jobId, rerunId(user), RERUN_OCCURRED_AT),
    ),
  );
  const ids = users.map(rerunId);
  const complete = await applied.waitUntil(
    () => applied.countApplied('sync-user', ids) === ids.length,
    {
      timeoutMs: options.phaseTimeoutMs,
      progressMs: PROGRESS_MS,
      progress: () =>
        log(`  [${name}] applied ${applied.countApplied('sync-user', ids)}/${ids.length}`),
    },
  );
  const finishedAt = Math.max(...ids.map((id) => applied.get('sync-user', id)?.at ?? 0));
  const target = targetFromEnv(stack.env);
  await waitForDrain(target, CONSUMED, () => {}, DRAIN_TIMEOUT_MS).catch(() => {});
  target.close();
  const arrivals = await simulator.arrivals(arrivalIndex);
  const counts = callCounts(arrivals);
  const problems = applied.problems();
  return {
    name,
    system: SYSTEMS.sync,
    workers: options.workers,
    foreignShare: options.foreignShare,
    users: users.length,
    minimumCalls: 0,
    calls: counts.calls,
    rateLimited: counts.rateLimited,
    callsByRoute: counts.byRoute,
    utilisation: undefined,
    peaks: peaks(arrivals, SCALED.limit, SCALED.windowMs),
    dynamo: diffCounts(counter.counts(), countsBefore),
    live: { ...latencySummary([]), latenciesMs: [] },
    timeline: timeline(arrivals),
    clientPhaseAtS: undefined,
    durationMs: finishedAt - startedAt,
    complete,
    failures: problems.failures - problemsBefore.failures,
    retries: problems.retries - problemsBefore.retries,
    deferrals: diffDeferrals(applied.deferrals(), deferralsBefore),
  };
}

/** `later − earlier`, key by key. */
function diffDeferrals(
  later: Record<string, number>,
  earlier: Record<string, number>,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(later)
      .map(([key, count]) => [key, count - (earlier[key] ?? 0)] as const)
      .filter(([, count]) => count !== 0),
  );
}
