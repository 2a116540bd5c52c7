/**
 * `upheal-sync failures [JOB]`: the failed records of an import job (the latest by default), by
 * line: invalid rows with the field and reason, and rows Upheal refused (operation, status,
 * reason). Reasons carry ids and field names only, never clinical data.
 */
import { type CliCommand, EXIT } from '#lib/cli/command.ts';
import {
  findJob,
  type JobCommandDeps,
  jobCommandDeps,
  jobsOf,
  parseJobArgs,
} from '#lib/cli/commands/status.ts';
import { DynamoFailureStore, type FailureRecord } from '#lib/store/failure-store.ts';

const USAGE = `Usage: upheal-sync failures [JOB] [--json]

Lists the failed records of an import job (the most recently started one without JOB): the line
of the file, the partner id when known, what was attempted and why it failed. Exit status 1 when
there is any.

Options:
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
    async run(args) {
      const deps = jobCommandDeps(overrides);
      const { jobId, json } = parseJobArgs(args);
      const target = deps.openTarget(deps.env);
      try {
        const job = await findJob(jobsOf(target), jobId);
        const failures = await new DynamoFailureStore(target.documents, target.tableName).list(
          job.jobId,
          Number.MAX_SAFE_INTEGER,
        );
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
