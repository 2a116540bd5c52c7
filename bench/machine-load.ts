/**
 * The machine's CPU over a run, from /proc/stat: how busy both cores were and how much time the
 * hypervisor gave to other guests (steal), per second of the run. Beside the calls per second it
 * tells a dip the machine made (cores saturated, or stolen) from one the product made.
 */
import { readFile } from 'node:fs/promises';
import { quantile } from './metrics.ts';

/** Cumulative CPU time of all cores (in the kernel's ticks) at one moment. */
export interface CpuSample {
  readonly atMs: number;
  readonly busy: number;
  readonly steal: number;
  readonly total: number;
}

/** Per second of a run: the share of the CPU busy, and the share stolen. */
export interface CpuPerSecond {
  readonly busy: readonly number[];
  readonly steal: readonly number[];
}

/**
 * The `cpu` line of /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal (guest
 * time is already counted in user). Undefined when the line is not there.
 */
export function parseProcStat(text: string, atMs: number): CpuSample | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith('cpu '));
  if (!line) return undefined;
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 8 || fields.some((value) => !Number.isFinite(value))) return undefined;
  const [u, n, s, i, w, q, sq, st] = fields as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return { atMs, busy: u + n + s + q + sq, steal: st, total: u + n + s + i + w + q + sq + st };
}

/**
 * Buckets consecutive samples into seconds from `startMs`: each interval between two samples
 * counts in the second its end falls in. A second without an interval is NaN.
 */
export function cpuPerSecond(
  samples: readonly CpuSample[],
  startMs: number,
  seconds: number,
): CpuPerSecond {
  const busy = Array.from({ length: seconds }, () => 0);
  const steal = Array.from({ length: seconds }, () => 0);
  const total = Array.from({ length: seconds }, () => 0);
  for (let index = 1; index < samples.length; index += 1) {
    const from = samples[index - 1]!;
    const to = samples[index]!;
    const second = Math.floor((to.atMs - startMs) / 1_000);
    if (second < 0 || second >= seconds) continue;
    busy[second]! += to.busy - from.busy;
    steal[second]! += to.steal - from.steal;
    total[second]! += to.total - from.total;
  }
  const share = (part: number[]) =>
    part.map((value, second) => (total[second]! > 0 ? value / total[second]! : Number.NaN));
  return { busy: share(busy), steal: share(steal) };
}

/** Steal above this share of a second counts as a second the machine was taken away. */
export const STEAL_NOTABLE_SHARE = 0.05;

/** The CPU in the seconds that dipped against the others, and the seconds with notable steal. */
export function cpuInDips(
  cpu: CpuPerSecond,
  isDip: (second: number) => boolean,
): { dipBusyMedian: number; otherBusyMedian: number; stealSeconds: number } {
  const dips: number[] = [];
  const others: number[] = [];
  cpu.busy.forEach((share, second) => {
    if (Number.isNaN(share)) return;
    (isDip(second) ? dips : others).push(share);
  });
  return {
    dipBusyMedian: dips.length > 0 ? quantile(dips, 0.5) : Number.NaN,
    otherBusyMedian: others.length > 0 ? quantile(others, 0.5) : Number.NaN,
    stealSeconds: cpu.steal.filter((share) => share > STEAL_NOTABLE_SHARE).length,
  };
}

/** Samples /proc/stat every `intervalMs` until stopped; no samples where there is no /proc. */
export class CpuSampler {
  readonly #samples: CpuSample[] = [];
  #timer: NodeJS.Timeout | undefined;

  start(intervalMs = 250): void {
    const sample = () => {
      readFile('/proc/stat', 'utf8')
        .then((text) => {
          const parsed = parseProcStat(text, Date.now());
          if (parsed) this.#samples.push(parsed);
        })
        .catch(() => {});
    };
    sample();
    this.#timer = setInterval(sample, intervalMs);
  }

  stop(): readonly CpuSample[] {
    clearInterval(this.#timer);
    return [...this.#samples].sort((a, b) => a.atMs - b.atMs);
  }
}
