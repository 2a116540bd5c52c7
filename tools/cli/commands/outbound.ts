/**
 * `upheal-sync outbound tail`: prints the outbound events as they arrive, one JSON object per
 * line, so an integrator sees what their system will receive. Tailing consumes the events it
 * prints (it is for a stage where no partner consumer reads the queue, such as local); it never
 * holds an event back or lets one reach the dead-letter queue: each is deleted right after it is
 * printed. `--count-only` reads nothing and prints the queue's depth instead, safe on any stage.
 * `inviteUrl` values are masked unless `--show-invite-urls`: they are credentials.
 */
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { ValidationError } from '#lib/errors.ts';
import { booleanFlag, parseFlags } from '#tools/cli/args.ts';
import { type CliCommand, EXIT, processContext } from '#tools/cli/command.ts';
import { queueDepth } from '#tools/cli/drain.ts';
import { targetFromEnv } from '#tools/cli/target.ts';

const USAGE = `Usage: upheal-sync outbound tail [--once] [--show-invite-urls]
       upheal-sync outbound tail --count-only [--json]

Prints the outbound events (user.created, user.linked, user.updated, user.deleted, user.failed,
client.providers_assigned, import.completed; see docs/outbound-events.md) as they arrive on the
outbound queue, one JSON object per line, until Ctrl-C. Tailing consumes what it prints: use it
where no partner consumer reads the queue (e.g. the local stack). It never delays an event or
lets one be dead-lettered.

Options:
  --once              print what is there now, then exit
  --count-only        print how many events wait on the queue and read none (safe on any stage)
  --json              with --count-only: print {"queue":"outbound","messages":n}
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
  targeted: true,
  async run(args, { env, output } = processContext()) {
    const parsed = parseFlags(args, {
      once: { type: 'boolean' },
      'count-only': { type: 'boolean' },
      json: { type: 'boolean' },
      'show-invite-urls': { type: 'boolean' },
    });
    if (parsed.positionals.length !== 1 || parsed.positionals[0] !== 'tail') {
      throw new ValidationError([{ field: 'action', reason: 'the only action is tail' }]);
    }
    const target = targetFromEnv(env);
    const queueUrl = target.queueUrl('outbound');
    if (booleanFlag(parsed, 'count-only')) {
      try {
        const messages = await queueDepth(target, 'outbound');
        output.stdout(
          booleanFlag(parsed, 'json')
            ? `${JSON.stringify({ queue: 'outbound', messages })}\n`
            : `${messages} event(s) on the outbound queue\n`,
        );
        return EXIT.ok;
      } finally {
        target.close();
      }
    }
    const showInviteUrls = booleanFlag(parsed, 'show-invite-urls');
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
          output.stdout(`${printable(message.Body ?? '', showInviteUrls)}\n`);
          await target.sqs.send(
            new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
          );
        }
        if (booleanFlag(parsed, 'once') && Messages.length === 0) break;
      }
      return EXIT.ok;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      target.close();
    }
  },
};
