/**
 * `upheal-sync verify --from FILE`: the drift check of mapped users against Upheal
 * (tools/cli/verify.ts), with progress and ETA on stderr and the findings on stdout.
 */
import { createReadStream } from 'node:fs';
import { ValidationError } from '#lib/errors.ts';
import { detectFormat } from '#lib/import/format.ts';
import { LANES } from '#lib/limiter/rate-limiter.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import type { CheckUserResult } from '#lib/upheal/client.ts';
import { booleanFlag, parseFlags, positiveIntFlag, stringFlag } from '#tools/cli/args.ts';
import { type CliCommand, type CliOutput, EXIT, processContext } from '#tools/cli/command.ts';
import { locationOf, s3Text } from '#tools/cli/dry-run.ts';
import { formatDuration } from '#tools/cli/progress.ts';
import { s3ClientFrom, targetFromEnv } from '#tools/cli/target.ts';
import { pacedUpheal } from '#tools/cli/upheal.ts';
import {
  type Candidate,
  type Checkpoint,
  candidatesOf,
  readCheckpoint,
  sampleOf,
  verifyOne,
  writeCheckpoint,
} from '#tools/cli/verify.ts';

const USAGE = `Usage: upheal-sync verify --from FILE [--sample N] [--checkpoint FILE] [--json]

Re-checks mapped users against Upheal, one POST /users/check each, paced on the bulk lane of the
shared rate limiter (so a running import or live events keep their share). The mapping stores no
email, so FILE — the partner's export, as for import (.ndjson, .jsonl, .csv, or s3://BUCKET/KEY)
— gives each user's email; only its users with an active mapping and an email are checked.
Reports users gone from Upheal (no user has the email: deleted there, or their email changed
there), emails now owned by another Upheal id, and deactivated accounts. Ids only.

Options:
  --from FILE        the partner's export that names the users' emails (required)
  --sample N         check N users only (a stable choice: a rerun checks the same ones)
  --checkpoint FILE  record progress in FILE and skip the users it lists as checked (resume)
  --json             print {"checked","skipped":{"noEmail","notMapped","invalid"},
                     "findings":[{"partnerUserId","kind","uphealUserId","finding",
                     "otherUphealUserId"}]}
  -h, --help         show this help
Progress and ETA go to stderr. Exit status 1 when there is any finding.
`;

/** Checkpoint writes and progress lines: every this many users, or this often. */
const CHECKPOINT_EVERY = 10;
const PROGRESS_EVERY_MS = 5_000;
const MS_PER_SECOND = 1000;

/** The progress line: done, findings, rate and the ETA from the rate so far. */
function progressLine(done: number, total: number, findings: number, elapsedMs: number): string {
  const perSecond = elapsedMs > 0 ? (done * MS_PER_SECOND) / elapsedMs : 0;
  const eta = perSecond > 0 ? formatDuration((total - done) / perSecond) : '-';
  return `verify: ${done}/${total} checked, ${findings} finding(s), ETA ${eta}\n`;
}

/** Checks the candidates not yet in the checkpoint; resolves with the final checkpoint. */
async function checkAll(
  candidates: readonly Candidate[],
  checkpointPath: string | undefined,
  check: (email: string) => Promise<CheckUserResult>,
  output: CliOutput,
): Promise<Checkpoint> {
  const checkpoint = await readCheckpoint(checkpointPath);
  const checked = new Set(checkpoint.checked);
  const todo = candidates.filter((candidate) => !checked.has(candidate.mapping.partnerUserId));
  if (checked.size > 0) output.stderr(`verify: resuming; ${checked.size} already checked\n`);
  const started = Date.now();
  let lastProgress = started;
  for (const [index, candidate] of todo.entries()) {
    const finding = await verifyOne(candidate, check);
    checkpoint.checked.push(candidate.mapping.partnerUserId);
    if (finding) checkpoint.findings.push(finding);
    if ((index + 1) % CHECKPOINT_EVERY === 0) await writeCheckpoint(checkpointPath, checkpoint);
    if (Date.now() - lastProgress >= PROGRESS_EVERY_MS || index + 1 === todo.length) {
      lastProgress = Date.now();
      output.stderr(
        progressLine(index + 1, todo.length, checkpoint.findings.length, lastProgress - started),
      );
    }
  }
  await writeCheckpoint(checkpointPath, checkpoint);
  return checkpoint;
}

/** The `verify` command. */
export const verifyCommand: CliCommand = {
  name: 'verify',
  summary: 'drift check: mapped users gone from Upheal, emails owned by others, deactivated',
  usage: USAGE,
  targeted: true,
  async run(args, { env, output } = processContext()) {
    const parsed = parseFlags(
      args,
      {
        from: { type: 'string' },
        sample: { type: 'string' },
        checkpoint: { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    const from = stringFlag(parsed, 'from');
    if (!from)
      throw new ValidationError([
        { field: '--from', reason: 'is required (the partner export naming the emails)' },
      ]);
    const sample = positiveIntFlag(parsed, 'sample');
    const location = locationOf(from);
    const format = detectFormat('path' in location ? location.path : location.key);
    const target = targetFromEnv(env);
    const upheal = pacedUpheal(env, LANES.bulk);
    const s3 = 'bucket' in location ? s3ClientFrom(env) : undefined;
    try {
      const source =
        s3 && 'bucket' in location
          ? await s3Text(s3, location.bucket, location.key)
          : createReadStream(from);
      const mappings = new DynamoMappingStore({
        client: target.documents,
        tableName: target.tableName,
      });
      const { candidates, skipped } = await candidatesOf(source, format, mappings);
      const chosen = sampleOf(candidates, sample);
      output.stderr(`verify: ${chosen.length} mapped user(s) to check\n`);
      const check = (email: string) => upheal.check(email);
      const result = await checkAll(chosen, stringFlag(parsed, 'checkpoint'), check, output);
      const chosenIds = new Set(chosen.map((candidate) => candidate.mapping.partnerUserId));
      const findings = result.findings.filter((finding) => chosenIds.has(finding.partnerUserId));
      const checkedCount = result.checked.filter((id) => chosenIds.has(id)).length;
      if (booleanFlag(parsed, 'json')) {
        output.stdout(`${JSON.stringify({ checked: checkedCount, skipped, findings })}\n`);
      } else {
        for (const finding of findings) {
          output.stdout(
            `${finding.partnerUserId}\t${finding.kind}\tupheal ${finding.uphealUserId}\t${finding.finding}${finding.otherUphealUserId ? `\tnow ${finding.otherUphealUserId}` : ''}\n`,
          );
        }
        output.stdout(
          `checked ${checkedCount}, ${findings.length} finding(s); not checked: ${skipped.notMapped} not mapped, ${skipped.noEmail} without email, ${skipped.invalid} invalid rows\n`,
        );
      }
      return findings.length > 0 ? EXIT.someFailed : EXIT.ok;
    } finally {
      s3?.destroy();
      await upheal.close();
      target.close();
    }
  },
};
