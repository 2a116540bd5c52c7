/**
 * The planning phase of an import job: resolve the export time, check every row (validation,
 * duplicates, and a client's providers being in the file or mapped), record each invalid row as a
 * failure of the job, and count the plan. It reads the mapping in batches (BatchGetItem, up to
 * 100 keys a call, a few calls at once) and watches the invocation's clock: before the deadline it
 * saves its cursor and counts and sends itself `continue`, so a file of any size is planned, one
 * invocation after another.
 *
 * Each invocation first reads the whole file once to index its provider rows (a client may come
 * before its provider); that pass is CPU only. Rows up to the saved cursor are then skipped:
 * their failures are recorded and their counts saved.
 */
import { ValidationError } from '#lib/errors.ts';
import { readStatedExportTime, resolveExportTime } from '#lib/import/export-time.ts';
import type { ImportRow } from '#lib/import/import-record.ts';
import { parseImport } from '#lib/import/parse-import.ts';
import {
  countInvalid,
  countRecord,
  emptyPlan,
  type ImportPlan,
  indexProviders,
  type ProviderIndex,
  referenceIssue,
  referencesToLookUp,
} from '#lib/import/plan.ts';
import { IMPORT_ROW_OPERATION } from '#lib/jobs/client-gate.ts';
import { CONTROL_TYPES } from '#lib/jobs/control-messages.ts';
import type {
  ControlOutcome,
  InitialSyncDeps,
  InvocationBudget,
} from '#lib/jobs/initial-sync-types.ts';
import { JOB_PHASES, type Job } from '#lib/jobs/job.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';

/** Keys of one BatchGetItem call (DynamoDB's limit). */
export const BATCH_GET_KEYS = 100;
/** BatchGetItem calls in flight at once while planning. */
const BATCH_GETS_IN_FLIGHT = 4;
/** Rows checked together: enough to fill the batch reads of a dry run. */
const ROWS_PER_STEP = BATCH_GET_KEYS * BATCH_GETS_IN_FLIGHT;

/** Runs (or continues) the planning of `job`. */
export async function planJob(
  job: Job,
  deps: InitialSyncDeps,
  budget: InvocationBudget,
): Promise<ControlOutcome> {
  const { jobId } = job;
  try {
    const exportedAt = resolveExportTime({
      given: job.exportedAt,
      stated: await readStatedExportTime(await deps.openSource(job.source), job.format),
      nowMs: (deps.now ?? Date.now)(),
    });
    const index = await indexProviders(parseImport(await deps.openSource(job.source), job.format));
    const plan: ImportPlan = job.cursor > 0 && job.plan ? { ...job.plan } : emptyPlan();
    let step: ImportRow[] = [];
    for await (const row of parseImport(await deps.openSource(job.source), job.format)) {
      if (row.line <= job.cursor) continue;
      step.push(row);
      if (step.length < ROWS_PER_STEP) continue;
      await checkRows(step, index, plan, job, deps);
      const cursor = row.line;
      step = [];
      if (budget.remainingMs() < budget.reserveMs) {
        if (!(await deps.jobs.savePlanning(jobId, cursor, plan))) {
          return { kind: 'ignored', jobId, reason: 'job left planning' };
        }
        await deps.control.send({
          type: CONTROL_TYPES.continue,
          jobId,
          phase: JOB_PHASES.planning,
          cursor,
        });
        return { kind: 'continued', jobId, phase: JOB_PHASES.planning };
      }
    }
    await checkRows(step, index, plan, job, deps);
    const next = job.dryRun ? JOB_PHASES.completed : JOB_PHASES.providers;
    const { providers, clients, invalid } = plan;
    await deps.jobs.finishPlanning(jobId, { exportedAt, providers, clients, invalid, plan }, next);
    return { kind: 'planned', jobId, dryRun: job.dryRun };
  } catch (error) {
    // The file as a whole is unusable (not UTF-8, a CSV header with unknown columns, no export
    // time): the job fails with the reason, which names fields and lines, never values.
    if (!(error instanceof ValidationError)) throw error;
    await deps.jobs.fail(jobId, error.message);
    return { kind: 'failed', jobId, reason: error.message };
  }
}

/**
 * Checks and counts a step of rows: reads the mappings they need in one go (the providers a
 * client names outside the file; for a dry run, every row's own id), records the invalid rows.
 */
async function checkRows(
  rows: readonly ImportRow[],
  index: ProviderIndex,
  plan: ImportPlan,
  job: Job,
  deps: InitialSyncDeps,
): Promise<void> {
  const keys = new Set<string>();
  for (const row of rows) {
    if (!row.ok) continue;
    if (job.dryRun) keys.add(row.record.partnerUserId);
    for (const id of referencesToLookUp(row.record, index)) keys.add(id);
  }
  const mappings = await readMappings([...keys], deps);
  for (const row of rows) {
    if (!row.ok) {
      countInvalid(plan);
      await recordInvalid(job.jobId, row, reasonOf(row.error.issues), deps);
      continue;
    }
    const issue = referenceIssue(row.record, index, (id) => {
      const mapping = mappings.get(id);
      return mapping?.kind === 'provider' && isActive(mapping);
    });
    if (issue) {
      countInvalid(plan);
      await recordInvalid(job.jobId, row, reasonOf([issue]), deps);
      continue;
    }
    const mapped = job.dryRun && isActive(mappings.get(row.record.partnerUserId));
    countRecord(plan, row.record, mapped);
  }
}

/** The mappings of `ids`, read BATCH_GET_KEYS at a time with a few reads in flight. */
async function readMappings(
  ids: readonly string[],
  deps: InitialSyncDeps,
): Promise<Map<string, UserMapping>> {
  const chunks: string[][] = [];
  for (let start = 0; start < ids.length; start += BATCH_GET_KEYS) {
    chunks.push(ids.slice(start, start + BATCH_GET_KEYS));
  }
  const found = new Map<string, UserMapping>();
  for (let start = 0; start < chunks.length; start += BATCH_GETS_IN_FLIGHT) {
    const group = chunks.slice(start, start + BATCH_GETS_IN_FLIGHT);
    for (const part of await Promise.all(group.map((chunk) => deps.mappings.getMany(chunk)))) {
      for (const [id, mapping] of part) found.set(id, mapping);
    }
  }
  return found;
}

/** The reason of a row failure: its fields' problems (the line is a field of its own). */
function reasonOf(issues: readonly { field: string; reason: string }[]): string {
  return issues.map((issue) => `${issue.field}: ${issue.reason}`).join('; ');
}

/** Records an invalid row as a failure of the job, keyed by its line (a redo overwrites it). */
async function recordInvalid(
  jobId: string,
  row: ImportRow,
  reason: string,
  deps: InitialSyncDeps,
): Promise<void> {
  const partnerUserId = row.ok ? row.record.partnerUserId : row.partnerUserId;
  await deps.failures.record({
    jobId,
    line: row.line,
    partnerUserId,
    operation: IMPORT_ROW_OPERATION,
    reason,
  });
}

/** Whether a mapping links the partner user to an Upheal user. */
export function isActive(mapping: UserMapping | undefined): boolean {
  return mapping?.state === 'active' && mapping.uphealUserId !== undefined;
}
