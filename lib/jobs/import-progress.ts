/**
 * How sync-user's outcomes reach the job ledger cheaply (≤ 1.5 DynamoDB writes per
 * Upheal call). Outcomes of one Lambda invocation are counted in memory and flushed at the end of
 * the batch as one atomic `ADD` per job. The flush's answer (the item as that very write left it)
 * tells whether this batch settled the last row of a phase; then one conditional update moves the
 * phase, so of many workers finishing at the same moment exactly one starts the client phase (one
 * `start-clients` control message) and exactly one completes the job (one `import.completed`).
 */
import type { Context } from 'aws-lambda';
import { autoCreatesFirst } from '#lib/import/import-mode.ts';
import { CONTROL_TYPES, type ControlQueue } from '#lib/jobs/control-messages.ts';
import {
  counterOf,
  emptyCounts,
  type ImportOutcome,
  JOB_PHASES,
  type Job,
  type JobPhase,
  type OutcomeCounts,
  phaseSample,
  summaryCounts,
} from '#lib/jobs/job.ts';
import type { JobStore } from '#lib/jobs/job-store.ts';
import type { OutboundPublisher } from '#lib/outbound/outbound-events.ts';
import type { Runtime } from '#lib/runtime.ts';
import type { UserKind } from '#lib/store/mapping-store.ts';
import type { ImportProgress } from '#lib/sync/create-mode.ts';

/** What moving a job on needs. */
export interface LedgerDeps {
  readonly jobs: JobStore;
  readonly control: ControlQueue;
  readonly outbound: OutboundPublisher;
  readonly now?: () => number;
}

/**
 * Moves `job` (as just written) to its next phase when every row of its phase is settled. Safe to
 * call from any number of workers with any snapshot: the conditional write picks one winner, and
 * only the winner announces the move. Resolves with the phase the job is in as far as it knows.
 */
export async function advanceIfSettled(job: Job, deps: LedgerDeps): Promise<JobPhase> {
  if (job.phase === JOB_PHASES.providers && job.settled >= job.providers) {
    if (!(await deps.jobs.advance(job.jobId, JOB_PHASES.providers))) return job.phase;
    // A crash right here leaves the job in `clients` with nothing fanned out; a `start` with
    // the same job id (the CLI's resume) fans the clients out from the cursor, which is 0.
    await deps.control.send({ type: CONTROL_TYPES.startClients, jobId: job.jobId });
    return JOB_PHASES.clients;
  }
  if (job.phase === JOB_PHASES.clients && job.settled >= job.providers + job.clients) {
    if (!(await deps.jobs.advance(job.jobId, JOB_PHASES.clients))) return job.phase;
    await deps.outbound.publish({
      type: 'import.completed',
      jobId: job.jobId,
      counts: summaryCounts(job),
      occurredAt: new Date((deps.now ?? Date.now)()).toISOString(),
    });
    return JOB_PHASES.completed;
  }
  return job.phase;
}

/**
 * How old the job's counts an `auto` decision reads may be before they are read again. Every
 * flush refreshes them at no cost (its write answers the item); the read is for an instance that
 * has not flushed this job lately.
 */
export const JOB_COUNTS_MAX_AGE_MS = 10_000;

/**
 * sync-user's ImportProgress: counts in memory, one write per job per batch on `flush()`; and the
 * `auto` mode's decision, on the job's counts as the last flush (or a cached read) saw them.
 */
export class BatchedImportProgress implements ImportProgress {
  readonly #deps: LedgerDeps;
  #pending = new Map<string, OutcomeCounts>();
  /** The latest job item each job's flush or read saw, and when. */
  readonly #seen = new Map<
    string,
    { readonly job: Promise<Job | undefined>; readonly atMs: number }
  >();

  constructor(deps: LedgerDeps) {
    this.#deps = deps;
  }

  /**
   * Whether an `auto` job creates first now (lib/import/import-mode.ts), on the created and
   * linked counts of the phase of `kind`. No write: the counts come with every flush, and are read
   * at most once per JOB_COUNTS_MAX_AGE_MS otherwise (one read shared by the records that ask
   * meanwhile), or when the job as last seen is still in its provider phase and a client asks.
   */
  async autoCreatesFirst(jobId: string, kind: UserKind): Promise<boolean> {
    const now = (this.#deps.now ?? Date.now)();
    const seen = this.#seen.get(jobId);
    let job = seen && now - seen.atMs <= JOB_COUNTS_MAX_AGE_MS ? await seen.job : undefined;
    let sample = job ? phaseSample(job, kind) : undefined;
    if (!sample) {
      const read = { job: this.#deps.jobs.get(jobId).catch(() => undefined), atMs: now };
      this.#seen.set(jobId, read);
      job = await read.job;
      sample = job ? phaseSample(job, kind) : undefined;
    }
    return sample ? autoCreatesFirst(sample) : true;
  }

  async recordOutcome(jobId: string, outcome: ImportOutcome): Promise<void> {
    let counts = this.#pending.get(jobId);
    if (!counts) {
      counts = emptyCounts();
      this.#pending.set(jobId, counts);
    }
    counts[counterOf(outcome)] += 1;
  }

  /**
   * Writes the counted outcomes (one `ADD` per job) and moves phases that are now settled. Call
   * once at the end of every invocation. Counts are handed over before writing: if a write throws,
   * the invocation fails, SQS redelivers the batch and its rows are counted again as they settle
   * again (as unchanged or stale), so nothing is counted twice in the usual one-job batch.
   */
  async flush(): Promise<void> {
    const pending = this.#pending;
    this.#pending = new Map();
    for (const [jobId, counts] of pending) {
      const job = await this.#deps.jobs.addOutcomes(jobId, counts);
      if (!job) continue;
      this.#seen.set(jobId, { job: Promise.resolve(job), atMs: (this.#deps.now ?? Date.now)() });
      await advanceIfSettled(job, this.#deps);
    }
  }
}

/** Something whose counts must be written when an invocation ends. */
export interface Flushable {
  flush(): Promise<void>;
}

/**
 * Wraps an SQS handler so `progress` is flushed after every invocation (also when the handler
 * throws, so the next invocation starts from nothing pending).
 */
export function flushingAfter<Event, Result>(
  handler: (event: Event, context: Context) => Promise<Result>,
  progress: Flushable,
): (event: Event, context: Context) => Promise<Result> {
  return async (event, context) => {
    try {
      return await handler(event, context);
    } finally {
      await progress.flush();
    }
  };
}

/** The ledger progress of a function's runtime (sync-user wires it once per Lambda instance). */
export function importProgressFor(runtime: Runtime): BatchedImportProgress {
  return new BatchedImportProgress({
    jobs: runtime.jobs,
    control: runtime.control,
    outbound: runtime.outbound,
  });
}
