/**
 * `upheal-sync deletes list|approve|reject`: the operator's side of the delete guard.
 * Approving marks the staged delete approved and re-sends its `user.deleted` event, which
 * `sync-user` then runs past the guard; rejecting drops it (the user stays in Upheal).
 */
import { ValidationError } from '#lib/errors.ts';
import type { DynamoStagedDeletes } from '#lib/sync/staged-deletes.ts';
import { booleanFlag, parseFlags } from '#tools/cli/args.ts';
import { type CliCommand, EXIT, processContext } from '#tools/cli/command.ts';
import { publishEvents } from '#tools/cli/commands/send-events.ts';
import { type Target, targetFromEnv } from '#tools/cli/target.ts';

const USAGE = `Usage: upheal-sync deletes list [--json]
       upheal-sync deletes approve PARTNER_USER_ID... | --all [--json]
       upheal-sync deletes reject PARTNER_USER_ID... | --all [--json]

Deletes beyond the guard's threshold (DELETE_GUARD_MAX_COUNT / DELETE_GUARD_MAX_SHARE per
DELETE_GUARD_WINDOW_SECONDS) wait here for an operator. Deleting an Upheal user can destroy a
therapist's notes: check the list against the partner system before approving.

Options:
  --all        approve or reject every staged delete
  --json       list: one JSON object per staged delete (partnerUserId, uphealUserId, eventId,
               occurredAt, stagedAt, approved); approve/reject: {"action","done":[ids],"missing":[ids]}
  -h, --help   show this help
Exit status 1 when a named id had no staged delete.
`;

const ACTIONS = ['list', 'approve', 'reject'] as const;

/** Approves or rejects the staged deletes of `ids`; resolves with those done and those missing. */
async function decide(
  target: Target,
  staged: DynamoStagedDeletes,
  action: 'approve' | 'reject',
  ids: readonly string[],
): Promise<{ done: string[]; missing: string[] }> {
  const done: string[] = [];
  const missing: string[] = [];
  for (const partnerUserId of ids) {
    if (action === 'reject') {
      ((await staged.reject(partnerUserId)) ? done : missing).push(partnerUserId);
      continue;
    }
    const approved = await staged.approve(partnerUserId);
    if (!approved) {
      missing.push(partnerUserId);
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
    done.push(partnerUserId);
  }
  return { done, missing };
}

/** The `deletes` command. */
export const deletesCommand: CliCommand = {
  name: 'deletes',
  summary: 'list, approve or reject the deletes staged by the delete guard',
  usage: USAGE,
  targeted: true,
  async run(args, { env, output } = processContext()) {
    const parsed = parseFlags(args, { all: { type: 'boolean' }, json: { type: 'boolean' } });
    const [action, ...ids] = parsed.positionals;
    if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) {
      throw new ValidationError([{ field: 'action', reason: 'must be list, approve or reject' }]);
    }
    const json = booleanFlag(parsed, 'json');
    const all = booleanFlag(parsed, 'all');
    if (action !== 'list' && !all && ids.length === 0) {
      throw new ValidationError([
        { field: 'PARTNER_USER_ID', reason: 'name at least one, or --all' },
      ]);
    }
    const target = targetFromEnv(env);
    const staged = target.stagedDeletes;
    try {
      const entries = await staged.list();
      if (action === 'list') {
        for (const entry of entries) {
          output.stdout(
            json
              ? `${JSON.stringify(entry)}\n`
              : `${entry.partnerUserId}\tupheal ${entry.uphealUserId}\tevent ${entry.eventId}\tstaged ${entry.stagedAt}${entry.approved ? '\tapproved' : ''}\n`,
          );
        }
        if (!json) output.stdout(`${entries.length} staged delete(s)\n`);
        return EXIT.ok;
      }
      const chosen = all ? entries.map((entry) => entry.partnerUserId) : ids;
      const verb = action as 'approve' | 'reject';
      const { done, missing } = await decide(target, staged, verb, chosen);
      if (json) {
        output.stdout(`${JSON.stringify({ action: verb, done, missing })}\n`);
      } else {
        for (const id of done) {
          output.stdout(
            verb === 'approve' ? `approved ${id}; its delete is queued\n` : `rejected ${id}\n`,
          );
        }
        if (missing.length > 0) output.stderr(`no staged delete for: ${missing.join(', ')}\n`);
      }
      return missing.length > 0 ? EXIT.someFailed : EXIT.ok;
    } finally {
      target.close();
    }
  },
};
