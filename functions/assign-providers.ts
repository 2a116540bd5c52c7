/**
 * `assign-providers` Lambda: consumes the assignments queue (FIFO grouped by the client's
 * partner id) and makes each client's provider list in Upheal equal to the desired one. Answers
 * with a partial batch response (`ReportBatchItemFailures` is set on the event source mapping).
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '#lib/config.ts';
import { createLogger } from '#lib/observability/logger.ts';
import { buildRuntime, callGuardOf, consumerDepsOf } from '#lib/runtime.ts';
import { sqsConsumer } from '#lib/sqs/consumer.ts';
import { assignProvidersWork } from '#lib/sync/record-work.ts';

const config = loadConfig();
const runtime = buildRuntime(config, 'assign-providers');
const logger = createLogger('assign-providers');

/** The handler, wired once per Lambda instance. */
export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  sqsConsumer(
    // Metrics are published at the end of each invocation, with the Upheal call counts.
    { ...consumerDepsOf(runtime), logger },
    assignProvidersWork({
      mappings: runtime.mappings,
      upheal: runtime.upheal,
      outbound: runtime.outbound,
      logger,
      callGuard: callGuardOf(runtime),
      leases: runtime.leases,
    }),
  );
