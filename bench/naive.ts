/**
 * The naive baseline: the same workload against the same scaled simulator, synced by W async
 * loops that each call Upheal directly (own client and connections each, like separate Lambdas), with no
 * shared rate-limit state: every 429 is retried with capped exponential backoff and full jitter,
 * the textbook policy (1 s doubling up to 60 s in production, scaled by TIME_SCALE). They take
 * live work before bulk work (two queues, as the product has), check before create, and keep
 * the partner → Upheal ids in memory (the work distribution is shared, the rate is not).
 */
import { RateLimitedError } from '#lib/errors.ts';
import { createClientBody, createProviderBody } from '#lib/sync/fields.ts';
import { UphealClient } from '#lib/upheal/client.ts';
import { DEFAULT_API_KEY } from '#tools/simulator/options.ts';
import { type LivePublished, LiveTrickle } from './live-trickle.ts';
import {
  callCounts,
  clientPhaseAt,
  latencySummary,
  peaks,
  timeline,
  utilisation,
} from './metrics.ts';
import { type ScenarioResult, SYSTEMS } from './result.ts';
import {
  LIVE_INTERVAL_MS,
  SCALED,
  simulatorRateLimit,
  TAIL_CALLS,
  TIME_SCALE,
} from './settings.ts';
import { startRemoteSimulator } from './simulator-process.ts';
import { type BenchUser, minimumCalls, type Workload } from './workload.ts';

/** What a naive scenario runs. */
export interface NaiveScenarioOptions {
  readonly name: string;
  readonly workers: number;
  readonly foreignShare: number;
  readonly workload: Workload;
  readonly phaseTimeoutMs: number;
  readonly log: (line: string) => void;
}

/** Backoff after the first 429: 1 s in production. */
const BASE_BACKOFF_MS = 1_000 / TIME_SCALE;
/** Longest backoff: 60 s in production. */
const MAX_BACKOFF_MS = 60_000 / TIME_SCALE;
/** Attempts of one call before the user is given up (counted as a failure). */
const MAX_ATTEMPTS = 12;
/** Per-request timeout of the naive clients. */
const TIMEOUT_MS = 10_000;
/** A loop with nothing to do looks again after this long. */
const IDLE_MS = 10;
/** Progress line interval. */
const PROGRESS_MS = 5_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Full-jitter exponential backoff for the n-th retry (0-based). */
function backoffMs(retry: number): number {
  return Math.random() * Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** retry);
}

/** Runs the naive baseline on a fresh simulator. */
export async function runNaiveScenario(options: NaiveScenarioOptions): Promise<ScenarioResult> {
  const { workload, log, name } = options;
  const simulator = await startRemoteSimulator({
    rateLimit: simulatorRateLimit(options.foreignShare),
  });
  const clients = Array.from(
    { length: options.workers },
    () =>
      new UphealClient({ baseUrl: simulator.url, apiKey: DEFAULT_API_KEY, timeoutMs: TIMEOUT_MS }),
  );
  try {
    if (workload.seeded.length > 0) await simulator.seedUsers(workload.seeded);
    const uphealIds = new Map<string, string>();
    let failures = 0;
    let retries = 0;
    let liveFailed = 0;
    const failureKinds: Record<string, number> = {};
    const liveDone = new Map<string, number>();
    const liveQueue: LivePublished[] = [];
    const trickle = new LiveTrickle(LIVE_INTERVAL_MS, async (live) => {
      liveQueue.push(live);
    });

    /** One call, retried on 429 with backoff; other errors are the user's failure. */
    const call = async <T>(send: () => Promise<T>): Promise<T> => {
      for (let attempt = 0; ; attempt += 1) {
        try {
          return await send();
        } catch (error) {
          if (!(error instanceof RateLimitedError) || attempt + 1 >= MAX_ATTEMPTS) throw error;
          retries += 1;
          await sleep(error.retryAfterMs ?? backoffMs(attempt));
        }
      }
    };

    const syncOne = async (upheal: UphealClient, user: BenchUser): Promise<void> => {
      const email = user.fields.email;
      const found = email ? await call(() => upheal.checkUser(email)) : { exists: false as const };
      let userId = found.exists ? found.userId : undefined;
      if (!userId) {
        if (user.kind === 'provider') {
          const created = await call(() =>
            upheal.createProvider(createProviderBody(user.partnerUserId, user.fields)),
          );
          userId = created.userId;
        } else {
          const primary = uphealIds.get(user.fields.providerPartnerUserIds[0]!)!;
          const created = await call(() =>
            upheal.createClient(createClientBody(user.partnerUserId, user.fields, primary)),
          );
          userId = created.userId;
        }
      }
      uphealIds.set(user.partnerUserId, userId);
      if (user.kind === 'client' && user.fields.providerPartnerUserIds.length > 1) {
        const providerIds = user.fields.providerPartnerUserIds.map((id) => uphealIds.get(id)!);
        const id = userId;
        await call(() => upheal.replaceProviders(id, providerIds));
      }
    };

    /** W loops over one phase's bulk list, live work first; resolves when the list is done. */
    const runPhase = async (phase: string, bulk: BenchUser[], drainLive: boolean) => {
      const total = bulk.length;
      let done = 0;
      const deadline = Date.now() + options.phaseTimeoutMs;
      const timer = setInterval(() => {
        simulator
          .stats()
          .then((stats) =>
            log(
              `  [${name}] ${phase}: ${done}/${total} live ${liveDone.size}/${trickle.published.length}` +
                ` | calls ${stats.totalCalls} (429: ${stats.rateLimited})`,
            ),
          )
          .catch(() => {});
      }, PROGRESS_MS);
      const loop = async (upheal: UphealClient) => {
        while (Date.now() < deadline) {
          const live = liveQueue.shift();
          const item = live?.user ?? bulk.shift();
          if (!item) {
            if (!drainLive || liveDone.size + liveFailed >= trickle.published.length) return;
            await sleep(IDLE_MS);
            continue;
          }
          try {
            await syncOne(upheal, item);
            if (live) liveDone.set(live.eventId, Date.now());
            else done += 1;
          } catch (error) {
            failures += 1;
            if (live) liveFailed += 1;
            const kind = error instanceof Error ? error.name : typeof error;
            failureKinds[kind] = (failureKinds[kind] ?? 0) + 1;
          }
        }
      };
      await Promise.all(clients.map(loop));
      clearInterval(timer);
      // Complete when every user was processed (synced or given up after MAX_ATTEMPTS).
      return bulk.length === 0;
    };

    const startedAt = Date.now();
    trickle.start();
    let complete = await runPhase('providers', [...workload.providers], false);
    const clientPhaseIndex = (await simulator.stats()).arrivals;
    complete = (await runPhase('clients', [...workload.clients], false)) && complete;
    await trickle.stop();
    complete = (await runPhase('live', [], true)) && complete;
    const finishedAt = Date.now();

    const arrivals = await simulator.arrivals();
    const counts = callCounts(arrivals);
    const latencies = trickle.published.flatMap((live) => {
      const doneAt = liveDone.get(live.eventId);
      return doneAt === undefined ? [] : [doneAt - live.publishedAt];
    });
    const users: BenchUser[] = [
      ...workload.providers,
      ...workload.clients,
      ...trickle.published.map((live) => live.user),
    ];
    return {
      name,
      system: SYSTEMS.naive,
      workers: options.workers,
      foreignShare: options.foreignShare,
      users: users.length,
      minimumCalls: users.reduce((sum, user) => sum + minimumCalls(user), 0),
      calls: counts.calls,
      rateLimited: counts.rateLimited,
      callsByRoute: counts.byRoute,
      utilisation: utilisation(arrivals.slice(clientPhaseIndex), {
        limit: SCALED.limit,
        windowMs: SCALED.windowMs,
        tailCalls: TAIL_CALLS,
      }),
      peaks: peaks(arrivals, SCALED.limit, SCALED.windowMs),
      dynamo: undefined,
      live: { ...latencySummary(latencies), latenciesMs: latencies },
      timeline: timeline(arrivals),
      clientPhaseAtS: clientPhaseAt(arrivals, clientPhaseIndex),
      durationMs: finishedAt - startedAt,
      complete,
      failures,
      retries,
      deferrals: {},
      failureKinds,
    };
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await simulator.stop();
  }
}
