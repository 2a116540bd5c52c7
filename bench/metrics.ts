/**
 * The benchmark's figures, computed from the simulator's arrival log (server side, not
 * self-reported by workers: research/rate-limiting.md §6.1). Pure functions over timestamps.
 */
import type { Arrival } from '#tools/simulator/traffic.ts';
import { peakInWindow } from '#tools/simulator/window-limiter.ts';

/** Step between the sliding windows sampled for the utilisation figures. */
export const WINDOW_SAMPLE_STEP_MS = 50;

/** Utilisation while a backlog exists. */
export interface Utilisation {
  /** Successful own calls per sliding window ÷ N: mean and 5th percentile. */
  readonly mean: number;
  readonly p5: number;
  /** Own successful calls ÷ the budget other clients left (N − their admitted calls) per window. */
  readonly shareMean: number;
  readonly shareP5: number;
  /** Sliding windows sampled (0: the backlog was shorter than one window). */
  readonly samples: number;
  /** The span whose windows were sampled: window ends in [from, to]. */
  readonly from: number;
  readonly to: number;
}

/** The q-quantile (0–1) of `values` by the nearest-rank method; NaN when empty. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** The arithmetic mean; NaN when empty. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** How many of `sorted` (ascending) lie in (end − windowMs, end]. */
function countIn(sorted: readonly number[], end: number, windowMs: number): number {
  return upperBound(sorted, end) - upperBound(sorted, end - windowMs);
}

/** Index of the first element greater than `value` in ascending `sorted`. */
function upperBound(sorted: readonly number[], value: number): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (sorted[middle]! <= value) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Own (not foreign) requests that got through the limiter and were not answered 429. */
export function isOwnSuccess(arrival: Arrival): boolean {
  return !arrival.foreign && arrival.key >= 0 && arrival.admitted;
}

/**
 * Utilisation over a backlog: the backlog starts at the first own arrival of `arrivals` and ends
 * `tailCalls` own calls before the last one (the tail, when the last users are in flight and the
 * queue is empty). The first window after the start is discarded (warm-up: workers starting,
 * the first batches being received), so the sampled windows are those lying entirely within
 * [start + W, end], i.e. ending in [start + 2W, end].
 */
export function utilisation(
  arrivals: readonly Arrival[],
  options: { readonly limit: number; readonly windowMs: number; readonly tailCalls: number },
): Utilisation {
  const { limit, windowMs, tailCalls } = options;
  const own = arrivals.filter((arrival) => !arrival.foreign && arrival.key >= 0);
  const ownOk = own.filter(isOwnSuccess).map((arrival) => arrival.at);
  const foreignOk = arrivals
    .filter((arrival) => arrival.foreign && arrival.admitted)
    .map((arrival) => arrival.at);
  const empty = { mean: Number.NaN, p5: Number.NaN, shareMean: Number.NaN, shareP5: Number.NaN };
  if (own.length === 0) return { ...empty, samples: 0, from: 0, to: 0 };
  const from = own[0]!.at + 2 * windowMs;
  const to = own[Math.max(0, own.length - 1 - tailCalls)]!.at;
  const ratios: number[] = [];
  const shares: number[] = [];
  for (let end = from; end <= to; end += WINDOW_SAMPLE_STEP_MS) {
    const ours = countIn(ownOk, end, windowMs);
    const foreign = countIn(foreignOk, end, windowMs);
    ratios.push(ours / limit);
    shares.push(ours / Math.max(1, limit - foreign));
  }
  if (ratios.length === 0) return { ...empty, samples: 0, from, to };
  return {
    mean: mean(ratios),
    p5: quantile(ratios, 0.05),
    shareMean: mean(shares),
    shareP5: quantile(shares, 0.05),
    samples: ratios.length,
    from,
    to,
  };
}

/** Peaks of one run in any sliding window, ÷ N. */
export interface Peaks {
  /** Own admitted calls (what our clients actually got through). */
  readonly ownAdmitted: number;
  /**
   * What was offered to the key: own calls (429s included) plus the foreign client's admitted
   * ones. Above 1.0 means the run sent more than the limit allows (and got 429s for it).
   */
  readonly offered: number;
}

/** The peak counts in any window of `windowMs`, ÷ `limit`. */
export function peaks(arrivals: readonly Arrival[], limit: number, windowMs: number): Peaks {
  const ownAdmitted = arrivals.filter(isOwnSuccess).map((arrival) => arrival.at);
  const offered = arrivals
    .filter((arrival) => (arrival.foreign ? arrival.admitted : arrival.key >= 0))
    .map((arrival) => arrival.at);
  return {
    ownAdmitted: peakInWindow(ownAdmitted, windowMs) / limit,
    offered: peakInWindow(offered, windowMs) / limit,
  };
}

/** Own calls of a run: all of them, those answered 429, and all of them per `<route> <status>`. */
export function callCounts(arrivals: readonly Arrival[]): {
  calls: number;
  rateLimited: number;
  byRoute: Record<string, number>;
} {
  let calls = 0;
  let rateLimited = 0;
  const byRoute: Record<string, number> = {};
  for (const arrival of arrivals) {
    if (arrival.foreign || arrival.key < 0) continue;
    calls += 1;
    const key = `${arrival.route} ${arrival.status}`;
    byRoute[key] = (byRoute[key] ?? 0) + 1;
    if (!arrival.admitted) rateLimited += 1;
  }
  return { calls, rateLimited, byRoute };
}

/** p50 and p99 of latencies in ms (NaN when there are none). */
export function latencySummary(latencies: readonly number[]): {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
} {
  return {
    count: latencies.length,
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    max: latencies.length === 0 ? Number.NaN : Math.max(...latencies),
  };
}

/** Bucket of the timeline: one second. */
export const TIMELINE_BUCKET_MS = 1_000;

/** Calls per second over a run, to see warm-up, steady state and tail. */
export interface Timeline {
  /** Epoch ms of the first bucket's start (the run's first arrival). */
  readonly start: number;
  readonly ownOk: readonly number[];
  readonly own429: readonly number[];
  readonly foreignOk: readonly number[];
}

/** Counts per TIMELINE_BUCKET_MS from the first arrival of `arrivals`. */
export function timeline(arrivals: readonly Arrival[]): Timeline {
  const start = arrivals[0]?.at ?? 0;
  const ownOk: number[] = [];
  const own429: number[] = [];
  const foreignOk: number[] = [];
  for (const arrival of arrivals) {
    const bucket = Math.floor((arrival.at - start) / TIMELINE_BUCKET_MS);
    for (const list of [ownOk, own429, foreignOk]) while (list.length <= bucket) list.push(0);
    if (arrival.foreign) {
      if (arrival.admitted) foreignOk[bucket]! += 1;
    } else if (arrival.key >= 0) {
      if (arrival.admitted) ownOk[bucket]! += 1;
      else own429[bucket]! += 1;
    }
  }
  return { start, ownOk, own429, foreignOk };
}

/** Seconds from the run's first arrival to the arrival at `index` (the client phase's start). */
export function clientPhaseAt(arrivals: readonly Arrival[], index: number): number | undefined {
  const first = arrivals[0]?.at;
  const phase = arrivals[index]?.at;
  return first === undefined || phase === undefined
    ? undefined
    : (phase - first) / TIMELINE_BUCKET_MS;
}

/**
 * A second counts as a dip when its calls fall below this share of the steady rate: smaller
 * shortfalls are the pacing's own second-to-second noise (59 against 60), not lost time.
 */
export const DIP_SHARE_OF_STEADY = 0.95;

/**
 * Seconds on either side of the client phase's second (as the bench saw it) in which a dip is
 * taken for the switch to clients.
 */
export const SWITCH_SEARCH_SECONDS = 2;

/**
 * Whether `second` of a run's full seconds (`full`: its last, partial second left out) is a dip:
 * its calls below DIP_SHARE_OF_STEADY of the steady rate.
 */
export function isDip(full: readonly number[], steady: number, second: number): boolean {
  return second >= 0 && second < full.length && full[second]! < steady * DIP_SHARE_OF_STEADY;
}

/** Calls one run fell short of its steady rate, by where the time was lost. */
export interface Shortfall {
  /** The median of the run's full seconds (its last, partial second left out), calls per second. */
  readonly steadyPerSecond: number;
  /** The start: the seconds before the first at the steady rate (its dips' calls short). */
  readonly start: { readonly seconds: number; readonly calls: number };
  /**
   * The switch to clients: the run of consecutive dips that holds the dip nearest the client
   * phase's second, if one lies within SWITCH_SEARCH_SECONDS of it (`from`: the run's first
   * second); none (0 seconds) when the switch lost nothing or the phase was not seen.
   */
  readonly switchToClients: {
    readonly from: number;
    readonly seconds: number;
    readonly calls: number;
  };
  /** Every other dip. */
  readonly elsewhere: { readonly seconds: number; readonly calls: number };
}

/**
 * Where a run lost calls against its own steady rate, from its first call to its last full
 * second: the calls short in each dip (a second below DIP_SHARE_OF_STEADY of the steady rate),
 * split into the start, the switch to clients and the rest. `clientPhaseAtS`: seconds from the
 * first call to the first call after the bench saw the client phase. The pacing's own ceiling
 * and the time before the first call are not in it.
 */
export function shortfall(
  perSecond: readonly number[],
  clientPhaseAtS: number | undefined,
): Shortfall {
  const full = perSecond.slice(0, -1);
  const steady = quantile(full, 0.5);
  const dip = (second: number) => isDip(full, steady, second);
  const short = (second: number) => Math.max(0, steady - full[second]!);
  let startEnd = 0;
  while (dip(startEnd)) startEnd += 1;
  let switchFrom = -1;
  let switchEnd = -1;
  if (clientPhaseAtS !== undefined) {
    const phase = Math.floor(clientPhaseAtS);
    // Nearest first: the phase's second, then one before and one after it, and so on.
    for (let distance = 0; distance <= SWITCH_SEARCH_SECONDS && switchFrom < 0; distance += 1) {
      for (const second of [phase - distance, phase + distance]) {
        if (switchFrom < 0 && second >= startEnd && dip(second)) switchFrom = second;
      }
    }
    if (switchFrom >= 0) {
      while (switchFrom - 1 >= startEnd && dip(switchFrom - 1)) switchFrom -= 1;
      switchEnd = switchFrom;
      while (dip(switchEnd)) switchEnd += 1;
    }
  }
  const sum = (seconds: number[]) => seconds.reduce((total, second) => total + short(second), 0);
  const range = (from: number, to: number) =>
    Array.from({ length: Math.max(0, to - from) }, (_, index) => from + index);
  const inSwitch = (second: number) => second >= switchFrom && second < switchEnd;
  const others = range(startEnd, full.length).filter((second) => dip(second) && !inSwitch(second));
  return {
    steadyPerSecond: steady,
    start: { seconds: startEnd, calls: sum(range(0, startEnd)) },
    switchToClients: {
      from: Math.max(0, switchFrom),
      seconds: Math.max(0, switchEnd - switchFrom),
      calls: sum(range(switchFrom, switchEnd)),
    },
    elsewhere: { seconds: others.length, calls: sum(others) },
  };
}
