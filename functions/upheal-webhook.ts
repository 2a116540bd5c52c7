/**
 * `upheal-webhook`: the HTTPS entry for Upheal's webhooks, behind a Lambda function URL. Parses
 * the function-URL event, runs `receiveWebhook` and maps its outcome to the HTTP answer (204, or a
 * status with a JSON reason). Logs one line per delivery with ids and reasons only, and counts
 * signature failures in a metric the stack alarms on.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { toIngestRequest } from '#functions/ingest.ts';
import { SERVICE } from '#infra/resources.ts';
import { loadConfig } from '#lib/config.ts';
import { AppError, ConfigError } from '#lib/errors.ts';
import { sqsEventQueue, sqsSendBatch } from '#lib/ingest/event-queue.ts';
import { dynamoNonceStore } from '#lib/ingest/replay-guard.ts';
import { secretList } from '#lib/ingest/secrets.ts';
import { createMetrics, METRIC_NAMES, MetricUnit } from '#lib/observability/metrics.ts';
import { requiredSecret } from '#lib/secrets.ts';
import { MS_PER_SECOND } from '#lib/time.ts';
import {
  type ReceiveWebhookDependencies,
  receiveWebhook,
  WEBHOOK_NONCE_PREFIX,
  WEBHOOK_STATUS,
} from '#lib/upheal-webhook/receive-webhook.ts';

/** The log lines this handler writes (Powertools Logger satisfies it). */
export interface WebhookLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/** What the bare handler needs besides the use case's dependencies. */
export interface WebhookHandlerDependencies extends ReceiveWebhookDependencies {
  readonly logger: WebhookLogger;
  /** Called once per refused signature or timestamp (the metric behind the alarm). */
  readonly onSignatureFailure?: () => void;
}

/** A function-URL handler. */
export type WebhookHandler = (
  event: LambdaFunctionURLEvent,
  context?: Context,
) => Promise<LambdaFunctionURLResult>;

const JSON_HEADERS = { 'content-type': 'application/json' } as const;
/** Our own dependencies failed: Upheal retries the delivery. */
const UNAVAILABLE_STATUS = 503;
/** Misconfigured: retries do not help until an operator acts. */
const MISCONFIGURED_STATUS = 500;

/** The bare handler, with every dependency injected (tests, local stack). */
export function createWebhookHandler(deps: WebhookHandlerDependencies): WebhookHandler {
  return async (event) => {
    const requestId = event.requestContext.requestId;
    try {
      const outcome = await receiveWebhook(toIngestRequest(event), deps);
      const { headers: _headers, ...attributes } = outcome;
      if (outcome.signatureFailure) {
        deps.onSignatureFailure?.();
        deps.logger.warn('upheal webhook refused', { requestId, ...attributes });
      } else {
        deps.logger.info('upheal webhook answered', { requestId, ...attributes });
      }
      if (outcome.status === WEBHOOK_STATUS.noContent) {
        return { statusCode: outcome.status, headers: outcome.headers };
      }
      return {
        statusCode: outcome.status,
        headers: { ...JSON_HEADERS, ...outcome.headers },
        body: JSON.stringify({ error: outcome.reason }),
      };
    } catch (error) {
      const errorName = error instanceof Error ? error.name : 'unknown';
      deps.logger.error('upheal webhook failed', { requestId, errorName });
      const misconfigured = error instanceof AppError && !error.retryable;
      return {
        statusCode: misconfigured ? MISCONFIGURED_STATUS : UNAVAILABLE_STATUS,
        headers: JSON_HEADERS,
        body: JSON.stringify({
          error: misconfigured ? 'misconfigured' : 'temporarily unavailable',
        }),
      };
    }
  };
}

const sqs = new SQSClient({});
const dynamodb = new DynamoDBClient({});
const logger = new Logger({ serviceName: SERVICE });
const metrics = createMetrics('upheal-webhook');

function wire(): WebhookHandler {
  const config = loadConfig();
  if (!config.UPHEAL_WEBHOOKS_QUEUE_URL)
    throw new ConfigError('UPHEAL_WEBHOOKS_QUEUE_URL: required');
  return createWebhookHandler({
    scheme: config.UPHEAL_WEBHOOK_SIGNATURE_SCHEME,
    // One secret, or two (comma-separated) while it is rotated; read again after a miss.
    secrets: secretList(
      requiredSecret({
        variable: 'UPHEAL_WEBHOOK_SECRET',
        value: config.UPHEAL_WEBHOOK_SECRET,
        parameter: config.UPHEAL_WEBHOOK_SECRET_PARAMETER,
      }),
      config.UPHEAL_WEBHOOK_SECRET
        ? 'UPHEAL_WEBHOOK_SECRET'
        : `SSM parameter ${config.UPHEAL_WEBHOOK_SECRET_PARAMETER}`,
    ),
    nonces: dynamoNonceStore(dynamodb, config.TABLE_NAME, WEBHOOK_NONCE_PREFIX),
    queue: sqsEventQueue({
      sendBatch: sqsSendBatch(sqs),
      queueUrl: config.UPHEAL_WEBHOOKS_QUEUE_URL,
    }),
    limits: {
      maxBodyBytes: config.UPHEAL_WEBHOOK_MAX_BODY_BYTES,
      toleranceMs: config.UPHEAL_WEBHOOK_TOLERANCE_SECONDS * MS_PER_SECOND,
    },
    now: Date.now,
    logger,
    onSignatureFailure: () => {
      metrics.addMetric(METRIC_NAMES.webhookSignatureFailures, MetricUnit.Count, 1);
      metrics.publishStoredMetrics();
    },
  });
}

let wired: WebhookHandler | undefined;

/** The Lambda entry point: configuration is read on the first request (cold start). */
export const handler: WebhookHandler = async (event, context) => {
  if (context) logger.addContext(context);
  try {
    wired ??= wire();
  } catch (error) {
    const errorMessage = error instanceof ConfigError ? error.message : undefined;
    logger.error('upheal webhook misconfigured', {
      errorName: error instanceof Error ? error.name : 'unknown',
      errorMessage,
    });
    throw error;
  }
  return wired(event, context);
};
