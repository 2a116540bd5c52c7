/**
 * `initial-sync` Lambda: consumes the import-control FIFO queue (batch size 1, grouped by job id)
 * and runs each control message of an import job — start (plan and fan out providers), continue
 * (a fan-out that ran out of time), start-clients (sent once every provider settled). Answers
 * with a partial batch response.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { loadConfig } from '#lib/config.ts';
import { controlHandler } from '#lib/jobs/control-handler.ts';
import { sourceOpener } from '#lib/jobs/import-source.ts';
import { createLogger } from '#lib/observability/logger.ts';
import { buildRuntime, consumerDepsOf } from '#lib/runtime.ts';

const config = loadConfig();
const runtime = buildRuntime(config, 'initial-sync');

/** The handler, wired once per Lambda instance. */
export const handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> =
  controlHandler({
    jobs: runtime.jobs,
    control: runtime.control,
    outbound: runtime.outbound,
    openSource: sourceOpener(new S3Client({})),
    importQueue: runtime.importQueue,
    failures: runtime.failures,
    mappings: runtime.mappings,
    logger: createLogger('initial-sync'),
    consumer: consumerDepsOf(runtime),
  });
