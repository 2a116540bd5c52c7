/**
 * `upheal-sync redrive`: moves dead-lettered messages back to the queues they came from, for
 * another try after the cause was fixed. Each message keeps its body, attributes and message
 * group (so a user's order holds) and gets a new deduplication id (the original may still be in
 * SQS's 5-minute deduplication window). A message is deleted from the DLQ only after it was sent.
 */
import { parseArgs } from 'node:util';
import {
  DeleteMessageCommand,
  GetQueueUrlCommand,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { QUEUES, type QueueKey } from '#infra/resources.ts';
import { ValidationError } from '#lib/errors.ts';
import { type CliCommand, EXIT } from '#tools/cli/command.ts';
import { type Target, targetFromEnv } from '#tools/cli/target.ts';

const USAGE = `Usage: upheal-sync redrive [--queue NAME] [--dry-run]

Moves every message of the dead-letter queues back to its source queue (user-events,
import-users, assignments, import-control), in order per user. Run it after fixing what made
them fail; \`upheal-sync failures\` lists the reasons.

Options:
  --queue NAME  only this queue (userEvents, imports, assignments, importControl)
  --dry-run     count the messages, move nothing
  -h, --help    show this help
`;

/** Queues whose DLQ is re-driven (the consumed ones). */
const REDRIVEN: readonly QueueKey[] = (Object.keys(QUEUES) as QueueKey[]).filter(
  (key) => 'consumer' in QUEUES[key],
);
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

/** The `redrive` command. */
export const redriveCommand: CliCommand = {
  name: 'redrive',
  summary: 'move dead-lettered messages back to their queues for another try',
  usage: USAGE,
  async run(args) {
    const { values } = parseArgs({
      args,
      options: { queue: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } },
    });
    const keys = values.queue === undefined ? REDRIVEN : [values.queue as QueueKey];
    if (!keys.every((key) => REDRIVEN.includes(key))) {
      throw new ValidationError([
        { field: '--queue', reason: `must be one of ${REDRIVEN.join(', ')}` },
      ]);
    }
    const target = targetFromEnv(process.env);
    try {
      let total = 0;
      for (const key of keys) {
        const count = await redriveQueue(target, key, values['dry-run']);
        total += count;
        if (count > 0)
          process.stdout.write(
            `${key}: ${count} message(s) ${values['dry-run'] ? 'dead-lettered' : 'moved back'}\n`,
          );
      }
      process.stdout.write(`${values['dry-run'] ? 'found' : 'moved'} ${total} message(s)\n`);
      return EXIT.ok;
    } finally {
      target.close();
    }
  },
};
