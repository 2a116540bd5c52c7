/**
 * The `initial-sync` use case (issue 6): runs one control message of an import job.
 *
 * 1. planning (plan-job.ts): resolve the export time, check every row (a client's providers must
 *    be in the file or mapped), record each invalid row as a job failure (line + reason), count
 *    the totals and plan the calls (a dry run reads the mapping in batches; a real run stores the
 *    upper bound); continued across invocations like the fan-out; a dry run stops there;
 * 2. providers: stream the source again and send the provider rows after the cursor to the import
 *    queue, ten per SendMessageBatch, saving the cursor after each batch; when the invocation's
 *    time runs low, send `continue` and stop; at the end, let the ledger check whether everything
 *    already settled (e.g. no providers at all);
 * 3. clients: the same for client rows, started by the ledger's `start-clients` once every
 *    provider settled; a client naming a provider that failed in this import fails at once
 *    (client-gate.ts); the ledger completes the job when the last client settles.
 * Every step is idempotent: a `start` with a known job id resumes the job from its phase and
 * cursor, and a finished job does nothing.
 */
import { detectFormat, IMPORT_FORMATS, type ImportFormat } from '#lib/import/format.ts';
import { parseImport } from '#lib/import/parse-import.ts';
import {
  type ClientGate,
  clientGate,
  failedProviderReason,
  PROVIDER_FAILED_OPERATION,
} from '#lib/jobs/client-gate.ts';
import { CONTROL_TYPES, type ControlMessage } from '#lib/jobs/control-messages.ts';
import { advanceIfSettled } from '#lib/jobs/import-progress.ts';
import { type ImportMessage, SQS_BATCH_LIMIT } from '#lib/jobs/import-queue.ts';
import type {
  ControlOutcome,
  InitialSyncDeps,
  InvocationBudget,
} from '#lib/jobs/initial-sync-types.ts';
import { type FanOutPhase, FINAL_PHASES, JOB_PHASES, type Job } from '#lib/jobs/job.ts';
import { planJob } from '#lib/jobs/plan-job.ts';

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
      mode: message.mode,
      // Never "now": without a given time the file must state it, or planning fails the job.
      ...(message.exportedAt === undefined ? {} : { exportedAt: message.exportedAt }),
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
    const planned = await planJob(job, deps, budget);
    if (planned.kind !== 'planned' || job.dryRun) return planned;
    const next = await deps.jobs.get(job.jobId);
    if (!next) return { kind: 'ignored', jobId: job.jobId, reason: 'unknown job' };
    return resume(next, deps, budget);
  }
  return fanOut(job, job.phase as FanOutPhase, deps, budget);
}

/** The gate of the provider phase: nothing is skipped or failed up front. */
const OPEN_GATE: ClientGate = { invalidLines: new Set(), failedProviders: new Map() };

/**
 * Sends the rows of `phase` after the cursor to the import queue. In the client phase, rows that
 * planning failed are skipped and a client naming a provider that failed fails at once.
 */
async function fanOut(
  job: Job,
  phase: FanOutPhase,
  deps: InitialSyncDeps,
  budget: InvocationBudget,
): Promise<ControlOutcome> {
  const { jobId, exportedAt } = job;
  if (exportedAt === undefined) {
    // Planning always stores it; a job without one was never planned and is not sent.
    const reason = 'exportedAt: is unknown; the job was not planned';
    await deps.jobs.fail(jobId, reason);
    return { kind: 'failed', jobId, reason };
  }
  const kind = phase === JOB_PHASES.providers ? 'provider' : 'client';
  const gate = phase === JOB_PHASES.clients ? await clientGate(jobId, deps.failures) : OPEN_GATE;
  let batch: ImportMessage[] = [];
  let failed = 0;
  let lastLine = job.cursor;
  /** Sends the batch, counts the clients failed up front, and saves the cursor. */
  const send = async (): Promise<boolean> => {
    if (batch.length > 0) await deps.importQueue.sendBatch(jobId, exportedAt, batch, job.mode);
    if (failed > 0) await deps.jobs.addOutcomes(jobId, { failed });
    batch = [];
    failed = 0;
    return deps.jobs.saveCursor(jobId, phase, lastLine);
  };
  for await (const row of parseImport(await deps.openSource(job.source), job.format)) {
    if (!row.ok || row.record.kind !== kind || row.line <= job.cursor) continue;
    if (gate.invalidLines.has(row.line)) continue;
    lastLine = row.line;
    const reason = failedProviderReason(row.record, gate);
    if (reason !== undefined) {
      await failFast(jobId, row.line, row.record.partnerUserId, reason, deps);
      failed += 1;
      continue;
    }
    batch.push({ line: row.line, record: row.record });
    if (batch.length < SQS_BATCH_LIMIT) continue;
    if (!(await send())) return { kind: 'ignored', jobId, reason: `job left phase ${phase}` };
    if (budget.remainingMs() < budget.reserveMs) {
      await deps.control.send({ type: CONTROL_TYPES.continue, jobId, phase, cursor: lastLine });
      return { kind: 'continued', jobId, phase };
    }
  }
  if ((batch.length > 0 || failed > 0) && !(await send())) {
    return { kind: 'ignored', jobId, reason: `job left phase ${phase}` };
  }
  // Every row of the phase is queued. If all of them settled already (or there were none), no
  // flush of sync-user will move the job on: check here (the ledger's write picks one winner).
  const current = await deps.jobs.get(jobId);
  if (current) await advanceIfSettled(current, deps);
  return { kind: 'fanned-out', jobId, phase };
}

/** Records a client that cannot be synced (a provider failed) and tells the partner. */
async function failFast(
  jobId: string,
  line: number,
  partnerUserId: string,
  reason: string,
  deps: InitialSyncDeps,
): Promise<void> {
  const operation = PROVIDER_FAILED_OPERATION;
  await deps.failures.record({ jobId, line, partnerUserId, operation, reason });
  await deps.outbound.publish({
    type: 'user.failed',
    partnerUserId,
    operation,
    reason,
    jobId,
    occurredAt: new Date((deps.now ?? Date.now)()).toISOString(),
  });
}

/** The format of a start message's source. */
function formatOf(message: Extract<ControlMessage, { type: 'start' }>): ImportFormat {
  if ('records' in message.source) return IMPORT_FORMATS.ndjson;
  return message.format ?? detectFormat(message.source.key);
}

export type {
  ControlOutcome,
  InitialSyncDeps,
  InvocationBudget,
} from '#lib/jobs/initial-sync-types.ts';
