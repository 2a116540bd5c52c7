/**
 * The `initial-sync` use case (SPEC §6, issue 6): runs one control message of an import job.
 *
 * 1. planning: stream the source once through `parseImport`; every invalid row becomes a job
 *    failure (line + reason) and the rest goes on; count the totals; plan the calls (a dry run
 *    looks each partner id up in the mapping; a real run stores the upper bound) and stop there
 *    for a dry run;
 * 2. providers: stream the source again and send the provider rows after the cursor to the import
 *    queue, ten per SendMessageBatch, saving the cursor after each batch; when the invocation's
 *    time runs low, send `continue` and stop; at the end, let the ledger check whether everything
 *    already settled (e.g. no providers at all);
 * 3. clients: the same for client rows, started by the ledger's `start-clients` once every
 *    provider settled; the ledger completes the job when the last client settles.
 * Every step is idempotent: a `start` with a known job id resumes the job from its phase and
 * cursor, and a finished job does nothing.
 */
import { ValidationError } from '#lib/errors.ts';
import { detectFormat, IMPORT_FORMATS, type ImportFormat } from '#lib/import/format.ts';
import type { ImportRow } from '#lib/import/import-record.ts';
import { parseImport } from '#lib/import/parse-import.ts';
import { planImport } from '#lib/import/plan.ts';
import { CONTROL_TYPES, type ControlMessage } from '#lib/jobs/control-messages.ts';
import { advanceIfSettled, type LedgerDeps } from '#lib/jobs/import-progress.ts';
import { type ImportMessage, type ImportQueue, SQS_BATCH_LIMIT } from '#lib/jobs/import-queue.ts';
import type { SourceOpener } from '#lib/jobs/import-source.ts';
import { type FanOutPhase, FINAL_PHASES, JOB_PHASES, type Job } from '#lib/jobs/job.ts';
import type { FailureRecord } from '#lib/store/failure-store.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';

/** The failure operation of an invalid import row. */
export const IMPORT_ROW_OPERATION = 'import-row';

/** What the use case talks to. */
export interface InitialSyncDeps extends LedgerDeps {
  readonly openSource: SourceOpener;
  readonly importQueue: ImportQueue;
  readonly failures: { record(failure: Omit<FailureRecord, 'at'>): Promise<unknown> };
  /** The mapping of a partner id (dry run: already mapped users cost no call). */
  readonly mappings: { get(partnerUserId: string): Promise<UserMapping | undefined> };
}

/** The invocation's clock: Lambda's remaining time, and how much of it to leave unused. */
export interface InvocationBudget {
  readonly remainingMs: () => number;
  /** Stop fanning out (and send `continue`) when less than this is left. */
  readonly reserveMs: number;
}

/** What one control message did. */
export type ControlOutcome =
  | { readonly kind: 'planned'; readonly jobId: string; readonly dryRun: boolean }
  | { readonly kind: 'fanned-out'; readonly jobId: string; readonly phase: FanOutPhase }
  | { readonly kind: 'continued'; readonly jobId: string; readonly phase: FanOutPhase }
  | { readonly kind: 'failed'; readonly jobId: string; readonly reason: string }
  | { readonly kind: 'ignored'; readonly jobId: string; readonly reason: string };

/** Runs one control message. Throws (for SQS to redeliver) only on infrastructure errors. */
export async function runControl(
  message: ControlMessage,
  deps: InitialSyncDeps,
  budget: InvocationBudget,
): Promise<ControlOutcome> {
  const { jobId } = message;
  if (message.type === CONTROL_TYPES.start) {
    await deps.jobs.create({
      jobId,
      format: formatOf(message),
      source: message.source,
      dryRun: message.dryRun ?? false,
      exportedAt: message.exportedAt ?? new Date((deps.now ?? Date.now)()).toISOString(),
    });
  }
  const job = await deps.jobs.get(jobId);
  if (!job) return { kind: 'ignored', jobId, reason: 'unknown job' };
  if (message.type === CONTROL_TYPES.continue && message.phase !== job.phase) {
    return { kind: 'ignored', jobId, reason: `job is in phase ${job.phase}` };
  }
  return resume(job, deps, budget);
}

/** Takes the job on from wherever it is. */
async function resume(
  job: Job,
  deps: InitialSyncDeps,
  budget: InvocationBudget,
): Promise<ControlOutcome> {
  if (FINAL_PHASES.has(job.phase)) {
    return { kind: 'ignored', jobId: job.jobId, reason: `job is ${job.phase}` };
  }
  if (job.phase === JOB_PHASES.planning) {
    const planned = await plan(job, deps);
    if (planned.kind !== 'planned' || job.dryRun) return planned;
    const next = await deps.jobs.get(job.jobId);
    if (!next) return { kind: 'ignored', jobId: job.jobId, reason: 'unknown job' };
    return resume(next, deps, budget);
  }
  return fanOut(job, job.phase as FanOutPhase, deps, budget);
}

/** The planning pass: failures of invalid rows, totals and the plan. */
async function plan(job: Job, deps: InitialSyncDeps): Promise<ControlOutcome> {
  const { jobId } = job;
  const isMapped = job.dryRun
    ? async (partnerUserId: string) => isActive(await deps.mappings.get(partnerUserId))
    : () => false;
  try {
    const rows = recordingInvalid(
      parseImport(await deps.openSource(job.source), job.format),
      jobId,
      deps,
    );
    const importPlan = await planImport(rows, isMapped);
    const next = job.dryRun ? JOB_PHASES.completed : JOB_PHASES.providers;
    await deps.jobs.finishPlanning(
      jobId,
      {
        providers: importPlan.providers,
        clients: importPlan.clients,
        invalid: importPlan.invalid,
        plan: importPlan,
      },
      next,
    );
    return { kind: 'planned', jobId, dryRun: job.dryRun };
  } catch (error) {
    // The file as a whole is unusable (e.g. a CSV header with unknown columns): the job fails
    // with the reason, which names columns and lines, never values.
    if (!(error instanceof ValidationError)) throw error;
    await deps.jobs.fail(jobId, error.message);
    return { kind: 'failed', jobId, reason: error.message };
  }
}

/** Passes every row on, recording each invalid one as a failure of the job on its way. */
async function* recordingInvalid(
  rows: AsyncIterable<ImportRow>,
  jobId: string,
  deps: InitialSyncDeps,
): AsyncGenerator<ImportRow> {
  for await (const row of rows) {
    if (!row.ok) {
      await deps.failures.record({
        jobId,
        line: row.line,
        partnerUserId: row.partnerUserId,
        operation: IMPORT_ROW_OPERATION,
        // The line is a field of its own: the reason is the fields' problems only.
        reason: row.error.issues.map((issue) => `${issue.field}: ${issue.reason}`).join('; '),
      });
    }
    yield row;
  }
}

/** Sends the rows of `phase` after the cursor to the import queue. */
async function fanOut(
  job: Job,
  phase: FanOutPhase,
  deps: InitialSyncDeps,
  budget: InvocationBudget,
): Promise<ControlOutcome> {
  const { jobId } = job;
  const kind = phase === JOB_PHASES.providers ? 'provider' : 'client';
  let batch: ImportMessage[] = [];
  const send = async (): Promise<boolean> => {
    await deps.importQueue.sendBatch(jobId, job.exportedAt, batch);
    const cursor = batch.at(-1)!.line;
    batch = [];
    return deps.jobs.saveCursor(jobId, phase, cursor);
  };
  for await (const row of parseImport(await deps.openSource(job.source), job.format)) {
    if (!row.ok || row.record.kind !== kind || row.line <= job.cursor) continue;
    batch.push({ line: row.line, record: row.record });
    if (batch.length < SQS_BATCH_LIMIT) continue;
    const cursor = row.line;
    if (!(await send())) return { kind: 'ignored', jobId, reason: `job left phase ${phase}` };
    if (budget.remainingMs() < budget.reserveMs) {
      await deps.control.send({ type: CONTROL_TYPES.continue, jobId, phase, cursor });
      return { kind: 'continued', jobId, phase };
    }
  }
  if (batch.length > 0 && !(await send())) {
    return { kind: 'ignored', jobId, reason: `job left phase ${phase}` };
  }
  // Every row of the phase is queued. If all of them settled already (or there were none), no
  // flush of sync-user will move the job on: check here (the ledger's write picks one winner).
  const current = await deps.jobs.get(jobId);
  if (current) await advanceIfSettled(current, deps);
  return { kind: 'fanned-out', jobId, phase };
}

/** The format of a start message's source. */
function formatOf(message: Extract<ControlMessage, { type: 'start' }>): ImportFormat {
  if ('records' in message.source) return IMPORT_FORMATS.ndjson;
  return message.format ?? detectFormat(message.source.key);
}

/** Whether a mapping links the partner user to an Upheal user. */
function isActive(mapping: UserMapping | undefined): boolean {
  return mapping?.state === 'active' && mapping.uphealUserId !== undefined;
}
