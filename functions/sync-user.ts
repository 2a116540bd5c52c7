/**
 * `sync-user` Lambda: consumes the user-events queue (live lane) and the import queue (bulk
 * lane), FIFO grouped by partner user id, and applies each event with `syncUser`. Answers with a
 * partial batch response (`ReportBatchItemFailures` is set on both event source mappings).
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '#lib/config.ts';
import { flushingAfter, importProgressFor } from '#lib/jobs/import-progress.ts';
import { createLogger } from '#lib/observability/logger.ts';
import { buildRuntime, callGuardOf, consumerDepsOf } from '#lib/runtime.ts';
import { sqsConsumer } from '#lib/sqs/consumer.ts';
import { syncUserWork } from '#lib/sync/record-work.ts';

const config = loadConfig();
const runtime = buildRuntime(config, 'sync-user');
const logger = createLogger('sync-user');
/** Import outcomes are counted per invocation and written to the job ledger once at its end. */
const importProgress = importProgressFor(runtime);

const consume = sqsConsumer(
  { ...consumerDepsOf(runtime), logger },
  syncUserWork({
    mappings: runtime.mappings,
    upheal: runtime.upheal,
    assignments: runtime.assignments,
    deleteGuard: runtime.deleteGuard,
    stagedDeletes: runtime.stagedDeletes,
    outbound: runtime.outbound,
    logger,
    leases: runtime.leases,
    shareInviteUrl: config.SHARE_INVITE_URL,
    maxFutureSkewMs: config.EVENT_MAX_FUTURE_SKEW_SECONDS * 1000,
    importProgress,
    callGuard: callGuardOf(runtime),
  }),
);

/** The handler, wired once per Lambda instance. */
export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  flushingAfter(consume, importProgress);
