/**
 * `npm run bench` (after `npm run build`): the performance figures of the product and for a naive
 * baseline on the same workload, under a sliding window scaled to 300 requests per 10 s.
 * Prints progress, then a Markdown table and the targets met or missed, and writes
 * `bench/results/latest.json` and one SVG plot per scenario beside it. `BENCH_QUICK=1` runs a small version (about two minutes);
 * `BENCH_ONLY=name,name` runs only the named scenarios (`cold start` names the bundle sizes and
 * module-init times, measured after the scenarios; `scale 10k` the 10 000-user import). The
 * import-mode scenarios (`create-first W=4`, `auto W=4`, and `auto W=4 30 % existing` beside
 * `sync W=4 30 % existing`) are judged against `sync W=4` and its 30 % counterpart when those ran
 * too. See docs/benchmark.md.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { IMPORT_MODES, type ImportMode } from '#lib/import/import-mode.ts';
import type { FaultOptions } from '#tools/simulator/options.ts';
import { type ColdStart, formatColdStarts, measureColdStarts } from './cold-start.ts';
import { runNaiveScenario } from './naive.ts';
import { plotFileName, renderScenarioSvg } from './plot.ts';
import {
  assessTargets,
  formatMostDeferrals,
  formatScale,
  formatTable,
  formatVerdicts,
} from './report.ts';
import type { ScenarioResult } from './result.ts';
import { runScaleScenario } from './scale-scenario.ts';
import { LIGHT_FAULTS, LIVE_INTERVAL_MS, SCALED, TAIL_CALLS, TIME_SCALE } from './settings.ts';
import { runSyncScenario } from './sync-scenario.ts';
import { buildWorkload, type WorkloadSize } from './workload.ts';

const MS_PER_SECOND = 1_000;

/** Where the JSON goes (git-ignored). */
const RESULTS_FILE = fileURLToPath(new URL('./results/latest.json', import.meta.url));

/** The full workload: ≈ 1 500 calls, ≈ 50 s of backlog per scenario at the scaled limit. */
const FULL: WorkloadSize = {
  providers: 60,
  clients: 600,
  multiProviderEvery: 4,
  preExistingProviders: 5,
};
/** The quick workload: ≈ 550 calls. */
const QUICK: WorkloadSize = {
  providers: 20,
  clients: 240,
  multiProviderEvery: 4,
  preExistingProviders: 2,
};
/** Longest wait for one phase of a scenario before it is reported incomplete. */
const PHASE_TIMEOUT_MS = { full: 240_000, quick: 120_000 } as const;
/** Longest wait for the scale scenario's import (it needs about 7 minutes). */
const SCALE_TIMEOUT_MS = 900_000;
/** The name that selects the cold-start measurement in BENCH_ONLY. */
const COLD_START = 'cold start';
/** The sync-user bundle target (the function every event runs through). */
const SYNC_USER_BUNDLE_LIMIT_BYTES = 1_048_576;
/** The share of the budget the foreign client takes in the foreign scenarios. */
const FOREIGN_SHARE = 0.3;
/** The share of users already in Upheal in the "existing" scenarios. */
const EXISTING_SHARE = 0.3;
/** The larger foreign share measured as well: the key's owner leaves us only 40 %. */
const LARGE_FOREIGN_SHARE = 0.6;

/** One scenario to run. */
interface Plan {
  readonly name: string;
  readonly system: 'sync' | 'naive' | 'scale';
  readonly workers: number;
  readonly foreignShare: number;
  readonly rerun?: boolean;
  /** The import mode (sync only; default check-first). */
  readonly mode?: ImportMode;
  /** Run on the workload with EXISTING_SHARE of every kind of user already in Upheal. */
  readonly existing?: boolean;
  /** The simulator's faults (the product's scenarios only). */
  readonly faults?: Partial<FaultOptions>;
}

/** The import-mode scenarios: a fresh organisation, and one with 30 % of its users in Upheal. */
const MODE_PLAN: readonly Plan[] = [
  { name: 'create-first W=4', system: 'sync', workers: 4, foreignShare: 0, mode: 'create-first' },
  { name: 'auto W=4', system: 'sync', workers: 4, foreignShare: 0, mode: 'auto' },
  { name: 'sync W=4 30 % existing', system: 'sync', workers: 4, foreignShare: 0, existing: true },
  {
    name: 'auto W=4 30 % existing',
    system: 'sync',
    workers: 4,
    foreignShare: 0,
    mode: 'auto',
    existing: true,
  },
];

const FULL_PLAN: readonly Plan[] = [
  { name: 'sync W=1', system: 'sync', workers: 1, foreignShare: 0 },
  { name: 'naive W=1', system: 'naive', workers: 1, foreignShare: 0 },
  { name: 'sync W=4', system: 'sync', workers: 4, foreignShare: 0, rerun: true },
  { name: 'naive W=4', system: 'naive', workers: 4, foreignShare: 0 },
  { name: 'sync W=16', system: 'sync', workers: 16, foreignShare: 0 },
  { name: 'naive W=16', system: 'naive', workers: 16, foreignShare: 0 },
  { name: 'sync W=4 foreign', system: 'sync', workers: 4, foreignShare: FOREIGN_SHARE },
  { name: 'naive W=4 foreign', system: 'naive', workers: 4, foreignShare: FOREIGN_SHARE },
  ...MODE_PLAN,
  {
    name: 'sync W=4 foreign faults',
    system: 'sync',
    workers: 4,
    foreignShare: FOREIGN_SHARE,
    faults: LIGHT_FAULTS,
  },
  { name: 'sync W=4 foreign 60%', system: 'sync', workers: 4, foreignShare: LARGE_FOREIGN_SHARE },
  // Its own workload and key (bench/scale-scenario.ts); last, being the longest.
  { name: 'scale 10k', system: 'scale', workers: 16, foreignShare: 0 },
];
const QUICK_PLAN: readonly Plan[] = [
  { name: 'sync W=4', system: 'sync', workers: 4, foreignShare: 0, rerun: true },
  { name: 'naive W=4', system: 'naive', workers: 4, foreignShare: 0 },
  { name: 'sync W=4 foreign', system: 'sync', workers: 4, foreignShare: FOREIGN_SHARE },
  ...MODE_PLAN,
];

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const quick = process.env.BENCH_QUICK === '1';
  const only = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());
  const size = quick ? QUICK : FULL;
  const plan = (quick ? QUICK_PLAN : FULL_PLAN).filter(
    (entry) => !only || only.includes(entry.name),
  );
  const workload = buildWorkload(size);
  const existingWorkload = buildWorkload({
    ...size,
    preExistingProviders: 0,
    preExistingShare: EXISTING_SHARE,
  });
  const phaseTimeoutMs = quick ? PHASE_TIMEOUT_MS.quick : PHASE_TIMEOUT_MS.full;
  const startedAt = Date.now();
  log(
    `upheal-sync benchmark${quick ? ' (quick)' : ''}: limit ${SCALED.limit} per ${SCALED.windowMs / MS_PER_SECOND} s` +
      ` sliding (time ÷ ${TIME_SCALE}), jitter ${SCALED.jitterMs} ms, horizon ${SCALED.horizonMs} ms;` +
      ` ${size.providers} providers (${size.preExistingProviders} already in Upheal) + ${size.clients} clients` +
      ` (every ${size.multiProviderEvery}th with 2 providers); a live provider every ${LIVE_INTERVAL_MS} ms`,
  );
  const results: ScenarioResult[] = [];
  for (const entry of plan) {
    const began = Date.now();
    log(`▶ ${entry.name}`);
    const common = {
      name: entry.name,
      workers: entry.workers,
      foreignShare: entry.foreignShare,
      workload: entry.existing ? existingWorkload : workload,
      phaseTimeoutMs,
      log,
    };
    const produced =
      entry.system === 'sync'
        ? await runSyncScenario({
            ...common,
            rerun: entry.rerun ?? false,
            mode: entry.mode ?? IMPORT_MODES.checkFirst,
            ...(entry.faults ? { faults: entry.faults } : {}),
          })
        : entry.system === 'scale'
          ? [await runScaleScenario({ name: entry.name, phaseTimeoutMs: SCALE_TIMEOUT_MS, log })]
          : [await runNaiveScenario(common)];
    for (const result of produced) {
      results.push(result);
      log(
        `  ✔ ${result.name}: ${result.calls} calls, ${result.rateLimited} × 429, rate/N ` +
          `${result.utilisation?.mean.toFixed(3) ?? '—'}, peak/N ${result.peaks.offered.toFixed(3)}` +
          `${result.dynamo ? `, ${result.dynamo.writes} DynamoDB writes` : ''}` +
          `${result.complete ? '' : ' — INCOMPLETE'}`,
      );
    }
    log(`  (${((Date.now() - began) / 1000).toFixed(0)} s)`);
  }
  const coldStarts: ColdStart[] =
    only && !only.includes(COLD_START) ? [] : await measureColdStarts();
  const verdicts = assessTargets(results);
  log('');
  log(formatTable(results));
  log('');
  log(formatVerdicts(verdicts));
  const scale = formatScale(results);
  if (scale) log(`\n${scale}`);
  const mostDeferrals = formatMostDeferrals(results);
  if (mostDeferrals) log(`\n${mostDeferrals}`);
  if (coldStarts.length > 0) {
    log('');
    log(formatColdStarts(coldStarts));
    const syncUser = coldStarts.find((entry) => entry.functionName === 'sync-user');
    if (syncUser) {
      const met = syncUser.bundleBytes <= SYNC_USER_BUNDLE_LIMIT_BYTES;
      log(
        `${met ? 'met' : 'MISSED'}: sync-user bundle ${(syncUser.bundleBytes / 1_048_576).toFixed(2)} MiB (target ≤ 1 MiB, source map aside)`,
      );
    }
  }
  log(`\ntotal ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
  await mkdir(fileURLToPath(new URL('./results/', import.meta.url)), { recursive: true });
  await writeFile(
    RESULTS_FILE,
    `${JSON.stringify(
      {
        generatedAt: new Date().toISOString(),
        quick,
        scaled: { ...SCALED, timeScale: TIME_SCALE, tailCalls: TAIL_CALLS },
        liveIntervalMs: LIVE_INTERVAL_MS,
        workload: size,
        results,
        verdicts,
        coldStarts,
      },
      null,
      2,
    )}\n`,
  );
  log(`results: ${RESULTS_FILE}`);
  const plotSettings = {
    limitPerSecond: SCALED.limit / (SCALED.windowMs / MS_PER_SECOND),
    liveIntervalMs: LIVE_INTERVAL_MS,
  };
  for (const result of results) {
    const file = new URL(`./results/${plotFileName(result.name)}`, import.meta.url);
    const limitPerSecond = result.scale
      ? result.scale.limit / (result.scale.windowMs / MS_PER_SECOND)
      : plotSettings.limitPerSecond;
    await writeFile(file, renderScenarioSvg(result, { ...plotSettings, limitPerSecond }));
  }
  if (results.length > 0)
    log(`plots: ${results.map((result) => plotFileName(result.name)).join(', ')} beside it`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`benchmark failed: ${error instanceof Error ? error.stack : error}\n`);
    process.exit(1);
  },
);
