/**
 * `upheal-sync failures [JOB]`: the failed records of an import job (the latest by default), by
 * line: invalid rows with the field and reason, and rows Upheal refused (operation, status,
 * reason). Reasons carry ids and field names only, never clinical data.
 */

import type { FailureRecord } from '#lib/store/failure-store.ts';
import { type CliCommand, EXIT } from '#tools/cli/command.ts';
import {
  findJob,
  type JobCommandDeps,
  jobCommandDeps,
  parseJobArgs,
} from '#tools/cli/commands/status.ts';

/** How many live-event failures --live shows. */
const LIVE_LIMIT = 1000;
const LIVE_FLAG = '--live';

const USAGE = `Usage: upheal-sync failures [JOB] [--json]
       upheal-sync failures --live [--json]

Lists the failed records of an import job (the most recently started one without JOB): the line
of the file, the partner id when known, what was attempted and why it failed. With --live, the
failures of ongoing events instead (newest first, the last ${LIVE_LIMIT}). Exit status 1 when
there is any.

Options:
  --live       failures of ongoing (partner) events, not of an import
  --json       print one JSON object per failure
  -h, --help   show this help
`;

/** One failure as a line of text. */
export function failureLine(failure: FailureRecord): string {
  const where = failure.line === undefined ? 'line -' : `line ${failure.line}`;
  const status = failure.status === undefined ? '' : ` (HTTP ${failure.status})`;
  return `${where.padEnd(10)} ${(failure.partnerUserId ?? '-').padEnd(16)} ${failure.operation}${status}: ${failure.reason}`;
}

/** Creates the `failures` command. */
export function createFailuresCommand(overrides: Partial<JobCommandDeps> = {}): CliCommand {
  return {
    name: 'failures',
    summary: 'failed records of an import job, by line, with reasons',
    usage: USAGE,
    targeted: true,
    async run(args, context) {
      const deps = jobCommandDeps(overrides, context);
      const live = args.includes(LIVE_FLAG);
      const { jobId, json } = parseJobArgs(args.filter((arg) => arg !== LIVE_FLAG));
      const target = deps.openTarget(deps.env);
      try {
        if (live) {
          const failures = await target.failures.list(undefined, LIVE_LIMIT);
          for (const failure of failures) {
            deps.output.stdout(
              json
                ? `${JSON.stringify(failure)}\n`
                : `${failure.at} ${failure.eventId ?? '-'} ${failureLine(failure)}\n`,
            );
          }
          if (!json) deps.output.stdout(`${failures.length} failed live event(s)\n`);
          return failures.length > 0 ? EXIT.someFailed : EXIT.ok;
        }
        const job = await findJob(target.jobs, jobId);
        const failures = await target.failures.list(job.jobId, Number.MAX_SAFE_INTEGER);
        if (json) {
          for (const failure of failures) deps.output.stdout(`${JSON.stringify(failure)}\n`);
        } else if (failures.length === 0) {
          deps.output.stdout(`job ${job.jobId}: no failed records\n`);
        } else {
          deps.output.stdout(`job ${job.jobId}: ${failures.length} failed records\n`);
          for (const failure of failures) deps.output.stdout(`${failureLine(failure)}\n`);
        }
        return failures.length > 0 ? EXIT.someFailed : EXIT.ok;
      } finally {
        target.close();
      }
    },
  };
}

/** `upheal-sync failures`. */
export const failuresCommand: CliCommand = createFailuresCommand();
