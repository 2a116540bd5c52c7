/**
 * `upheal-sync import FILE [--exported-at TIME] [--dry-run] [--wait] [--job-id ID]`: uploads the
 * export to the import bucket (or takes an `s3://` object in place) and sends the job's `start`
 * control message to `initial-sync`; prints the job id. The export time is required (given, or
 * stated on the file's first line): rows are versioned with it, never with "now". `--dry-run`
 * validates and plans the file on this machine (tools/cli/dry-run.ts) and never starts or resumes
 * a job. `--mode` chooses how users without a mapping are created (lib/import/import-mode.ts).
 * `--wait` shows progress (stderr) until the job ends, then its report. `--job-id` of an
 * existing job resumes it (its recorded source).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { IMPORT_BUCKET } from '#infra/resources.ts';
import { ValidationError } from '#lib/errors.ts';
import { parseWith } from '#lib/events/validation.ts';
import { readStatedExportTime, resolveExportTime } from '#lib/import/export-time.ts';
import { detectFormat, type ImportFormat } from '#lib/import/format.ts';
import { DEFAULT_IMPORT_MODE, type ImportMode, ImportModeSchema } from '#lib/import/import-mode.ts';
import { JobIdSchema, type StartMessage } from '#lib/jobs/control-messages.ts';
import { FINAL_PHASES, hasFailures, type Job, summaryCounts } from '#lib/jobs/job.ts';
import type { JobStore } from '#lib/jobs/job-store.ts';
import { parseFlags } from '#tools/cli/args.ts';
import { type CliCommand, EXIT } from '#tools/cli/command.ts';
import {
  type JobCommandDeps,
  jobCommandDeps,
  rateSettingsFrom,
} from '#tools/cli/commands/status.ts';
import {
  type DryRunResult,
  dryRun,
  dryRunReport,
  type ImportLocation,
  locationOf,
  s3Text,
} from '#tools/cli/dry-run.ts';
import { jobReport, ProgressWriter, paceOf, type Sample, sampleOf } from '#tools/cli/progress.ts';
import { namesTarget, s3ClientFrom } from '#tools/cli/target.ts';

const USAGE = `Usage: upheal-sync import FILE [--exported-at TIME] [--mode MODE] [--dry-run] [--wait] [--job-id ID] [--json]

Starts an initial sync of FILE (.ndjson, .jsonl or .csv; see docs/import-files.md): uploads it
to the import bucket and starts job ID (default: a new id) on initial-sync. FILE may be
s3://BUCKET/KEY: the object is imported in place (nothing is uploaded). Providers are synced
first, clients once every provider is settled. Prints the job id; see also
\`upheal-sync status\` and \`upheal-sync failures\`.

Options:
  --mode MODE         how users with no mapping are created: check-first (default: check each
                      email, then create), create-first (create at once, check only when Upheal
                      answers "duplicate": about half the calls when most users are new) or auto
                      (create-first, switching to check-first when over half of the users are
                      found in Upheal already). See docs/initial-sync.md. A resumed job keeps its mode
  --dry-run           validate and plan FILE on this machine: rows, invalid rows by line, checks,
                      creates, assignment calls and the estimated time at the rate limit (also
                      per mode). Needs
                      no stack; with one (--stage or its variables) it also counts the users
                      already mapped. Uploads nothing, starts no job, never calls Upheal
  --wait              show progress (stderr) until the job ends, then its report
  --job-id ID         the job's id; an existing job's id resumes that job where it stopped
  --exported-at TIME  when the export was taken (ISO-8601 with offset); rows are events of that
                      time, so live changes made after it win over them. Required unless the
                      file states it on its first line (see docs/import-files.md, "Export time")
  --json              print one JSON object: the dry run's {file, plan, invalidRows,
                      estimatedMinutes, modes, rate, checkedMappings, exportTime}, or the job {jobId,
                      resumed, source, format, job} (job: as \`status --json\`, with --wait)
  -h, --help          show this help

Environment: the stage's variables (--stage, or TABLE_NAME, IMPORT_CONTROL_QUEUE_URL,
IMPORT_BUCKET and the AWS variables); UPHEAL_RATE_LIMIT, UPHEAL_RATE_WINDOW_SECONDS and
UPHEAL_RATE_JITTER_MS for estimates (defaults: the functions' defaults).
Exit status: 0 all records synced (dry run: every row valid), 1 some failed or invalid (or the
file was unusable), 2 usage error.
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
  readonly json: boolean;
  readonly wait: boolean;
  readonly jobId?: string | undefined;
  readonly exportedAt?: string | undefined;
  readonly mode?: ImportMode | undefined;
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
  const s3 = s3ClientFrom(env);
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
  const parsed = parseFlags(args, {
    'dry-run': { type: 'boolean' },
    wait: { type: 'boolean' },
    'job-id': { type: 'string' },
    'exported-at': { type: 'string' },
    mode: { type: 'string' },
    json: { type: 'boolean' },
  });
  const [file, ...extra] = parsed.positionals;
  if (file === undefined) throw new ValidationError([{ field: 'FILE', reason: 'is required' }]);
  if (extra.length > 0) {
    throw new ValidationError([{ field: 'arguments', reason: 'expected exactly one FILE' }]);
  }
  const jobId = parsed.values['job-id'];
  const exportedAt = parsed.values['exported-at'];
  const mode = parsed.values.mode;
  const dryRun = parsed.values['dry-run'] === true;
  if (dryRun && jobId !== undefined) {
    throw new ValidationError([
      { field: '--job-id', reason: 'cannot be combined with --dry-run (a dry run starts no job)' },
    ]);
  }
  return {
    file,
    dryRun,
    json: parsed.values.json === true,
    wait: parsed.values.wait === true,
    jobId: typeof jobId === 'string' ? parseWith(JobIdSchema, jobId, '--job-id') : undefined,
    exportedAt:
      typeof exportedAt === 'string'
        ? parseWith(z.iso.datetime({ offset: true }), exportedAt, '--exported-at')
        : undefined,
    mode: typeof mode === 'string' ? parseWith(ImportModeSchema, mode, '--mode') : undefined,
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
  const writer = new ProgressWriter(deps.output.stderr, deps.isTty, PLAIN_LINE_EVERY_MS);
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

/** Plans the file on this machine (and counts mapped users when a stack is named). */
async function runDryRun(flags: ImportArgs, deps: ImportCommandDeps): Promise<number> {
  const location = locationOf(flags.file);
  const format: ImportFormat = detectFormat('path' in location ? location.path : location.key);
  const rate = rateSettingsFrom(deps.env);
  const target = namesTarget(deps.env) ? deps.openTarget(deps.env) : undefined;
  const s3 = 'bucket' in location ? s3ClientFrom(deps.env) : undefined;
  try {
    if ('path' in location) await fileSize(location.path);
    const source =
      s3 && 'bucket' in location
        ? await s3Text(s3, location.bucket, location.key)
        : createReadStream(flags.file);
    const stated = await readStatedExportTime(
      s3 && 'bucket' in location
        ? await s3Text(s3, location.bucket, location.key)
        : createReadStream(flags.file),
      format,
    );
    let exportTime: DryRunResult['exportTime'];
    try {
      exportTime = {
        at: resolveExportTime({ given: flags.exportedAt, stated, nowMs: deps.now() }),
      };
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      exportTime = { problem: error.message };
    }
    const result = await dryRun({ source, format, rate, target, exportTime });
    deps.output.stdout(
      flags.json
        ? `${JSON.stringify({ file: flags.file, ...result })}\n`
        : dryRunReport(flags.file, result),
    );
    return result.invalidRows.length > 0 ? EXIT.someFailed : EXIT.ok;
  } catch (error) {
    // A file unusable as a whole (e.g. a CSV header with unknown columns): a data problem, 1.
    if (!(error instanceof ValidationError) || !/header|line/.test(error.message)) throw error;
    deps.output.stderr(`upheal-sync import: ${flags.file}: ${error.message}\n`);
    return EXIT.someFailed;
  } finally {
    target?.close();
    s3?.destroy();
  }
}

/** The start message of a new job: the file uploaded, or the S3 object named, in place. */
async function newJobStart(
  flags: ImportArgs,
  jobId: string,
  exportedAt: string | undefined,
  deps: ImportCommandDeps,
): Promise<StartMessage> {
  const location = locationOf(flags.file);
  const format: ImportFormat = detectFormat('path' in location ? location.path : location.key);
  let source: { bucket: string; key: string };
  if ('bucket' in location) {
    source = { bucket: location.bucket, key: location.key };
  } else {
    const bucket = parseWith(BucketSchema, deps.env, 'environment')[IMPORT_BUCKET.nameEnv]!;
    source = { bucket, key: `${UPLOAD_PREFIX}/${jobId}/${basename(location.path)}` };
    const bytes = await fileSize(location.path);
    deps.output.stderr(`uploading ${bytes} bytes to s3://${bucket}/${source.key}\n`);
    await deps.upload(deps.env, bucket, source.key, location.path);
  }
  return {
    type: 'start',
    jobId,
    source,
    format,
    dryRun: false,
    ...(flags.mode ? { mode: flags.mode } : {}),
    ...(exportedAt ? { exportedAt } : {}),
  };
}

/**
 * The export time of a new job: given, stated by the local file, or both (they must agree); a
 * usage error naming `exportedAt` when a local file has neither. An S3 object is read by the job
 * itself, which fails the job naming `exportedAt` when neither the start message nor the object
 * states it.
 */
async function exportTimeOf(
  flags: ImportArgs,
  location: ImportLocation,
  format: ImportFormat,
  nowMs: number,
): Promise<string | undefined> {
  if ('bucket' in location) {
    return flags.exportedAt === undefined
      ? undefined
      : resolveExportTime({ given: flags.exportedAt, nowMs });
  }
  const stated = await readStatedExportTime(createReadStream(location.path), format);
  return resolveExportTime({ given: flags.exportedAt, stated, nowMs });
}

/** The start message that resumes an existing job with its own source. */
function resumeStart(existing: Job): StartMessage {
  // The job's own source, so a different file cannot slip into a running job.
  return {
    type: 'start',
    jobId: existing.jobId,
    source:
      'records' in existing.source ? { records: [...existing.source.records] } : existing.source,
    format: existing.format,
    dryRun: existing.dryRun,
    mode: existing.mode,
    exportedAt: existing.exportedAt,
  };
}

/** Creates the `import` command. */
export function createImportCommand(overrides: Partial<ImportCommandDeps> = {}): CliCommand {
  return {
    name: 'import',
    summary: 'start an initial sync of an export file (--dry-run: validate and plan offline)',
    usage: USAGE,
    targeted: true,
    async run(args, context) {
      const base = jobCommandDeps(overrides, context);
      const deps: ImportCommandDeps = {
        ...base,
        upload: overrides.upload ?? uploadFile,
        isTty: overrides.isTty ?? process.stderr.isTTY === true,
        sleep: overrides.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
        newJobId: overrides.newJobId ?? (() => newJobId(new Date(base.now()))),
      };
      const flags = parseImportArgs(args);
      if (flags.dryRun) return runDryRun(flags, deps);
      // The file is checked before anything remote: a typo costs no upload and no job.
      const location = locationOf(flags.file);
      const format = detectFormat('path' in location ? location.path : location.key);
      if (flags.jobId === undefined && 'path' in location) await fileSize(location.path);
      // Rows are versioned with the export's time, never "now": a new job needs it up front.
      const exportedAt =
        flags.jobId === undefined
          ? await exportTimeOf(flags, location, format, deps.now())
          : undefined;
      const target = deps.openTarget(deps.env);
      try {
        const jobs = target.jobs;
        const control = target.controlQueue();
        const existing = flags.jobId ? await jobs.get(flags.jobId) : undefined;
        const jobId = flags.jobId ?? deps.newJobId();
        const start = existing
          ? resumeStart(existing)
          : await newJobStart(flags, jobId, exportedAt, deps);
        await control.send(start);
        const source =
          'bucket' in start.source
            ? `s3://${start.source.bucket}/${start.source.key}`
            : 'inline records';
        deps.output.stderr(
          `job ${jobId}: ${existing ? `resuming (phase ${existing.phase})` : 'started'} — ${start.format} in ${source}, mode ${start.mode ?? DEFAULT_IMPORT_MODE}\n`,
        );
        const result = { jobId, resumed: existing !== undefined, source, format: start.format };
        if (!flags.wait) {
          deps.output.stdout(flags.json ? `${JSON.stringify(result)}\n` : `${jobId}\n`);
          if (!flags.json) deps.output.stderr(`follow it with: upheal-sync status ${jobId}\n`);
          return EXIT.ok;
        }
        const job = await waitForJob(jobs, jobId, deps, true);
        deps.output.stdout(
          flags.json
            ? `${JSON.stringify({ ...result, job: { ...job, summary: summaryCounts(job) } })}\n`
            : jobReport(job, deps.now()),
        );
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
