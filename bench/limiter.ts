/**
 * Benchmark of the shared limiter alone (docs/limits.md): worker processes with a backlog call the
 * Upheal simulator (exact sliding window, 300 per 10 s) through DynamoRateLimiter on dynalite, at
 * 1, 4 and 16 workers, with and without a foreign client taking 30 % of the budget, next to a
 * naive baseline (no shared state; each worker retries 429s with exponential backoff). Every rate
 * and peak is counted by the simulator, not by the workers.
 *
 *   node bench/limiter.ts [--seconds 30] [--workers 1,4,16] [--foreign 0,0.3] [--modes limiter,naive]
 *
 * Prints a table and writes bench/results/limiter-<time>.json.
 */
import { fork } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { deriveParams } from '#lib/limiter/gcra.ts';
import { createTable, startDynamoDb } from '#tools/local/aws-services.ts';
import { startSimulator } from '#tools/simulator/server.ts';
import {
  type BenchWorkerInput,
  type BenchWorkerOutput,
  WORKER_MODES,
  type WorkerMode,
} from './limiter-protocol.ts';

/** Production figures, and the time scale of the run (300 per 10 s). */
const PRODUCTION = { limit: 300, windowMs: 60_000, jitterMs: 1_000, horizonMs: 3_000 } as const;
const WINDOW_MS = 10_000;
/** Every time constant shrinks with the window (research §6.2), so utilisation is comparable. */
const TIME_SCALE = WINDOW_MS / PRODUCTION.windowMs;
const SCALED = {
  limit: PRODUCTION.limit,
  windowMs: WINDOW_MS,
  jitterMs: Math.round(PRODUCTION.jitterMs * TIME_SCALE),
  horizonMs: Math.round(PRODUCTION.horizonMs * TIME_SCALE),
} as const;
/** The naive baseline's backoff: 1 s doubling to 30 s at production scale. */
const NAIVE_BASE_MS = Math.round(1_000 * TIME_SCALE);
const NAIVE_CAP_MS = Math.round(30_000 * TIME_SCALE);
/** Windows at the start of a run left out of the achieved rate (start-up, AIMD convergence). */
const WARM_UP_WINDOWS = 1;
/** Time for the worker processes to start before the first call. */
const START_DELAY_MS = 4_000;
/** A worker process is killed if it outlives its run by this much. */
const KILL_GRACE_MS = 30_000;
const TABLE_NAME = 'limiter-bench';

/** One benchmark scenario's figures. */
interface ScenarioResult {
  readonly mode: WorkerMode;
  readonly workers: number;
  readonly foreignShare: number;
  readonly seconds: number;
  /** Own admitted calls per window after the warm-up ÷ N. */
  readonly rateOfLimit: number;
  /** The same ÷ the share the foreign client leaves. */
  readonly rateOfRemaining: number;
  /** Most counted arrivals (ours and foreign) in any sliding window ÷ N. */
  readonly peakOfLimit: number;
  readonly calls: number;
  readonly rateLimited: number;
  readonly rateLimitedShare: number;
  readonly writesPerCall: number | null;
  readonly readsPerCall: number | null;
  readonly conditionalFailures: number | null;
  readonly deferrals: number;
}

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    workers: { type: 'string', default: '1,4,16' },
    foreign: { type: 'string', default: '0,0.3' },
    modes: { type: 'string', default: 'limiter,naive' },
  },
});
const seconds = Number(values.seconds);
const workerCounts = values.workers.split(',').map(Number);
const foreignShares = values.foreign.split(',').map(Number);
const isMode = (mode: string): mode is WorkerMode =>
  (Object.values(WORKER_MODES) as string[]).includes(mode);
const modes = values.modes.split(',').filter(isMode);

const workerScript = fileURLToPath(new URL('./limiter-worker.ts', import.meta.url));

const runWorker = (input: BenchWorkerInput): Promise<BenchWorkerOutput> =>
  new Promise((resolve, reject) => {
    const child = fork(workerScript, [JSON.stringify(input)], {
      execPath: process.execPath,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const timer = setTimeout(() => child.kill(), input.endAt - Date.now() + KILL_GRACE_MS);
    let output: BenchWorkerOutput | undefined;
    child.on('message', (message) => {
      output = message as BenchWorkerOutput;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (output && code === 0) resolve(output);
      else reject(new Error(`bench worker exited with ${code}`));
    });
  });

const dynamo = await startDynamoDb();
const client = new DynamoDBClient({
  endpoint: dynamo.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
});
await createTable(client, TABLE_NAME);
const results: ScenarioResult[] = [];
let scenarioIndex = 0;

try {
  for (const foreignShare of foreignShares) {
    for (const workers of workerCounts) {
      for (const mode of modes) {
        scenarioIndex += 1;
        // A key per scenario: a fresh limiter item and a fresh simulator limit.
        const apiKey = `bench-key-${scenarioIndex}-${process.pid}`;
        const simulator = await startSimulator({
          apiKeys: [apiKey],
          rateLimit: {
            limit: SCALED.limit,
            windowMs: SCALED.windowMs,
            mode: 'sliding',
            foreignShare,
          },
        });
        try {
          const startAt = Date.now() + START_DELAY_MS;
          const endAt = startAt + seconds * 1_000;
          const outputs = await Promise.all(
            Array.from({ length: workers }, (_, index) =>
              runWorker({
                mode,
                simulatorUrl: simulator.url,
                dynamoEndpoint: dynamo.endpoint,
                tableName: TABLE_NAME,
                apiKey,
                ...SCALED,
                naiveBaseMs: NAIVE_BASE_MS,
                naiveCapMs: NAIVE_CAP_MS,
                startAt,
                endAt,
                index,
              }),
            ),
          );
          const measuredFrom = startAt + WARM_UP_WINDOWS * SCALED.windowMs;
          const measured = simulator.stats(measuredFrom);
          const whole = simulator.stats(startAt);
          const windows = (endAt - measuredFrom) / SCALED.windowMs;
          const rateOfLimit = measured.admitted / windows / SCALED.limit;
          const sum = (pick: (output: BenchWorkerOutput) => number) =>
            outputs.reduce((total, output) => total + pick(output), 0);
          const calls = sum((output) => output.calls);
          const rateLimited = sum((output) => output.rateLimited);
          const limiterStats = outputs.flatMap((output) => (output.stats ? [output.stats] : []));
          const perCall = (pick: (stats: NonNullable<BenchWorkerOutput['stats']>) => number) =>
            limiterStats.length === 0
              ? null
              : limiterStats.reduce((total, stats) => total + pick(stats), 0) / calls;
          const result: ScenarioResult = {
            mode,
            workers,
            foreignShare,
            seconds,
            rateOfLimit,
            rateOfRemaining: rateOfLimit / (1 - foreignShare),
            peakOfLimit: whole.peakInWindow / SCALED.limit,
            calls,
            rateLimited,
            rateLimitedShare: calls === 0 ? 0 : rateLimited / calls,
            writesPerCall: perCall((stats) => stats.writes),
            readsPerCall: perCall((stats) => stats.reads),
            conditionalFailures:
              limiterStats.length === 0
                ? null
                : limiterStats.reduce((total, stats) => total + stats.conditionalFailures, 0),
            deferrals: sum((output) => output.deferrals),
          };
          results.push(result);
          console.info(JSON.stringify(result));
        } finally {
          await simulator.stop();
        }
      }
    }
  }
} finally {
  client.destroy();
  await dynamo.stop();
}

const params = deriveParams(SCALED);
const percent = (value: number) => `${(100 * value).toFixed(1)} %`;
const fixed = (value: number | null) => (value === null ? '–' : value.toFixed(2));
const header = [
  'mode',
  'workers',
  'foreign',
  'rate ÷ limit',
  'rate ÷ remaining',
  'peak ÷ limit',
  '429s',
  '429 share',
  'writes/call',
  'reads/call',
];
const rows = results.map((result) => [
  result.mode,
  String(result.workers),
  percent(result.foreignShare),
  percent(result.rateOfLimit),
  percent(result.rateOfRemaining),
  result.peakOfLimit.toFixed(3),
  String(result.rateLimited),
  percent(result.rateLimitedShare),
  fixed(result.writesPerCall),
  fixed(result.readsPerCall),
]);
const widths = header.map((title, column) =>
  Math.max(title.length, ...rows.map((row) => row[column]!.length)),
);
const line = (cells: readonly string[]) =>
  `| ${cells.map((cell, column) => cell.padEnd(widths[column]!)).join(' | ')} |`;
console.info(
  `\nlimit ${SCALED.limit} per ${SCALED.windowMs} ms (sliding), J ${SCALED.jitterMs} ms, ` +
    `H ${SCALED.horizonMs} ms, safe cap ${percent(SCALED.windowMs / params.safeIntervalMs / SCALED.limit)} of the limit, ` +
    `${seconds} s per run (first ${WARM_UP_WINDOWS} window not counted in the rate)`,
);
console.info(line(header));
console.info(line(widths.map((width) => '-'.repeat(width))));
for (const row of rows) console.info(line(row));

const resultsDir = fileURLToPath(new URL('./results/', import.meta.url));
await mkdir(resultsDir, { recursive: true });
const file = `${resultsDir}limiter-${new Date().toISOString().replaceAll(':', '-')}.json`;
await writeFile(file, `${JSON.stringify({ scaled: SCALED, seconds, results }, null, 2)}\n`);
console.info(`\nJSON: ${file}`);
