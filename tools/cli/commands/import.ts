/**
 * `upheal-sync import FILE --exported-at TIME [--dry-run] [--wait] [--job-id ID]` (SPEC §7):
 * uploads the export to the import bucket and sends the job's `start` control message to
 * `initial-sync`; prints the job id. `--exported-at` is required unless the file states its export
 * time. `--dry-run` waits for the plan (checks, creates, links, assignment calls, invalid rows,
 * estimated time) and changes nothing in Upheal. `--wait` shows progress until the job ends, then
 * its report. `--job-id` of an existing job resumes it (its recorded source; nothing uploaded).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { IMPORT_BUCKET } from '#infra/resources.ts';
import { ValidationError } from '#lib/errors.ts';
import { parseWith } from '#lib/events/validation.ts';
import { readStatedExportTime, resolveExportTime } from '#lib/import/export-time.ts';
import { detectFormat, type ImportFormat } from '#lib/import/format.ts';
import { JobIdSchema, type StartMessage } from '#lib/jobs/control-messages.ts';
import { FINAL_PHASES, hasFailures, type Job } from '#lib/jobs/job.ts';
import type { JobStore } from '#lib/jobs/job-store.ts';
import { type CliCommand, EXIT } from '#tools/cli/command.ts';
import {
  type JobCommandDeps,
  jobCommandDeps,
  rateSettingsFrom,
} from '#tools/cli/commands/status.ts';
import {
  jobReport,
  ProgressWriter,
  paceOf,
  planReport,
  type Sample,
  sampleOf,
} from '#tools/cli/progress.ts';

const USAGE = `Usage: upheal-sync import FILE --exported-at TIME [--dry-run] [--wait] [--job-id ID]

Starts an initial sync of FILE (.ndjson, .jsonl or .csv; see docs/import-files.md): uploads it
to the import bucket and starts job ID (default: a new id) on initial-sync. Providers are synced
first, clients once every provider is settled. Prints the job id; see also
\`upheal-sync status\` and \`upheal-sync failures\`.

Options:
  --dry-run           plan only: checks, creates, links, assignment calls, invalid rows and the
                      estimated time at the configured rate; nothing is written to Upheal
  --wait              show progress until the job ends, then its report
  --job-id ID         the job's id; an existing job's id resumes that job where it stopped
  --exported-at TIME  when the export was taken (ISO-8601 with offset); rows are events of that
                      time, so live changes made after it win over them. Required unless the
                      file states it on its first line (see docs/import-files.md, "Export time")
  -h, --help          show this help

Environment: TABLE_NAME, IMPORT_CONTROL_QUEUE_URL, IMPORT_BUCKET and the AWS endpoint variables,
as printed by \`upheal-sync local\` (or the deployed stack's outputs); UPHEAL_RATE_LIMIT,
UPHEAL_RATE_WINDOW_SECONDS and UPHEAL_RATE_JITTER_MS for estimates.
Exit status: 0 all records synced, 1 some failed (or the file was unusable), 2 usage error.
`;

/** How often --wait looks at the job, and how often plain (non-terminal) output prints a line. */
const POLL_MS = 1_000;
const PLAIN_LINE_EVERY_MS = 5_000;
/** The span over which --wait measures rows and calls per minute. */
const RATE_WINDOW_MS = 20_000;
/** After this long without a job record, --wait says that initial-sync may not be running. */
const NO_JOB_WARNING_MS = 30_000;
/** Where uploads go in the bucket: one folder per job. */
const UPLOAD_PREFIX = 'imports';

/** The bucket variable. */
const BucketSchema = z.object({ [IMPORT_BUCKET.nameEnv]: z.string().min(1) });

/** What `import` depends on beyond the job commands' shared dependencies. */
export interface ImportCommandDeps extends JobCommandDeps {
  /** Uploads a file to S3. */
  readonly upload: (
    env: NodeJS.ProcessEnv,
    bucket: string,
    key: string,
    path: string,
  ) => Promise<void>;
  readonly isTty: boolean;
  readonly sleep: (ms: number) => Promise<void>;
  readonly newJobId: () => string;
}

/** Flags of `import`. */
interface ImportArgs {
  readonly file: string;
  readonly dryRun: boolean;
  readonly wait: boolean;
  readonly jobId?: string | undefined;
  readonly exportedAt?: string | undefined;
}

/** A fresh job id: `imp-<UTC time>-<random>`, sortable by start. */
export function newJobId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `imp-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** Uploads with an S3 client configured like the target's (path style against an emulator). */
export async function uploadFile(
  env: NodeJS.ProcessEnv,
  bucket: string,
  key: string,
  path: string,
): Promise<void> {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  const s3 = new S3Client({
    ...(region ? { region } : {}),
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    ...(accessKeyId && secretAccessKey ? { credentials: { accessKeyId, secretAccessKey } } : {}),
  });
  try {
    const { size } = await stat(path);
    // Streamed with its length: the file is never held in memory whole.
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: createReadStream(path),
        ContentLength: size,
      }),
    );
  } finally {
    s3.destroy();
  }
}

/** Parses the arguments; errors name the flag. */
function parseImportArgs(args: string[]): ImportArgs {
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({
      args,
      options: {
        'dry-run': { type: 'boolean' },
        wait: { type: 'boolean' },
        'job-id': { type: 'string' },
        'exported-at': { type: 'string' },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new ValidationError([{ field: 'arguments', reason: (error as Error).message }]);
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined) throw new ValidationError([{ field: 'FILE', reason: 'is required' }]);
  if (extra.length > 0) {
    throw new ValidationError([{ field: 'arguments', reason: 'expected exactly one FILE' }]);
  }
  const jobId = parsed.values['job-id'];
  const exportedAt = parsed.values['exported-at'];
  return {
    file,
    dryRun: parsed.values['dry-run'] === true,
    wait: parsed.values.wait === true,
    jobId: typeof jobId === 'string' ? parseWith(JobIdSchema, jobId, '--job-id') : undefined,
    exportedAt:
      typeof exportedAt === 'string'
        ? parseWith(z.iso.datetime({ offset: true }), exportedAt, '--exported-at')
        : undefined,
  };
}

/** Polls the job until it is final, showing progress when asked. */
async function waitForJob(
  jobs: JobStore,
  jobId: string,
  deps: ImportCommandDeps,
  showProgress: boolean,
): Promise<Job> {
  const rate = rateSettingsFrom(deps.env);
  const writer = new ProgressWriter(deps.output.stdout, deps.isTty, PLAIN_LINE_EVERY_MS);
  const samples: Sample[] = [];
  const since = deps.now();
  let warned = false;
  for (;;) {
    const job = await jobs.get(jobId);
    const now = deps.now();
    if (!job && !warned && now - since >= NO_JOB_WARNING_MS) {
      warned = true;
      deps.output.stderr(
        `job ${jobId} has no ledger entry yet: is initial-sync running on this target (its import-control queue)?\n`,
      );
    }
    if (job) {
      const sample = sampleOf(job, now);
      // The rate over the last RATE_WINDOW_MS: current, yet not jumpy between two polls.
      samples.push(sample);
      while (samples.length > 1 && now - samples[0]!.atMs > RATE_WINDOW_MS) samples.shift();
      if (showProgress) writer.update(job, paceOf(job, samples[0]!, sample, rate), now);
      if (FINAL_PHASES.has(job.phase)) {
        writer.finish();
        return job;
      }
    }
    await deps.sleep(POLL_MS);
  }
}

/** Creates the `import` command. */
export function createImportCommand(overrides: Partial<ImportCommandDeps> = {}): CliCommand {
  return {
    name: 'import',
    summary: 'start an initial sync of an export file (--dry-run: the plan; --wait: progress)',
    usage: USAGE,
    async run(args) {
      const base = jobCommandDeps(overrides);
      const deps: ImportCommandDeps = {
        ...base,
        upload: overrides.upload ?? uploadFile,
        isTty: overrides.isTty ?? process.stdout.isTTY === true,
        sleep: overrides.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
        newJobId: overrides.newJobId ?? (() => newJobId(new Date(base.now()))),
      };
      const flags = parseImportArgs(args);
      const rate = rateSettingsFrom(deps.env);
      // The file is checked before anything remote: a typo costs no upload and no job.
      const format: ImportFormat = detectFormat(flags.file);
      const size = flags.jobId === undefined ? await fileSize(flags.file) : undefined;
      // Rows are versioned with the export's time, never "now": a new job needs it up front.
      const exportTimeOfFile = async () =>
        resolveExportTime({
          given: flags.exportedAt,
          stated: await readStatedExportTime(createReadStream(flags.file), format),
          nowMs: deps.now(),
        });
      const exportedAt = size === undefined ? undefined : await exportTimeOfFile();
      const target = deps.openTarget(deps.env);
      try {
        const jobs = target.jobs;
        const control = target.controlQueue();
        const existing = flags.jobId ? await jobs.get(flags.jobId) : undefined;
        const jobId = flags.jobId ?? deps.newJobId();
        let start: StartMessage;
        if (existing) {
          // Resume: the job's own source, so a different file cannot slip into a running job.
          start = {
            type: 'start',
            jobId,
            source:
              'records' in existing.source
                ? { records: [...existing.source.records] }
                : existing.source,
            format: existing.format,
            dryRun: existing.dryRun,
            ...(existing.exportedAt ? { exportedAt: existing.exportedAt } : {}),
          };
          deps.output.stdout(`job ${jobId}: resuming (phase ${existing.phase})\n`);
        } else {
          const bytes = size ?? (await fileSize(flags.file));
          const jobExportedAt = exportedAt ?? (await exportTimeOfFile());
          const bucket = parseWith(BucketSchema, deps.env, 'environment')[IMPORT_BUCKET.nameEnv]!;
          const key = `${UPLOAD_PREFIX}/${jobId}/${basename(flags.file)}`;
          await deps.upload(deps.env, bucket, key, flags.file);
          start = {
            type: 'start',
            jobId,
            source: { bucket, key },
            format,
            dryRun: flags.dryRun,
            exportedAt: jobExportedAt,
          };
          deps.output.stdout(
            `job ${jobId}: ${flags.dryRun ? 'planning (dry run)' : 'started'} — ${bytes} bytes of ${format} in s3://${bucket}/${key}\n`,
          );
        }
        await control.send(start);
        if (start.dryRun) {
          const job = await waitForJob(jobs, jobId, deps, false);
          deps.output.stdout(job.plan ? planReport(job, rate) : jobReport(job, deps.now()));
          return job.phase === 'failed' ? EXIT.someFailed : EXIT.ok;
        }
        if (!flags.wait) {
          deps.output.stdout(`follow it with: upheal-sync status ${jobId}\n`);
          return EXIT.ok;
        }
        const job = await waitForJob(jobs, jobId, deps, true);
        deps.output.stdout(jobReport(job, deps.now()));
        return hasFailures(job) ? EXIT.someFailed : EXIT.ok;
      } finally {
        target.close();
      }
    },
  };
}

/** The size of the file to import; a usage error naming FILE when it cannot be read. */
async function fileSize(path: string): Promise<number> {
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new Error('not a file');
    return info.size;
  } catch {
    throw new ValidationError([{ field: 'FILE', reason: 'is not a readable file' }]);
  }
}

/** `upheal-sync import`. */
export const importCommand: CliCommand = createImportCommand();
