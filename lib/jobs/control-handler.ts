/**
 * The `initial-sync` SQS handler, built from its dependencies: the import-control queue
 * (batch size 1) through the shared consumer, so a control message that throws is retried with
 * backoff and one that can never succeed (a malformed message) is recorded as a failure.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { parseControlMessage } from '#lib/jobs/control-messages.ts';
import { type InitialSyncDeps, runControl } from '#lib/jobs/initial-sync.ts';
import type { Logger } from '#lib/observability/logger.ts';
import { type ConsumerDeps, sqsConsumer } from '#lib/sqs/consumer.ts';

/** Time left unused at the end of an invocation: the last batch, the cursor and `continue`. */
export const DEFAULT_RESERVE_MS = 60_000;

/** What the handler needs. */
export interface ControlHandlerDeps extends InitialSyncDeps {
  readonly consumer: Omit<ConsumerDeps, 'logger'>;
  readonly logger: Logger;
  /** See InvocationBudget.reserveMs (default DEFAULT_RESERVE_MS). */
  readonly reserveMs?: number;
}

/** Builds the handler of the import-control queue. */
export function controlHandler(
  deps: ControlHandlerDeps,
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  const reserveMs = deps.reserveMs ?? DEFAULT_RESERVE_MS;
  return (event, context) => {
    const decoded = new Map<string, { jobId: string; type: string }>();
    const consume = sqsConsumer(
      { ...deps.consumer, logger: deps.logger },
      {
        async run(record) {
          const message = parseControlMessage(record.body, `message ${record.messageId}`);
          decoded.set(record.messageId, message);
          const outcome = await runControl(message, deps, {
            remainingMs: () => context.getRemainingTimeInMillis(),
            reserveMs,
          });
          deps.logger.info('control applied', {
            type: message.type,
            jobId: message.jobId,
            outcome: outcome.kind,
            ...('phase' in outcome ? { phase: outcome.phase } : {}),
            ...('reason' in outcome ? { reason: outcome.reason } : {}),
          });
        },
        describe(record) {
          const message = decoded.get(record.messageId);
          return {
            operation: `import-control.${message?.type ?? 'unknown'}`,
            jobId: message?.jobId,
          };
        },
      },
    );
    return consume(event, context);
  };
}
