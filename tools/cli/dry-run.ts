/**
 * `import --dry-run`: validates and plans an export on the operator's machine. It reads the file
 * (or the S3 object) with the same parser as initial-sync, lists invalid rows by line, counts the
 * Upheal calls and the time they take at the rate limit, and — when a stack is named — counts the
 * users already mapped there. Nothing is uploaded, no job is started, Upheal is never called.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { ValidationError } from '#lib/errors.ts';
import type { ImportFormat } from '#lib/import/format.ts';
import type { ImportRow } from '#lib/import/import-record.ts';
import { parseImport } from '#lib/import/parse-import.ts';
import {
  countInvalid,
  countRecord,
  emptyPlan,
  estimateMinutes,
  type ImportPlan,
  indexProviders,
  referenceIssue,
  referencesToLookUp,
} from '#lib/import/plan.ts';
import type { TextSource } from '#lib/import/text-stream.ts';
import { sourceOpener } from '#lib/jobs/import-source.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import {
  formatDuration,
  type ModeEstimates,
  modeEstimates,
  modeLines,
  type RateSettings,
} from '#tools/cli/progress.ts';
import type { Target } from '#tools/cli/target.ts';

/** Seconds in a minute. */
const SECONDS_PER_MINUTE = 60;
/** Invalid rows listed in the text report (the JSON lists all). */
const LISTED_INVALID = 50;

/** Where the rows come from: a local path or an S3 object. */
export type ImportLocation =
  | { readonly path: string }
  | { readonly bucket: string; readonly key: string };

/** `s3://bucket/key` as an S3 location, anything else as a local path. */
export function locationOf(file: string): ImportLocation {
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(file);
  if (match) return { bucket: match[1]!, key: match[2]! };
  if (file.startsWith('s3://')) {
    throw new ValidationError([{ field: 'FILE', reason: 'an S3 location is s3://BUCKET/KEY' }]);
  }
  return { path: file };
}

/** One invalid row: its line and what is wrong (field names and reasons, never values). */
export interface InvalidRow {
  readonly line: number;
  readonly reason: string;
}

/** The result of a dry run. */
export interface DryRunResult {
  readonly plan: ImportPlan;
  readonly invalidRows: readonly InvalidRow[];
  /** Minutes the calls take at `rate` (check-first). */
  readonly estimatedMinutes: number;
  /** Calls and minutes in each import mode, every unmapped user taken as new. */
  readonly modes: ModeEstimates;
  readonly rate: RateSettings;
  /**
   * Whether the mapping was read from a stack: `alreadyMapped` counted, and a client's providers
   * that are not in the file looked up there (offline, such a provider is an invalid reference).
   */
  readonly checkedMappings: boolean;
  /** The export time the rows will carry, or why the import would refuse to start. */
  readonly exportTime: { readonly at: string } | { readonly problem: string };
}

/** What a dry run reads from. */
export interface DryRunInput {
  readonly source: TextSource;
  readonly format: ImportFormat;
  readonly rate: RateSettings;
  /** The stack whose mappings are counted; undefined plans offline. */
  readonly target?: Target | undefined;
  /** The export time (resolved by the caller), or why there is none. */
  readonly exportTime: DryRunResult['exportTime'];
}

/** The text of an S3 object, streamed. */
export async function s3Text(s3: S3Client, bucket: string, key: string): Promise<TextSource> {
  return sourceOpener(s3)({ bucket, key });
}

/**
 * Validates and plans the rows of `input.source` as initial-sync's planning does: a client whose
 * providers are neither valid provider rows of the file nor active providers of the stack's
 * mapping is an invalid row (offline, with no mapping to read, only the file counts).
 */
export async function dryRun(input: DryRunInput): Promise<DryRunResult> {
  const rows: ImportRow[] = [];
  for await (const row of parseImport(input.source, input.format)) rows.push(row);
  const index = await indexProviders(rows);
  const mappings = input.target ? await mappingsOf(input.target, rows, index) : new Map();
  const isActive = (mapping: UserMapping | undefined) => mapping?.state === 'active';
  const plan = emptyPlan();
  const invalidRows: InvalidRow[] = [];
  for (const row of rows) {
    if (!row.ok) {
      countInvalid(plan);
      invalidRows.push({ line: row.line, reason: row.error.message.replace(/^line \d+: /, '') });
      continue;
    }
    const issue = referenceIssue(row.record, index, (id) => {
      const mapping = mappings.get(id);
      return mapping?.kind === 'provider' && isActive(mapping);
    });
    if (issue) {
      countInvalid(plan);
      invalidRows.push({ line: row.line, reason: `${issue.field}: ${issue.reason}` });
      continue;
    }
    countRecord(plan, row.record, isActive(mappings.get(row.record.partnerUserId)));
  }
  const { limit, windowSeconds, jitterMs } = input.rate;
  return {
    plan,
    invalidRows,
    estimatedMinutes: estimateMinutes(plan.totalCalls, limit, windowSeconds, jitterMs),
    modes: modeEstimates(plan, input.rate),
    rate: input.rate,
    checkedMappings: input.target !== undefined,
    exportTime: input.exportTime,
  };
}

/** The stack's mappings of the file's users and of the providers its clients name elsewhere. */
async function mappingsOf(
  target: Target,
  rows: readonly ImportRow[],
  index: Awaited<ReturnType<typeof indexProviders>>,
): Promise<Map<string, UserMapping>> {
  const store = new DynamoMappingStore({ client: target.documents, tableName: target.tableName });
  const ids = new Set<string>();
  for (const row of rows) {
    if (!row.ok) continue;
    ids.add(row.record.partnerUserId);
    for (const id of referencesToLookUp(row.record, index)) ids.add(id);
  }
  return store.getMany([...ids]);
}

/** The dry run as text. */
export function dryRunReport(file: string, result: DryRunResult): string {
  const { plan, invalidRows, rate } = result;
  const listed = invalidRows
    .slice(0, LISTED_INVALID)
    .map((row) => `  line ${row.line}: ${row.reason}`);
  const more = invalidRows.length - listed.length;
  return [
    `plan of ${file} (dry run: nothing uploaded, no job started, Upheal not called)`,
    'at' in result.exportTime
      ? `  export time       ${result.exportTime.at} (every row is an event of that time)`
      : `  export time       missing: ${result.exportTime.problem}`,
    `  rows              ${plan.providers} providers, ${plan.clients} clients, ${plan.invalid} invalid`,
    result.checkedMappings
      ? `  already mapped    ${plan.alreadyMapped} (no call)`
      : '  already mapped    not counted (no stack named: every user is taken as new)',
    `  checks            ${plan.toCheck}`,
    `  creates           ${plan.creates} at most (a user the check finds is linked instead)`,
    `  assignment calls  ${plan.assignmentCalls}`,
    `  total calls       ${plan.totalCalls} at most (check-first)`,
    `  estimated time    ${formatDuration(result.estimatedMinutes * SECONDS_PER_MINUTE)} at ${rate.limit} calls per ${rate.windowSeconds} s`,
    ...modeLines(plan, rate),
    ...(invalidRows.length > 0 ? ['invalid rows:', ...listed] : []),
    ...(more > 0 ? [`  … and ${more} more (--json lists all)`] : []),
    '',
  ].join('\n');
}
