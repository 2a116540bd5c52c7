/**
 * `assign-providers` Lambda: consumes the assignments queue (FIFO grouped by the client's
 * partner id) and makes each client's provider list in Upheal equal to the desired one. Answers
 * with a partial batch response (`ReportBatchItemFailures` is set on the event source mapping).
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { BACKSTOP_MAX_RECEIVES } from '#infra/resources.ts';
import { loadConfig } from '#lib/config.ts';
import { createLogger } from '#lib/observability/logger.ts';
import { buildRuntime } from '#lib/runtime.ts';
import { sqsConsumer } from '#lib/sqs/consumer.ts';
import { assignProvidersWork } from '#lib/sync/record-work.ts';

const config = loadConfig();
const runtime = buildRuntime(config, 'assign-providers');
const logger = createLogger('assign-providers');

/** The handler, wired once per Lambda instance. */
export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  sqsConsumer(
    {
      sqs: runtime.sqs,
      failures: runtime.failures,
      logger,
      maxAttempts: config.SYNC_MAX_ATTEMPTS,
      dependencyWaitMs: config.DEPENDENCY_WAIT_SECONDS * 1000,
      maxReceives: BACKSTOP_MAX_RECEIVES,
      // Published at the end of each invocation, with the Upheal call counts of runtime.ts.
      metrics: runtime.metrics,
    },
    assignProvidersWork({
      mappings: runtime.mappings,
      upheal: runtime.upheal,
      outbound: runtime.outbound,
      logger,
    }),
  );
