/**
 * `ingest`: the HTTPS entry for partner events, behind a Lambda function URL. Parses the
 * function-URL event, runs `ingestEvents` and maps its outcome to the HTTP answer. Logs one JSON
 * line per request with ids, counts and reasons only: never bodies, event data or secrets.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context, LambdaFunctionURLEvent, LambdaFunctionURLResult } from 'aws-lambda';
import { SERVICE } from '#infra/resources.ts';
import { loadConfig } from '#lib/config.ts';
import { ConfigError } from '#lib/errors.ts';
import { sqsEventQueue, sqsSendBatch } from '#lib/ingest/event-queue.ts';
import {
  type IngestDependencies,
  type IngestOutcome,
  type IngestRequest,
  ingestEvents,
  RETRY_AFTER_SECONDS,
} from '#lib/ingest/ingest-events.ts';
import { dynamoNonceStore } from '#lib/ingest/replay-guard.ts';
import { secretList } from '#lib/ingest/secrets.ts';
import { requiredSecret } from '#lib/secrets.ts';
import { MS_PER_SECOND } from '#lib/time.ts';

/** The log lines this handler writes (Powertools Logger satisfies it). */
export interface IngestLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

/** What the bare handler needs: the use case's dependencies and a logger. */
export interface IngestHandlerDependencies extends IngestDependencies {
  readonly logger: IngestLogger;
}

/** A function-URL handler. */
export type IngestHandler = (
  event: LambdaFunctionURLEvent,
  context?: Context,
) => Promise<LambdaFunctionURLResult>;

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** Status when our own dependencies (SQS, DynamoDB, SSM) fail: the partner retries. */
const UNAVAILABLE_STATUS = 503;
/** Status when the function is misconfigured: retrying will not help until an operator acts. */
const MISCONFIGURED_STATUS = 500;

/** The request ingest sees: the exact bytes received (function URLs base64 non-text bodies). */
export function toIngestRequest(event: LambdaFunctionURLEvent): IngestRequest {
  const body =
    event.body === undefined
      ? Buffer.alloc(0)
      : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  return { method: event.requestContext.http.method, headers: event.headers ?? {}, body };
}

/** The bare handler, with every dependency injected (tests, local stack). */
export function createIngestHandler(deps: IngestHandlerDependencies): IngestHandler {
  return async (event) => {
    const requestId = event.requestContext.requestId;
    try {
      const outcome = await ingestEvents(toIngestRequest(event), deps);
      deps.logger.info('ingest answered', { requestId, ...logAttributes(outcome) });
      return {
        statusCode: outcome.status,
        headers: { ...JSON_HEADERS, ...outcome.headers },
        body: JSON.stringify(outcome.body),
      };
    } catch (error) {
      // Only the error's class: SDK messages are safe, but nothing here should depend on that.
      const errorName = error instanceof Error ? error.name : 'unknown';
      deps.logger.error('ingest failed', { requestId, errorName });
      // Bad configuration (a missing or short secret) stays bad until an operator acts.
      const misconfigured = error instanceof ConfigError;
      return {
        statusCode: misconfigured ? MISCONFIGURED_STATUS : UNAVAILABLE_STATUS,
        headers: misconfigured
          ? JSON_HEADERS
          : { ...JSON_HEADERS, 'retry-after': String(RETRY_AFTER_SECONDS) },
        body: JSON.stringify({
          error: misconfigured ? 'misconfigured' : 'temporarily unavailable',
        }),
      };
    }
  };
}

/** Ids, counts and reasons of an outcome: what may be logged. */
function logAttributes(outcome: IngestOutcome): Record<string, unknown> {
  const { body } = outcome;
  if ('error' in body) return { status: outcome.status, reason: body.error };
  return {
    status: outcome.status,
    acceptedCount: body.accepted.length,
    rejectedCount: body.rejected.length,
    notAcceptedCount: body.notAccepted?.length ?? 0,
    enqueued: outcome.enqueued,
    rejected: body.rejected.map((event) => ({
      index: event.index,
      eventId: event.eventId,
      fields: event.errors.map((issue) => issue.field),
    })),
    notAccepted: body.notAccepted,
  };
}

// AWS clients are built once per Lambda instance; endpoints come from AWS_ENDPOINT_URL_*.
const sqs = new SQSClient({});
const dynamodb = new DynamoDBClient({});
const logger = new Logger({ serviceName: SERVICE });

/** Wires the bare handler from the configuration (the composition root of `ingest`). */
function wire(): IngestHandler {
  const config = loadConfig();
  return createIngestHandler({
    secrets: secretList(
      requiredSecret({
        variable: 'INGEST_SECRET',
        value: config.INGEST_SECRET,
        parameter: config.INGEST_SECRET_PARAMETER,
      }),
      config.INGEST_SECRET ? 'INGEST_SECRET' : `SSM parameter ${config.INGEST_SECRET_PARAMETER}`,
    ),
    nonces: dynamoNonceStore(dynamodb, config.TABLE_NAME),
    queue: sqsEventQueue({ sendBatch: sqsSendBatch(sqs), queueUrl: config.USER_EVENTS_QUEUE_URL }),
    limits: {
      maxBodyBytes: config.INGEST_MAX_BODY_BYTES,
      replayWindowMs: config.INGEST_REPLAY_WINDOW_SECONDS * MS_PER_SECOND,
      maxFutureSkewMs: config.EVENT_MAX_FUTURE_SKEW_SECONDS * MS_PER_SECOND,
    },
    now: Date.now,
    logger,
  });
}

let wired: IngestHandler | undefined;

/** The Lambda entry point: configuration is read on the first request (cold start). */
export const handler: IngestHandler = async (event, context) => {
  if (context) logger.addContext(context);
  try {
    wired ??= wire();
  } catch (error) {
    // A ConfigError names the variable, never its value, so its message is safe to log.
    const errorMessage = error instanceof ConfigError ? error.message : undefined;
    logger.error('ingest misconfigured', {
      errorName: error instanceof Error ? error.name : 'unknown',
      errorMessage,
    });
    throw error;
  }
  return wired(event, context);
};
