/**
 * `upheal-sync deletes list|approve|reject`: the operator's side of the delete guard (SPEC §3.3).
 * Approving marks the staged delete approved and re-sends its `user.deleted` event, which
 * `sync-user` then runs past the guard; rejecting drops it (the user stays in Upheal).
 */
import { parseArgs } from 'node:util';
import { ValidationError } from '#lib/errors.ts';
import { type CliCommand, EXIT } from '#tools/cli/command.ts';
import { publishEvents } from '#tools/cli/commands/send-events.ts';
import { targetFromEnv } from '#tools/cli/target.ts';

const USAGE = `Usage: upheal-sync deletes list
       upheal-sync deletes approve PARTNER_USER_ID... | --all
       upheal-sync deletes reject PARTNER_USER_ID... | --all

Deletes beyond the guard's threshold (DELETE_GUARD_MAX_COUNT / DELETE_GUARD_MAX_SHARE per
DELETE_GUARD_WINDOW_SECONDS) wait here for an operator. Deleting an Upheal user can destroy a
therapist's notes: check the list against the partner system before approving.

Options:
  --all        approve or reject every staged delete
  -h, --help   show this help
`;

const ACTIONS = ['list', 'approve', 'reject'] as const;

/** The `deletes` command. */
export const deletesCommand: CliCommand = {
  name: 'deletes',
  summary: 'list, approve or reject the deletes staged by the delete guard',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { all: { type: 'boolean', default: false } },
      allowPositionals: true,
    });
    const [action, ...ids] = positionals;
    if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) {
      throw new ValidationError([{ field: 'action', reason: 'must be list, approve or reject' }]);
    }
    const target = targetFromEnv(process.env);
    const staged = target.stagedDeletes;
    try {
      const entries = await staged.list();
      if (action === 'list') {
        for (const entry of entries) {
          process.stdout.write(
            `${entry.partnerUserId}\tupheal ${entry.uphealUserId}\tevent ${entry.eventId}\tstaged ${entry.stagedAt}${entry.approved ? '\tapproved' : ''}\n`,
          );
        }
        process.stdout.write(`${entries.length} staged delete(s)\n`);
        return EXIT.ok;
      }
      const chosen = values.all ? entries.map((entry) => entry.partnerUserId) : ids;
      if (chosen.length === 0) {
        throw new ValidationError([
          { field: 'PARTNER_USER_ID', reason: 'name at least one, or --all' },
        ]);
      }
      let missing = 0;
      for (const partnerUserId of chosen) {
        if (action === 'reject') {
          if (await staged.reject(partnerUserId))
            process.stdout.write(`rejected ${partnerUserId}\n`);
          else missing += 1;
          continue;
        }
        const approved = await staged.approve(partnerUserId);
        if (!approved) {
          missing += 1;
          continue;
        }
        await publishEvents(target, [
          {
            eventId: approved.eventId,
            type: 'user.deleted',
            occurredAt: approved.occurredAt,
            partnerUserId,
          },
        ]);
        process.stdout.write(`approved ${partnerUserId}; its delete is queued\n`);
      }
      if (missing > 0) process.stderr.write(`${missing} id(s) had no staged delete\n`);
      return missing > 0 ? EXIT.someFailed : EXIT.ok;
    } finally {
      target.close();
    }
  },
};
