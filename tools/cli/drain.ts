/**
 * Waiting for queues to drain: the "settled" of `send-events --wait` and of the demo. A queue is
 * drained when SQS reports no visible and no in-flight message several polls in a row (SQS's
 * counts are approximate, so one zero is not trusted).
 */
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { QueueKey } from '#infra/resources.ts';
import type { Target } from '#tools/cli/target.ts';

/** Poll interval while waiting. */
const POLL_MS = 500;
/** Consecutive empty polls that count as drained. */
const EMPTY_POLLS = 3;
/** Progress line every this many polls. */
const REPORT_EVERY = 10;

/** Messages waiting or in flight in a queue. */
export async function queueDepth(target: Target, key: QueueKey): Promise<number> {
  const { Attributes = {} } = await target.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: target.queueUrl(key),
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/** Resolves once every queue in `keys` is drained; reports the depth now and then. */
export async function waitForDrain(
  target: Target,
  keys: readonly QueueKey[],
  report: (line: string) => void,
  timeoutMs = Number.POSITIVE_INFINITY,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let empty = 0;
  for (let poll = 0; empty < EMPTY_POLLS; poll++) {
    const depths = await Promise.all(keys.map((key) => queueDepth(target, key)));
    const total = depths.reduce((sum, depth) => sum + depth, 0);
    empty = total === 0 ? empty + 1 : 0;
    if (poll % REPORT_EVERY === REPORT_EVERY - 1 && total > 0)
      report(`waiting: ${total} message(s) in flight\n`);
    if (Date.now() > deadline) throw new Error(`queues not drained after ${timeoutMs} ms`);
    if (empty < EMPTY_POLLS) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
