/**
 * The scale scenario: an import of 10 000 users run end to end by the unchanged, built
 * `initial-sync`, `sync-user` and `assign-providers` bundles on the local stack with 16 workers
 * per bulk queue: the file is uploaded to the local S3, one `start` control message begins the
 * job, and planning, the provider phase, the ledger's switch to clients and the client phase run
 * as deployed, with a trickle of live events meanwhile. The clock runs from that first publish to
 * the last user applied; the floor is the time the calls made need at the key's limit.
 *
 * The key is scaled as in the other scenarios (a 10 s window) but with twice the limit (600 per
 * 10 s): the import's ≈ 24 000 calls then take about 7 minutes instead of 14. Why that keeps the
 * figures honest is in docs/benchmark.md ("The scale scenario").
 */
import { readFile } from 'node:fs/promises';
import { getPriority } from 'node:os';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { importEventId } from '#lib/jobs/import-queue.ts';
import { JOB_PHASES } from '#lib/jobs/job.ts';
import { s3ClientFrom, targetFromEnv } from '#tools/cli/target.ts';
import {
  LOCAL_CREDENTIALS,
  LOCAL_REGION,
  type LocalStack,
  startLocalStack,
} from '#tools/local/stack.ts';
import { DEFAULT_API_KEY } from '#tools/simulator/options.ts';
import { AppliedLog } from './applied-log.ts';
import { startDynamoCounter } from './dynamo-counter.ts';
import { LiveTrickle } from './live-trickle.ts';
import { CpuSampler, cpuPerSecond } from './machine-load.ts';
import {
  callCounts,
  clientPhaseAt,
  latencySummary,
  peaks,
  shortfall,
  TIMELINE_BUCKET_MS,
  timeline,
  utilisation,
} from './metrics.ts';
import { type ScaleFigures, type ScenarioResult, SYSTEMS } from './result.ts';
import {
  LIVE_INTERVAL_MS,
  type ScaledKey,
  scaledLimiterEnv,
  simulatorRateLimit,
} from './settings.ts';
import { type RemoteSimulator, startRemoteSimulator } from './simulator-process.ts';
import {
  type BenchUser,
  buildWorkload,
  LIVE_PROVIDER_CALLS,
  minimumCalls,
  upsertEvent,
  type WorkloadSize,
} from './workload.ts';

/** The scenario's key: the other scenarios' window, twice their limit (see the file comment). */
export const SCALE_KEY: ScaledKey = { limit: 600, windowMs: 10_000, jitterMs: 150, horizonMs: 500 };

/** 10 000 users: 1 provider per 19 clients, every 4th client with two providers. */
export const SCALE_WORKLOAD: WorkloadSize = {
  providers: 500,
  clients: 9_500,
  multiProviderEvery: 4,
  preExistingProviders: 25,
};

/** Bulk workers (MaximumConcurrency of the import and assignments queues). */
export const SCALE_WORKERS = 16;

/** The functions the scenario runs. */
const FUNCTIONS = ['initial-sync', 'sync-user', 'assign-providers'] as const;
/** When the export was taken (every row's `occurredAt`). */
const EXPORTED_AT = '2026-11-27T10:00:00.000Z';
const JOB_ID = 'bench-scale';
const OBJECT_KEY = 'bench/scale.ndjson';
const PROGRESS_MS = 10_000;
/** How often the job's phase is read (directly, not through the counter). */
const PHASE_POLL_MS = 250;
const POLL_WAIT_SECONDS = 1;
const STOP_DRAIN_MS = 2_000;
/** Calls left out at the end of the client phase's utilisation (the tail). */
const TAIL_SHARE_OF_LIMIT = 0.1;
const BYTES_PER_MB = 1_048_576;

/** What the scenario runs. */
export interface ScaleScenarioOptions {
  readonly name: string;
  readonly phaseTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** One NDJSON line of the import file. */
function importLine(user: BenchUser): string {
  return JSON.stringify({ kind: user.kind, partnerUserId: user.partnerUserId, ...user.fields });
}

/** The function a live worker process runs (from its command line), or undefined. */
async function functionOfWorker(pid: number): Promise<string | undefined> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8');
  return cmdline.match(/"functionName":"([a-z-]+)"/)?.[1];
}

/** The CPU priorities (niceness) of the live workers of `functionName`, ascending. */
async function nicenessOf(pids: readonly number[], functionName: string): Promise<number[]> {
  const values: number[] = [];
  for (const pid of pids) {
    try {
      if ((await functionOfWorker(pid)) === functionName) values.push(getPriority(pid));
    } catch {
      // The worker ended meanwhile (or no /proc): nothing to report for it.
    }
  }
  return values.sort((a, b) => a - b);
}

/** Peak RSS (VmHWM) of each live worker, by function; empty where /proc is not there. */
async function peakRssByFunction(pids: readonly number[]): Promise<Record<string, number[]>> {
  const byFunction: Record<string, number[]> = {};
  for (const pid of pids) {
    try {
      const [status, functionName] = await Promise.all([
        readFile(`/proc/${pid}/status`, 'utf8'),
        functionOfWorker(pid),
      ]);
      const kb = Number(status.match(/^VmHWM:\s+(\d+)\s+kB/m)?.[1]);
      const name = functionName ?? 'unknown';
      if (!Number.isFinite(kb)) continue;
      const sizes = byFunction[name] ?? [];
      sizes.push((kb * 1024) / BYTES_PER_MB);
      byFunction[name] = sizes;
    } catch {
      // The worker ended meanwhile (or no /proc): nothing to report for it.
    }
  }
  for (const sizes of Object.values(byFunction)) sizes.sort((a, b) => a - b);
  return byFunction;
}

/** Runs the scenario; resolves with its result. */
export async function runScaleScenario(
  options: ScaleScenarioOptions,
): Promise<ScenarioResult & { scale: ScaleFigures }> {
  const { log, name } = options;
  const workload = buildWorkload(SCALE_WORKLOAD);
  const counter = await startDynamoCounter();
  const applied = new AppliedLog();
  let stack: LocalStack | undefined;
  let sqs: SQSClient | undefined;
  let simulator: RemoteSimulator | undefined;
  try {
    simulator = await startRemoteSimulator({ rateLimit: simulatorRateLimit(0, SCALE_KEY) });
    const upheal = simulator;
    const warmingFrom = Date.now();
    stack = await startLocalStack({
      uphealUrl: simulator.url,
      uphealApiKey: DEFAULT_API_KEY,
      functions: [...FUNCTIONS],
      env: {
        ...scaledLimiterEnv(SCALE_KEY),
        AWS_ENDPOINT_URL_DYNAMODB: counter.url,
        LOG_LEVEL: 'DEBUG',
      },
      concurrency: { imports: SCALE_WORKERS, assignments: SCALE_WORKERS },
      logSink: applied.sink,
      pollWaitSeconds: POLL_WAIT_SECONDS,
      drainMs: STOP_DRAIN_MS,
      warmWorkers: true,
      // On Lambda, initial-sync's planning and fan-out run on CPU of their own (docs/benchmark.md).
      lowPriorityFunctions: ['initial-sync'],
    });
    const stackStartMs = Date.now() - warmingFrom;
    const initialSyncNiceness = await nicenessOf(stack.workerPids(), 'initial-sync');
    counter.setUpstream(stack.endpoints.dynamodb);
    if (workload.seeded.length > 0) await simulator.seedUsers(workload.seeded);
    // The bench's own reads (the job's phase) go straight to dynalite, uncounted.
    const benchEnv = { ...stack.env, AWS_ENDPOINT_URL_DYNAMODB: stack.endpoints.dynamodb };
    const target = targetFromEnv(benchEnv);
    const s3 = s3ClientFrom(benchEnv);
    sqs = new SQSClient({
      region: LOCAL_REGION,
      credentials: LOCAL_CREDENTIALS,
      endpoint: stack.endpoints.sqs,
    });
    const client = sqs;
    // Providers first in the file, as an export would list them; the job orders them anyway.
    const users: BenchUser[] = [...workload.providers, ...workload.clients];
    await s3.send(
      new PutObjectCommand({
        Bucket: stack.bucketName,
        Key: OBJECT_KEY,
        Body: `${users.map(importLine).join('\n')}\n`,
      }),
    );
    s3.destroy();
    const eventIdOf = new Map(users.map((user, index) => [user, importEventId(JOB_ID, index + 1)]));
    const providerIds = workload.providers.map((user) => eventIdOf.get(user)!);
    const clientIds = workload.clients.map((user) => eventIdOf.get(user)!);
    const multiIds = workload.clients
      .filter((user) => user.fields.providerPartnerUserIds.length > 1)
      .map((user) => eventIdOf.get(user)!);
    const liveUrl = stack.queueUrls.userEvents;
    const trickle = new LiveTrickle(LIVE_INTERVAL_MS, async (live) => {
      await client.send(
        new SendMessageCommand({
          QueueUrl: liveUrl,
          MessageBody: JSON.stringify(upsertEvent(live.user, live.eventId, EXPORTED_AT)),
          MessageGroupId: live.user.partnerUserId,
          MessageDeduplicationId: live.eventId,
        }),
      );
    });

    const cpuSampler = new CpuSampler();
    cpuSampler.start();
    // The first publish: the job's start, as `upheal-sync import` sends it.
    const startedAt = Date.now();
    trickle.start();
    await target.controlQueue().send({
      type: 'start',
      jobId: JOB_ID,
      source: { bucket: stack.bucketName, key: OBJECT_KEY },
      format: 'ndjson',
      exportedAt: EXPORTED_AT,
    });
    let clientPhaseIndex: number | undefined;
    let phase: string = JOB_PHASES.planning;
    const phaseSeenAtMs: Record<string, number> = {};
    let clientsQueuedAtMs = Number.NaN;
    const phaseTimer = setInterval(() => {
      target.jobs
        .get(JOB_ID)
        .then(async (job) => {
          if (!job) return;
          phaseSeenAtMs[job.phase] ??= Date.now() - startedAt;
          // Every client queued: the cursor at the file's last line (clients come last), or
          // the job already completed between two polls.
          const queued =
            (job.phase === JOB_PHASES.clients && job.cursor >= users.length) ||
            job.phase === JOB_PHASES.completed;
          if (queued && Number.isNaN(clientsQueuedAtMs)) clientsQueuedAtMs = Date.now() - startedAt;
          if (job.phase === JOB_PHASES.clients && clientPhaseIndex === undefined)
            clientPhaseIndex = (await upheal.stats()).arrivals;
          phase = job.phase;
        })
        .catch(() => {});
    }, PHASE_POLL_MS);
    const everythingApplied = () =>
      applied.countApplied('sync-user', providerIds) === providerIds.length &&
      applied.countApplied('sync-user', clientIds) === clientIds.length &&
      applied.countAssigned(multiIds) === multiIds.length;
    let complete = await applied.waitUntil(everythingApplied, {
      timeoutMs: options.phaseTimeoutMs,
      progressMs: PROGRESS_MS,
      progress: () => {
        upheal
          .stats()
          .then((stats) =>
            log(
              `  [${name}] ${phase}: providers ${applied.countApplied('sync-user', providerIds)}/${providerIds.length}` +
                ` clients ${applied.countApplied('sync-user', clientIds)}/${clientIds.length}` +
                ` assignments ${applied.countAssigned(multiIds)}/${multiIds.length}` +
                ` live ${trickle.published.length} | calls ${stats.totalCalls} (429: ${stats.rateLimited})` +
                ` | DynamoDB ${counter.counts().requests}`,
            ),
          )
          .catch(() => {});
      },
    });
    await trickle.stop();
    const liveIds = trickle.published.map((live) => live.eventId);
    complete =
      (await applied.waitUntil(
        () => applied.countApplied('sync-user', liveIds) === liveIds.length - trickle.errors,
        { timeoutMs: options.phaseTimeoutMs, progressMs: PROGRESS_MS, progress: () => {} },
      )) && complete;
    clearInterval(phaseTimer);
    const cpuSamples = cpuSampler.stop();
    const finishedAt = Math.max(
      ...[...providerIds, ...clientIds, ...liveIds].map(
        (id) => applied.get('sync-user', id)?.at ?? 0,
      ),
      ...multiIds.map((id) => applied.assignedAt(id) ?? 0),
    );
    const peakRssMb = await peakRssByFunction(stack.workerPids());
    const appliedTimes = providerIds.flatMap((id) => applied.get('sync-user', id)?.at ?? []);
    const firstAppliedAt = appliedTimes.length > 0 ? Math.min(...appliedTimes) : undefined;
    const clientTimes = clientIds.flatMap((id) => applied.get('sync-user', id)?.at ?? []);
    const sinceStart = (times: number[], pick: (...values: number[]) => number) =>
      times.length > 0 ? pick(...times) - startedAt : Number.NaN;
    target.close();

    const arrivals = await simulator.arrivals();
    const counts = callCounts(arrivals);
    const durationMs = finishedAt - startedAt;
    const perMs = SCALE_KEY.limit / SCALE_KEY.windowMs;
    const latencies = trickle.published.flatMap((live) => {
      const entry = applied.get('sync-user', live.eventId);
      return entry ? [entry.at - live.publishedAt] : [];
    });
    const problems = applied.problems();
    const clientStart = clientPhaseIndex ?? 0;
    const perSecond = timeline(arrivals);
    const clientPhaseAtS =
      clientPhaseIndex === undefined ? undefined : clientPhaseAt(arrivals, clientPhaseIndex);
    return {
      name,
      system: SYSTEMS.sync,
      workers: SCALE_WORKERS,
      foreignShare: 0,
      users: users.length + trickle.published.length,
      minimumCalls:
        users.reduce((sum, user) => sum + minimumCalls(user), 0) +
        trickle.published.length * LIVE_PROVIDER_CALLS,
      calls: counts.calls,
      rateLimited: counts.rateLimited,
      callsByRoute: counts.byRoute,
      utilisation: utilisation(arrivals.slice(clientStart), {
        limit: SCALE_KEY.limit,
        windowMs: SCALE_KEY.windowMs,
        tailCalls: SCALE_KEY.limit * TAIL_SHARE_OF_LIMIT,
      }),
      peaks: peaks(arrivals, SCALE_KEY.limit, SCALE_KEY.windowMs),
      dynamo: counter.counts(),
      live: { ...latencySummary(latencies), latenciesMs: latencies },
      timeline: perSecond,
      clientPhaseAtS,
      durationMs,
      complete,
      failures: problems.failures,
      retries: problems.retries,
      deferrals: applied.deferrals(),
      eventsPerSecond: applied.eventTimeline(arrivals[0]?.at ?? startedAt, TIMELINE_BUCKET_MS),
      mostDeferralsOfOneEvent: applied.mostDeferralsOfOneEvent(),
      scale: {
        limit: SCALE_KEY.limit,
        windowMs: SCALE_KEY.windowMs,
        floorMs: counts.calls / perMs,
        rate: durationMs > 0 ? counts.calls / (perMs * durationMs) : Number.NaN,
        peakRssMb,
        phaseSeenAtMs,
        stackStartMs,
        warmWorkers: stack.warmWorkers,
        firstImportAppliedAtMs:
          firstAppliedAt === undefined ? Number.NaN : firstAppliedAt - startedAt,
        initialSyncNiceness,
        switchMs: {
          lastProviderApplied: sinceStart(appliedTimes, Math.max),
          firstClientApplied: sinceStart(clientTimes, Math.min),
          clientsQueued: clientsQueuedAtMs,
        },
        shortfall: shortfall(perSecond.ownOk, clientPhaseAtS),
        cpu: cpuPerSecond(cpuSamples, perSecond.start, perSecond.ownOk.length),
      },
    };
  } finally {
    sqs?.destroy();
    await stack?.stop();
    await simulator?.stop();
    await counter.stop();
  }
}
