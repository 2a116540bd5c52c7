/**
 * `deliver-outbound` Lambda: consumes the outbound-webhook queue and POSTs each outbound event to
 * the partner's HTTPS endpoint (`OUTBOUND_WEBHOOK_URL`), signed with the webhook secret the way
 * `ingest` verifies. Every failure is retried with backoff, then dead-lettered and recorded, for
 * `upheal-sync redrive`. Answers with a partial batch response (`ReportBatchItemFailures`).
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '#lib/config.ts';
import { DeliveryError } from '#lib/errors.ts';
import { secretList } from '#lib/ingest/secrets.ts';
import { createLogger } from '#lib/observability/logger.ts';
import { deliverToWebhook } from '#lib/outbound/webhook.ts';
import { buildRuntime, consumerDepsOf } from '#lib/runtime.ts';
import { configuredSecret } from '#lib/secrets.ts';
import { sqsConsumer } from '#lib/sqs/consumer.ts';

const config = loadConfig();
const runtime = buildRuntime(config, 'deliver-outbound');
const logger = createLogger('deliver-outbound');
const secret = configuredSecret({
  variable: 'OUTBOUND_WEBHOOK_SECRET',
  value: config.OUTBOUND_WEBHOOK_SECRET,
  parameter: config.OUTBOUND_WEBHOOK_SECRET_PARAMETER,
});
const secrets = secret && secretList(secret, 'OUTBOUND_WEBHOOK_SECRET');

/** The handler, wired once per Lambda instance. */
export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  sqsConsumer(
    { ...consumerDepsOf(runtime), logger },
    {
      async run(record) {
        const url = config.OUTBOUND_WEBHOOK_URL;
        // Without a webhook nothing publishes here; a leftover is kept (retried, then re-drivable).
        if (!url || !secrets) throw new DeliveryError('no partner webhook configured', undefined);
        await deliverToWebhook(record.body, {
          url,
          secrets: () => secrets.current(),
          timeoutMs: config.UPHEAL_TIMEOUT_MS,
        });
        logger.info('delivered', { messageId: record.messageId });
      },
      // The body may hold an inviteUrl: failure records carry the message id only.
      describe: (record) => ({ operation: 'deliver-outbound', eventId: record.messageId }),
    },
  );
