/**
 * Cold-start figures of each function bundle: its size on disk (source map aside) and its
 * module-init time — the time `import()` of the bundle takes in a fresh Node process with the
 * function's configuration, which is what a Lambda cold start adds to the runtime's own start —
 * and the CPU time that import takes, which a busy machine disturbs less than the wall time.
 * Measured against a local stack's environment (the bundles read and validate it at init).
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startLocalStack } from '#tools/local/stack.ts';
import { BUNDLE_DIR, functionNames } from '../scripts/build.ts';

const run = promisify(execFile);

/** Fresh processes per bundle; the median is reported. */
const SAMPLES = 5;

/** One bundle's figures. */
export interface ColdStart {
  readonly functionName: string;
  readonly bundleBytes: number;
  /** Median module-init time over SAMPLES fresh processes, in ms. */
  readonly initMsMedian: number;
  readonly initMsSamples: readonly number[];
  /** Median CPU time (user + system) of the same imports, in ms. */
  readonly initCpuMsMedian: number;
  readonly initCpuMsSamples: readonly number[];
}

/**
 * Times `import()` of the bundle inside the child, so process start-up is not counted; prints
 * `[wall ms, CPU ms]`.
 */
const INIT_PROBE = `const started = performance.now();
const cpu = process.cpuUsage();
await import(process.argv[1]);
const used = process.cpuUsage(cpu);
process.stdout.write(JSON.stringify([performance.now() - started, (used.user + used.system) / 1000]));`;

/** The median of `samples`. */
function median(samples: readonly number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Size and module-init time of every built bundle. */
export async function measureColdStarts(): Promise<ColdStart[]> {
  const stack = await startLocalStack({ functions: [], pollWaitSeconds: 1 });
  try {
    const results: ColdStart[] = [];
    for (const functionName of functionNames()) {
      const bundle = resolve(join(BUNDLE_DIR, functionName, 'index.mjs'));
      const { size } = await stat(bundle);
      const env = {
        ...stack.env,
        PATH: process.env.PATH ?? '',
        TZ: 'UTC',
        AWS_LAMBDA_FUNCTION_NAME: functionName,
        // As deployed (infra/cloudformation.ts): loading the source map is part of the init.
        NODE_OPTIONS: '--enable-source-maps',
      };
      const samples: number[] = [];
      const cpuSamples: number[] = [];
      for (let i = 0; i < SAMPLES; i += 1) {
        const { stdout } = await run(
          process.execPath,
          ['--input-type=module', '-e', INIT_PROBE, bundle],
          { env },
        );
        const [wallMs, cpuMs] = JSON.parse(stdout) as [number, number];
        samples.push(wallMs);
        cpuSamples.push(cpuMs);
      }
      results.push({
        functionName,
        bundleBytes: size,
        initMsMedian: median(samples),
        initMsSamples: samples,
        initCpuMsMedian: median(cpuSamples),
        initCpuMsSamples: cpuSamples,
      });
    }
    return results;
  } finally {
    await stack.stop();
  }
}

/** A Markdown table of the figures. */
export function formatColdStarts(results: readonly ColdStart[]): string {
  const rows = results.map(
    (result) =>
      `| ${result.functionName} | ${(result.bundleBytes / 1_048_576).toFixed(2)} MiB | ${result.initMsMedian.toFixed(0)} ms | ${result.initCpuMsMedian.toFixed(0)} ms |`,
  );
  return [
    '| function | bundle | module init (median) | module init CPU (median) |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}
