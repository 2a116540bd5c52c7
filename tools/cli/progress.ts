/**
 * How the CLI shows an import job (`import --wait`, `status`): a one-line progress bar
 * redrawn in place on a terminal, plain periodic lines otherwise, and the job's report. Rate and
 * ETA come from what the ledger shows between two looks at it (rows settled per minute); before
 * there is such a sample, the ETA is the plan's remaining calls at the configured rate.
 */
import { autoCreatesFirst, IMPORT_MODES, type ImportMode } from '#lib/import/import-mode.ts';
import { callsByMode, estimateMinutes, type ImportPlan } from '#lib/import/plan.ts';
import {
  FINAL_PHASES,
  JOB_PHASES,
  type Job,
  phaseSample,
  settledClients,
  settledProviders,
} from '#lib/jobs/job.ts';
import { MS_PER_SECOND } from '#lib/time.ts';

/** The limiter's configuration, for estimates (UPHEAL_RATE_LIMIT, _WINDOW_SECONDS, _JITTER_MS). */
export interface RateSettings {
  readonly limit: number;
  readonly windowSeconds: number;
  readonly jitterMs: number;
}

/** Width of the bar in characters. */
const BAR_WIDTH = 24;
const SECONDS_PER_MINUTE = 60;
const SECONDS_PER_HOUR = 3600;
/**
 * Upheal calls a created and a linked user cost: checking first, check + create and a check;
 * creating first, a create, and a create answered "duplicate" + the check that finds the user.
 */
const CALLS_PER_USER = {
  checkFirst: { created: 2, linked: 1 },
  createFirst: { created: 1, linked: 2 },
} as const;
/** ANSI: return to column 0 and clear the line. */
const CLEAR_LINE = '\r\u001b[2K';

/** One look at a job: when, and how many rows had settled. */
export interface Sample {
  readonly atMs: number;
  readonly settled: number;
  readonly calls: number;
}

/**
 * Upheal calls the job's outcomes imply, phase by phase in the job's mode (lower bound: updates
 * and assignments not counted; for `auto`, each phase as it runs now).
 */
export function impliedCalls(job: Job): number {
  let calls = 0;
  for (const kind of ['provider', 'client'] as const) {
    const sample = phaseSample(job, kind);
    if (sample === undefined) continue;
    const createsFirst =
      job.mode === IMPORT_MODES.createFirst ||
      (job.mode === IMPORT_MODES.auto && autoCreatesFirst(sample));
    const cost = createsFirst ? CALLS_PER_USER.createFirst : CALLS_PER_USER.checkFirst;
    calls += sample.created * cost.created + sample.linked * cost.linked;
  }
  return calls;
}

/** A sample of `job` taken at `atMs`. */
export function sampleOf(job: Job, atMs: number): Sample {
  return { atMs, settled: job.settled, calls: impliedCalls(job) };
}

/** Rate and ETA of a job between a first and a latest sample. */
export interface Pace {
  /** Rows settled per minute, when measurable. */
  readonly rowsPerMinute?: number | undefined;
  /** Upheal calls per minute implied by the outcomes, when measurable. */
  readonly callsPerMinute?: number | undefined;
  /** Seconds until every row is settled, when known. */
  readonly etaSeconds?: number | undefined;
}

/** Pace from two samples of one job (`first` older), with the plan as a fallback for the ETA. */
export function paceOf(job: Job, first: Sample, latest: Sample, rate: RateSettings): Pace {
  const remainingRows = Math.max(0, job.providers + job.clients - job.settled);
  if (FINAL_PHASES.has(job.phase)) return { etaSeconds: 0 };
  const elapsedMinutes = (latest.atMs - first.atMs) / MS_PER_SECOND / SECONDS_PER_MINUTE;
  const rows = latest.settled - first.settled;
  if (elapsedMinutes > 0 && rows > 0) {
    const rowsPerMinute = rows / elapsedMinutes;
    return {
      rowsPerMinute,
      // An `auto` phase that switched re-prices its earlier rows: never a negative pace.
      callsPerMinute: Math.max(0, latest.calls - first.calls) / elapsedMinutes,
      etaSeconds: (remainingRows / rowsPerMinute) * SECONDS_PER_MINUTE,
    };
  }
  const plannedCalls = job.plan?.totalCalls;
  if (plannedCalls === undefined) return {};
  const remainingCalls = Math.max(0, plannedCalls - impliedCalls(job));
  return {
    etaSeconds:
      estimateMinutes(remainingCalls, rate.limit, rate.windowSeconds, rate.jitterMs) *
      SECONDS_PER_MINUTE,
  };
}

/** `1h02m`, `3m05s`, `42s`. */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / SECONDS_PER_HOUR);
  const minutes = Math.floor((total % SECONDS_PER_HOUR) / SECONDS_PER_MINUTE);
  const secs = total % SECONDS_PER_MINUTE;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m`;
  if (minutes > 0) return `${minutes}m${String(secs).padStart(2, '0')}s`;
  return `${secs}s`;
}

/** `[#####-----]` for a fraction in [0, 1]. */
function bar(fraction: number): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
  return `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
}

/** The outcome counts in one short phrase. */
export function countsPhrase(job: Job): string {
  const { created, linked, updated, stale, skipped, failed } = job.counts;
  // Rows that failed, then were healed by Upheal's webhook: counted as created, named too.
  const healed = job.healed ? ` (${job.healed} healed after failing)` : '';
  return `created ${created}${healed}, linked ${linked}, updated ${updated}, stale ${stale}, skipped ${skipped}, failed ${failed}`;
}

/** One progress line (no line break): phase, bar, per-phase counts, outcomes, rate and ETA. */
export function progressLine(job: Job, pace: Pace): string {
  const total = job.providers + job.clients;
  const fraction = total === 0 ? (FINAL_PHASES.has(job.phase) ? 1 : 0) : job.settled / total;
  const parts = [
    `${job.phase.padEnd(9)} ${bar(fraction)} ${String(Math.floor(fraction * 100)).padStart(3)}%`,
    `providers ${settledProviders(job)}/${job.providers}`,
    `clients ${settledClients(job)}/${job.clients}`,
    `${countsPhrase(job)}`,
  ];
  if (job.invalid > 0) parts.push(`invalid ${job.invalid}`);
  if (pace.callsPerMinute !== undefined)
    parts.push(`~${Math.round(pace.callsPerMinute)} calls/min`);
  if (pace.etaSeconds !== undefined && !FINAL_PHASES.has(job.phase)) {
    parts.push(`ETA ${formatDuration(pace.etaSeconds)}`);
  }
  return parts.join(' | ');
}

/** Writes progress lines: redrawn in place on a terminal, else one line per `plainEveryMs`. */
export class ProgressWriter {
  readonly #write: (text: string) => void;
  readonly #tty: boolean;
  readonly #plainEveryMs: number;
  #lastPlainAt = Number.NEGATIVE_INFINITY;
  #lastPhase: string | undefined;
  #drawn = false;

  constructor(write: (text: string) => void, tty: boolean, plainEveryMs: number) {
    this.#write = write;
    this.#tty = tty;
    this.#plainEveryMs = plainEveryMs;
  }

  /** Shows the job's state at `nowMs`; plain output prints at phase changes and periodically. */
  update(job: Job, pace: Pace, nowMs: number): void {
    const line = progressLine(job, pace);
    if (this.#tty) {
      this.#write(`${CLEAR_LINE}${line}`);
      this.#drawn = true;
      return;
    }
    if (job.phase !== this.#lastPhase || nowMs - this.#lastPlainAt >= this.#plainEveryMs) {
      this.#write(`${line}\n`);
      this.#lastPlainAt = nowMs;
      this.#lastPhase = job.phase;
    }
  }

  /** Ends the bar's line so what follows starts on a new one. */
  finish(): void {
    if (this.#tty && this.#drawn) this.#write('\n');
    this.#drawn = false;
  }
}

/** The report of a job: how it ended, its counts, and where its failures are. */
export function jobReport(job: Job, nowMs: number): string {
  const endMs = job.completedAt ? Date.parse(job.completedAt) : nowMs;
  const took = formatDuration((endMs - Date.parse(job.startedAt)) / MS_PER_SECOND);
  const lines = [
    `job ${job.jobId}: ${job.phase}${job.dryRun ? ' (dry run)' : ''} after ${took}`,
    `  rows       ${job.providers} providers, ${job.clients} clients valid; ${job.invalid} invalid`,
  ];
  if (job.exportedAt)
    lines.push(`  exported   ${job.exportedAt} (rows are versioned with this time)`);
  lines.push(`  mode       ${modePhrase(job)}`);
  if (!job.dryRun) {
    lines.push(
      `  settled    providers ${settledProviders(job)}/${job.providers}, clients ${settledClients(job)}/${job.clients}`,
      `  outcomes   ${countsPhrase(job)}`,
    );
  }
  if (job.phase === JOB_PHASES.failed && job.error) lines.push(`  error      ${job.error}`);
  if (job.invalid > 0 || job.counts.failed > 0) {
    lines.push(`  failures   upheal-sync failures ${job.jobId}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Calls and minutes of a plan in each import mode, for a share of users Upheal already has. */
export type ModeEstimates = Record<ImportMode, { calls: number; estimatedMinutes: number }>;

/** The share of unmapped users already in Upheal that dry runs assume: unknown before the run. */
export const DRY_RUN_EXISTING_SHARE = 0;

/** Calls and time of `plan` in each import mode at `rate` (share DRY_RUN_EXISTING_SHARE). */
export function modeEstimates(plan: ImportPlan, rate: RateSettings): ModeEstimates {
  const calls = callsByMode(plan, DRY_RUN_EXISTING_SHARE);
  const estimate = (n: number) => ({
    calls: n,
    estimatedMinutes: estimateMinutes(n, rate.limit, rate.windowSeconds, rate.jitterMs),
  });
  return {
    [IMPORT_MODES.checkFirst]: estimate(calls[IMPORT_MODES.checkFirst]),
    [IMPORT_MODES.createFirst]: estimate(calls[IMPORT_MODES.createFirst]),
    [IMPORT_MODES.auto]: estimate(calls[IMPORT_MODES.auto]),
  } as ModeEstimates;
}

/** The lines of a plan report that compare the import modes (`--mode`). */
export function modeLines(plan: ImportPlan, rate: RateSettings): string[] {
  const estimates = modeEstimates(plan, rate);
  const users = plan.toCheck;
  const assignments = plan.assignmentCalls;
  return [
    `  by mode           every unmapped user taken as new (share f in Upheal already = ${DRY_RUN_EXISTING_SHARE}):`,
    ...Object.values(IMPORT_MODES).map(
      (mode) =>
        `    ${mode.padEnd(15)} ${estimates[mode].calls} calls, ${formatDuration(estimates[mode].estimatedMinutes * SECONDS_PER_MINUTE)}`,
    ),
    `  with a share f    check-first 2·${users} + ${assignments} calls, create-first (1 + 2f)·${users} + ${assignments};`,
    '                    auto as create-first up to f = 0.5, as check-first above (docs/limits.md)',
  ];
}

/**
 * The job's import mode; for `auto`, what it does in the current phase now and on what share
 * of that phase's users found in Upheal.
 */
export function modePhrase(job: Job): string {
  if (job.mode !== IMPORT_MODES.auto) return job.mode;
  const kind = job.phase === JOB_PHASES.clients ? 'client' : 'provider';
  const sample = phaseSample(job, kind);
  if (FINAL_PHASES.has(job.phase) || !sample) return job.mode;
  const seen = sample.created + sample.linked;
  const now = autoCreatesFirst(sample) ? IMPORT_MODES.createFirst : IMPORT_MODES.checkFirst;
  const share =
    seen === 0
      ? 'none settled yet'
      : `${Math.round((100 * sample.linked) / seen)} % of ${seen} found in Upheal`;
  return `auto (${kind}s now ${now}: ${share})`;
}

/** The dry run's plan, with the estimated duration at the configured rate. */
export function planReport(job: Job, rate: RateSettings): string {
  const plan = job.plan;
  if (!plan) return `job ${job.jobId}: no plan yet (phase ${job.phase})\n`;
  const minutes = estimateMinutes(plan.totalCalls, rate.limit, rate.windowSeconds, rate.jitterMs);
  return [
    `plan of job ${job.jobId} (dry run: nothing was changed)`,
    `  exported at       ${job.exportedAt ?? 'unknown'}`,
    `  rows              ${plan.providers} providers, ${plan.clients} clients, ${plan.invalid} invalid`,
    `  already mapped    ${plan.alreadyMapped} (no call)`,
    `  checks            ${plan.toCheck}`,
    `  creates           ${plan.creates} at most (a user the check finds is linked instead)`,
    `  assignment calls  ${plan.assignmentCalls}`,
    `  total calls       ${plan.totalCalls} at most (check-first)`,
    `  estimated time    ${formatDuration(minutes * SECONDS_PER_MINUTE)} at ${rate.limit} calls per ${rate.windowSeconds} s`,
    ...modeLines(plan, rate),
    `  job's mode        ${job.mode}`,
    '',
  ].join('\n');
}
