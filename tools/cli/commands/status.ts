/**
 * `upheal-sync status [JOB]`: an import job's phase, counts, rate and ETA (the latest job when
 * none is named). Reads the job ledger of the target (tools/cli/target.ts). Also the
 * home of what the job commands share: the ledger of a target and the rate settings.
 */
import { z } from 'zod';
import { ValidationError } from '#lib/errors.ts';
import { parseWith } from '#lib/events/validation.ts';
import { JobIdSchema } from '#lib/jobs/control-messages.ts';
import { hasFailures, type Job, summaryCounts } from '#lib/jobs/job.ts';
import type { DynamoJobStore } from '#lib/jobs/job-store.ts';
import { describeQuarantine, readQuarantine } from '#lib/quarantine/dynamo-quarantine.ts';
import { booleanFlag, parseFlags } from '#tools/cli/args.ts';
import {
  type CliCommand,
  type CliContext,
  type CliOutput,
  EXIT,
  processContext,
} from '#tools/cli/command.ts';
import {
  jobReport,
  paceOf,
  progressLine,
  type RateSettings,
  sampleOf,
} from '#tools/cli/progress.ts';
import { type Target, targetFromEnv } from '#tools/cli/target.ts';

const USAGE = `Usage: upheal-sync status [JOB] [--json]

Shows whether the sync runs or is quarantined (since when, why), and an import job: phase, rows
settled per phase, outcomes, rate and ETA. Without JOB, the most recently started job. Exit status 1 when some of its records failed.

Options:
  --json       print the job as one JSON object
  -h, --help   show this help
`;

/** The limiter settings the estimates use, from the same variables the functions read. */
const RateSchema = z.object({
  UPHEAL_RATE_LIMIT: z.coerce.number().int().min(2).default(300),
  UPHEAL_RATE_WINDOW_SECONDS: z.coerce.number().positive().default(60),
  UPHEAL_RATE_JITTER_MS: z.coerce.number().int().nonnegative().default(1000),
});

/** The rate settings of `env` (defaults as in lib/config.ts). */
export function rateSettingsFrom(env: NodeJS.ProcessEnv): RateSettings {
  const parsed = parseWith(RateSchema, env, 'environment');
  return {
    limit: parsed.UPHEAL_RATE_LIMIT,
    windowSeconds: parsed.UPHEAL_RATE_WINDOW_SECONDS,
    jitterMs: parsed.UPHEAL_RATE_JITTER_MS,
  };
}

/** What the job commands depend on; tests replace parts of it. */
export interface JobCommandDeps {
  readonly output: CliOutput;
  readonly env: NodeJS.ProcessEnv;
  readonly openTarget: (env: NodeJS.ProcessEnv) => Target;
  readonly now: () => number;
}

/** The dependencies of one run: the context's environment and output, overridden by `deps`. */
export function jobCommandDeps(
  deps: Partial<JobCommandDeps>,
  context: CliContext = processContext(),
): JobCommandDeps {
  return {
    output: deps.output ?? context.output,
    env: deps.env ?? context.env,
    openTarget: deps.openTarget ?? targetFromEnv,
    now: deps.now ?? Date.now,
  };
}

/** The job ledger of a target. */
export function jobsOf(target: Target): DynamoJobStore {
  return target.jobs;
}

/** The named job, or the latest; a usage error when there is none. */
export async function findJob(jobs: DynamoJobStore, jobId: string | undefined): Promise<Job> {
  const job = jobId === undefined ? await jobs.latest() : await jobs.get(jobId);
  if (job) return job;
  throw new ValidationError([
    jobId === undefined
      ? { field: 'JOB', reason: 'no import job has been started on this target' }
      : { field: 'JOB', reason: `no job with id ${jobId}` },
  ]);
}

/** Parses `[JOB] [--json]`. */
export function parseJobArgs(args: string[]): { jobId?: string; json: boolean } {
  const parsed = parseFlags(args, { json: { type: 'boolean' } });
  if (parsed.positionals.length > 1) {
    throw new ValidationError([{ field: 'JOB', reason: 'expected at most one JOB' }]);
  }
  const [jobId] = parsed.positionals;
  return {
    ...(jobId === undefined ? {} : { jobId: parseWith(JobIdSchema, jobId, 'JOB') }),
    json: booleanFlag(parsed, 'json'),
  };
}

/** Creates the `status` command. */
export function createStatusCommand(overrides: Partial<JobCommandDeps> = {}): CliCommand {
  return {
    name: 'status',
    summary: 'phase, counts, rate and ETA of an import job (the latest by default)',
    usage: USAGE,
    targeted: true,
    async run(args, context) {
      const deps = jobCommandDeps(overrides, context);
      const { jobId, json } = parseJobArgs(args);
      const rate = rateSettingsFrom(deps.env);
      const target = deps.openTarget(deps.env);
      try {
        const quarantine = await readQuarantine(target.documents, target.tableName);
        const job = await findJob(target.jobs, jobId);
        const now = deps.now();
        if (json) {
          const shown = { ...job, summary: summaryCounts(job), quarantine };
          deps.output.stdout(`${JSON.stringify(shown)}\n`);
        } else {
          // One look gives no rate of its own: the average since the job started.
          const start = { atMs: Date.parse(job.startedAt), settled: 0, calls: 0 };
          const pace = paceOf(job, start, sampleOf(job, now), rate);
          deps.output.stdout(
            `${describeQuarantine(quarantine)}\n${progressLine(job, pace)}\n${jobReport(job, now)}`,
          );
        }
        return hasFailures(job) ? EXIT.someFailed : EXIT.ok;
      } finally {
        target.close();
      }
    },
  };
}

/** `upheal-sync status`. */
export const statusCommand: CliCommand = createStatusCommand();
