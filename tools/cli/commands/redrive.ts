/**
 * `upheal-sync redrive`: moves dead-lettered messages back to the queues they came from, for
 * another try after the cause was fixed. Each message keeps its body, attributes and message
 * group (so a user's order holds) and gets a new deduplication id (the original may still be in
 * SQS's 5-minute deduplication window). A message is deleted from the DLQ only after it was sent.
 */
import {
  DeleteMessageCommand,
  GetQueueUrlCommand,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { QUEUES, type QueueKey } from '#infra/resources.ts';
import { ValidationError } from '#lib/errors.ts';
import { booleanFlag, parseFlags, stringFlag } from '#tools/cli/args.ts';
import { type CliCommand, EXIT, processContext } from '#tools/cli/command.ts';
import { type Target, targetFromEnv } from '#tools/cli/target.ts';

/** Queues whose DLQ is re-driven (the consumed ones). */
const REDRIVEN: readonly QueueKey[] = (Object.keys(QUEUES) as QueueKey[]).filter(
  (key) => 'consumer' in QUEUES[key],
);

/** The queue names operators see in help, alarms and the AWS console (`user-events`, …). */
export const REDRIVEN_NAMES: readonly string[] = REDRIVEN.map((key) => QUEUES[key].suffix);

const USAGE = `Usage: upheal-sync redrive [--queue NAME] [--dry-run] [--json]

Moves every message of the dead-letter queues back to its source queue, in order per user. Run
it after fixing what made them fail; \`upheal-sync failures\` lists the reasons.

Options:
  --queue NAME  only this queue: ${REDRIVEN_NAMES.join(', ')}
  --dry-run     count the messages, move nothing
  --json        print {"dryRun":…,"queues":{"<name>":count},"total":n}
  -h, --help    show this help
`;

/** ReceiveMessage returns at most 10 messages. */
const RECEIVE_MAX = 10;
/** Messages received for moving stay invisible this long. */
const MOVE_VISIBILITY_SECONDS = 60;

/** The DLQ URL of a queue: `<queue>-dlq.fifo` next to it. */
async function dlqUrlOf(target: Target, key: QueueKey): Promise<string> {
  const url = target.queueUrl(key);
  const name = url.slice(url.lastIndexOf('/') + 1).replace(/\.fifo$/, '-dlq.fifo');
  const { QueueUrl } = await target.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
  return QueueUrl!;
}

/** Moves (or counts) the messages of one queue's DLQ; resolves with how many. */
export async function redriveQueue(
  target: Target,
  key: QueueKey,
  dryRun: boolean,
): Promise<number> {
  const source = target.queueUrl(key);
  const dlq = await dlqUrlOf(target, key);
  let moved = 0;
  for (;;) {
    const { Messages = [] } = await target.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: dlq,
        MaxNumberOfMessages: RECEIVE_MAX,
        VisibilityTimeout: dryRun ? 0 : MOVE_VISIBILITY_SECONDS,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['MessageGroupId'],
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0 || dryRun) return moved + (dryRun ? Messages.length : 0);
    for (const message of Messages) {
      const attributes: Record<string, MessageAttributeValue> = {};
      for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
        attributes[name] = { DataType: value.DataType, StringValue: value.StringValue };
      }
      await target.sqs.send(
        new SendMessageCommand({
          QueueUrl: source,
          MessageBody: message.Body,
          MessageAttributes: attributes,
          MessageGroupId: message.Attributes?.MessageGroupId ?? message.MessageId,
          MessageDeduplicationId: `${message.MessageId}-redrive-${Date.now()}`,
        }),
      );
      await target.sqs.send(
        new DeleteMessageCommand({ QueueUrl: dlq, ReceiptHandle: message.ReceiptHandle }),
      );
      moved += 1;
    }
  }
}

/** The queue keys `--queue NAME` selects (every re-driven queue without it). */
export function redrivenQueues(name: string | undefined): readonly QueueKey[] {
  if (name === undefined) return REDRIVEN;
  const key = REDRIVEN.find((candidate) => QUEUES[candidate].suffix === name);
  if (!key) {
    throw new ValidationError([
      { field: '--queue', reason: `must be one of ${REDRIVEN_NAMES.join(', ')}` },
    ]);
  }
  return [key];
}

/** The `redrive` command. */
export const redriveCommand: CliCommand = {
  name: 'redrive',
  summary: 'move dead-lettered messages back to their queues for another try',
  usage: USAGE,
  targeted: true,
  async run(args, { env, output } = processContext()) {
    const parsed = parseFlags(
      args,
      { queue: { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' } },
      false,
    );
    const keys = redrivenQueues(stringFlag(parsed, 'queue'));
    const dryRun = booleanFlag(parsed, 'dry-run');
    const json = booleanFlag(parsed, 'json');
    const target = targetFromEnv(env);
    try {
      const counts: Record<string, number> = {};
      let total = 0;
      for (const key of keys) {
        const count = await redriveQueue(target, key, dryRun);
        counts[QUEUES[key].suffix] = count;
        total += count;
        if (count > 0 && !json)
          output.stdout(
            `${QUEUES[key].suffix}: ${count} message(s) ${dryRun ? 'dead-lettered' : 'moved back'}\n`,
          );
      }
      output.stdout(
        json
          ? `${JSON.stringify({ dryRun, queues: counts, total })}\n`
          : `${dryRun ? 'found' : 'moved'} ${total} message(s)\n`,
      );
      return EXIT.ok;
    } finally {
      target.close();
    }
  },
};
