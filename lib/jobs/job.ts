/**
 * An import job (§6): what the ledger item holds and the words for its phases
 * and outcome counters. One item per job; every counter is a number attribute that `ADD` can
 * bump, so many workers settle rows of one job without reading it first.
 */
import type { ImportFormat } from '#lib/import/format.ts';
import type { ImportMode, ModeSample } from '#lib/import/import-mode.ts';
import type { ImportPlan } from '#lib/import/plan.ts';
import type { UserKind } from '#lib/store/mapping-store.ts';
import type { SyncOutcome } from '#lib/sync/sync-user.ts';

/**
 * The phases of a job, in order: `planning` (validate and count the rows), `providers` (provider
 * rows fanned out and settling), `clients` (only once every provider settled), then `completed`;
 * `failed` when the source itself is unusable (unreadable object, bad CSV header).
 */
export const JOB_PHASES = {
  planning: 'planning',
  providers: 'providers',
  clients: 'clients',
  completed: 'completed',
  failed: 'failed',
} as const;

/** One job phase. */
export type JobPhase = (typeof JOB_PHASES)[keyof typeof JOB_PHASES];

/** The phases in which rows are fanned out to the import queue. */
export type FanOutPhase = typeof JOB_PHASES.providers | typeof JOB_PHASES.clients;

/** Phases after which nothing changes any more. */
export const FINAL_PHASES: ReadonlySet<JobPhase> = new Set([
  JOB_PHASES.completed,
  JOB_PHASES.failed,
]);

/**
 * The outcome counters of a job. `updated` counts users that were already mapped (changed or
 * not: the sync core skips unchanged ones at no call); `skipped` counts outcomes that leave Upheal
 * as it was for other reasons (a staged delete, a recorded provider list).
 */
export const OUTCOME_COUNTERS = {
  created: 'created',
  linked: 'linked',
  updated: 'updated',
  stale: 'stale',
  failed: 'failed',
  skipped: 'skipped',
} as const;

/** One outcome counter. */
export type OutcomeCounter = (typeof OUTCOME_COUNTERS)[keyof typeof OUTCOME_COUNTERS];

/** What sync-user reports for an import message: its outcome kind, or `failed`. */
export type ImportOutcome = SyncOutcome['kind'] | 'failed';

/** The counter an outcome of sync-user is counted under. */
export function counterOf(outcome: ImportOutcome): OutcomeCounter {
  switch (outcome) {
    case 'created':
    case 'linked':
    case 'updated':
    case 'stale':
    case 'failed':
      return outcome;
    case 'deleted':
    case 'delete-staged':
    case 'providers-recorded':
      return OUTCOME_COUNTERS.skipped;
  }
}

/** Counts per outcome counter. */
export type OutcomeCounts = Record<OutcomeCounter, number>;

/** All counters at zero. */
export function emptyCounts(): OutcomeCounts {
  return { created: 0, linked: 0, updated: 0, stale: 0, failed: 0, skipped: 0 };
}

/** Where a job's rows come from: an S3 object, or records inline in the start message. */
export type JobSource =
  | { readonly bucket: string; readonly key: string }
  | { readonly records: readonly Record<string, unknown>[] };

/** The ledger's view of one job. */
export interface Job {
  readonly jobId: string;
  readonly phase: JobPhase;
  readonly format: ImportFormat;
  readonly source: JobSource;
  readonly dryRun: boolean;
  /** How the job's new users are created (check first, create first, or auto). */
  readonly mode: ImportMode;
  /**
   * When the partner's export was taken: the `occurredAt` of every row's event. Given in the start
   * message or stated by the file; known once planning has read the file.
   */
  readonly exportedAt?: string | undefined;
  /** Valid provider rows, valid client rows and invalid rows (known once planning ends). */
  readonly providers: number;
  readonly clients: number;
  readonly invalid: number;
  /** Rows settled by sync-user so far, both phases together (providers first). */
  readonly settled: number;
  /** Counts per outcome, both phases together. */
  readonly counts: OutcomeCounts;
  /**
   * Rows that failed and were then healed by Upheal's user-created webhook (their create had
   * taken effect): moved from `failed` to `created` in `counts`, counted here as well.
   */
  readonly healed?: number | undefined;
  /**
   * Users created and linked when the provider phase ended (written by the phase move itself):
   * what the client phase's counts start from, for `auto`.
   */
  readonly providerPhaseCounts?: ModeSample | undefined;
  /** Last line of the current phase sent to the import queue (0: none yet). */
  readonly cursor: number;
  /** The plan: for a dry run with the mapping; otherwise the upper bound (nothing mapped). */
  readonly plan?: ImportPlan | undefined;
  /** Why the job failed (phase `failed`): field names and line numbers only. */
  readonly error?: string | undefined;
  readonly startedAt: string;
  readonly updatedAt: string;
  /** When the current fan-out phase began (for rate and ETA). */
  readonly phaseStartedAt?: string | undefined;
  readonly completedAt?: string | undefined;
}

/**
 * The users created and linked so far in the phase of `kind` (providers, then clients): `auto`
 * decides on them, since an organisation's providers may well be in Upheal already while its
 * clients are not. Undefined for clients while the job as read is still in its provider phase
 * (an older read: the caller reads it again).
 */
export function phaseSample(job: Job, kind: UserKind): ModeSample | undefined {
  const { created, linked } = job.counts;
  const providers = job.providerPhaseCounts;
  if (kind === 'provider') return providers ?? { created, linked };
  if (!providers) return undefined;
  return {
    created: Math.max(0, created - providers.created),
    linked: Math.max(0, linked - providers.linked),
  };
}

/** Settled rows of the provider phase. */
export function settledProviders(job: Job): number {
  return Math.min(job.settled, job.providers);
}

/** Settled rows of the client phase. */
export function settledClients(job: Job): number {
  return Math.max(0, job.settled - job.providers);
}

/** The partner-facing counts of a job (the `import.completed` event, the CLI summary). */
export function summaryCounts(job: Job): Record<string, number> {
  return {
    providers: job.providers,
    clients: job.clients,
    invalid: job.invalid,
    settled: job.settled,
    ...job.counts,
  };
}

/** Whether any record of the job failed: an invalid row or a failed sync. */
export function hasFailures(job: Job): boolean {
  return job.invalid > 0 || job.counts.failed > 0 || job.phase === JOB_PHASES.failed;
}
