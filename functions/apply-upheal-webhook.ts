/**
 * `apply-upheal-webhook` Lambda: consumes the Upheal-webhooks queue (FIFO, grouped by partner
 * user id) and heals creates whose answer was lost (`healCreatedUser`). Answers with a partial
 * batch response. Makes no Upheal call.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '#lib/config.ts';
import { createLogger } from '#lib/observability/logger.ts';
import { buildRuntime, consumerDepsOf } from '#lib/runtime.ts';
import { sqsConsumer } from '#lib/sqs/consumer.ts';
import { DynamoHealStore } from '#lib/upheal-webhook/heal-store.ts';
import { healWork } from '#lib/upheal-webhook/heal-work.ts';

const config = loadConfig();
const runtime = buildRuntime(config, 'apply-upheal-webhook');
const logger = createLogger('apply-upheal-webhook');

/** The handler, wired once per Lambda instance. */
export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  sqsConsumer(
    { ...consumerDepsOf(runtime), logger },
    healWork({
      mappings: runtime.mappings,
      store: new DynamoHealStore(runtime.documents, config.TABLE_NAME),
      outbound: runtime.outbound,
      assignments: runtime.assignments,
      settleMs: config.UPHEAL_WEBHOOK_SETTLE_SECONDS * 1000,
      logger,
    }),
  );
