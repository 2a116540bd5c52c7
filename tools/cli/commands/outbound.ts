/**
 * `upheal-sync outbound tail`: prints the outbound events (SPEC §5.1) as they arrive, one JSON
 * object per line, so an integrator sees what their system will receive. It consumes them
 * (deletes after printing) unless `--peek`; in production the partner's consumer owns the queue.
 * `inviteUrl` values are masked unless `--show-invite-urls`: they are credentials.
 */
import { parseArgs } from 'node:util';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ValidationError } from '#lib/errors.ts';
import { type CliCommand, EXIT } from '#tools/cli/command.ts';
import { targetFromEnv } from '#tools/cli/target.ts';

const USAGE = `Usage: upheal-sync outbound tail [--peek] [--once] [--show-invite-urls]

Prints the outbound events (user.created, user.linked, user.updated, user.deleted, user.failed,
client.providers_assigned, import.completed) as they arrive on the outbound queue, one JSON
object per line, until Ctrl-C.

Options:
  --peek              leave the events on the queue (they reappear after its visibility timeout)
  --once              print what is there now, then exit
  --show-invite-urls  print providers' inviteUrl values (credentials!) instead of masking them
  -h, --help          show this help
`;

/** Long-poll wait per receive. */
const WAIT_SECONDS = 2;
/** ReceiveMessage returns at most 10 messages. */
const RECEIVE_MAX = 10;
/** Shown instead of an invite URL. */
const MASK = '<masked: use --show-invite-urls>';

/** The event as printed: the invite URL masked unless asked for. */
export function printable(body: string, showInviteUrls: boolean): string {
  if (showInviteUrls) return body;
  try {
    const event = JSON.parse(body) as Record<string, unknown>;
    if (typeof event.inviteUrl === 'string') event.inviteUrl = MASK;
    return JSON.stringify(event);
  } catch {
    return body;
  }
}

/** The `outbound` command. */
export const outboundCommand: CliCommand = {
  name: 'outbound',
  summary: 'tail the outbound events the partner system receives',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: {
        peek: { type: 'boolean', default: false },
        once: { type: 'boolean', default: false },
        'show-invite-urls': { type: 'boolean', default: false },
      },
      allowPositionals: true,
    });
    if (positionals.length !== 1 || positionals[0] !== 'tail') {
      throw new ValidationError([{ field: 'action', reason: 'the only action is tail' }]);
    }
    const target = targetFromEnv(process.env);
    const queueUrl = target.queueUrl('outbound');
    let stopping = false;
    const stop = () => {
      stopping = true;
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      while (!stopping) {
        const { Messages = [] } = await target.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: RECEIVE_MAX,
            WaitTimeSeconds: WAIT_SECONDS,
          }),
        );
        for (const message of Messages) {
          process.stdout.write(`${printable(message.Body ?? '', values['show-invite-urls'])}\n`);
          if (!values.peek) {
            await target.sqs.send(
              new DeleteMessageCommand({
                QueueUrl: queueUrl,
                ReceiptHandle: message.ReceiptHandle,
              }),
            );
          }
        }
        if (values.once && Messages.length === 0) break;
      }
      return EXIT.ok;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      target.close();
    }
  },
};
