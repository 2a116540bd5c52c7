/**
 * The dry-run plan of an import (`import --dry-run`): how many Upheal calls the file will
 * cost and roughly how long that takes under the shared rate limit, and the reference check every
 * planning runs (a client's providers must be in the file or mapped). It reads the rows and the id
 * mappings only; it never calls Upheal.
 */
import type { FieldIssue } from '#lib/errors.ts';
import { ValidationError } from '#lib/errors.ts';
import {
  AUTO_BREAK_EVEN_SHARE,
  AUTO_MIN_SAMPLE,
  IMPORT_MODES,
  type ImportMode,
} from '#lib/import/import-mode.ts';
import { MS_PER_SECOND } from '#lib/time.ts';
import type { ImportRecord, ImportRow } from './import-record.ts';

/** The counts of a dry run. */
export interface ImportPlan {
  /** Valid provider rows. */
  providers: number;
  /** Valid client rows. */
  clients: number;
  /** Rows rejected by validation (including duplicates); they cost no call. */
  invalid: number;
  /** Valid rows whose partner id is already mapped: assumed up to date, 0 calls. */
  alreadyMapped: number;
  /** Unmapped users: one `POST /users/check` each. */
  toCheck: number;
  /**
   * Creates, as an upper bound: every unmapped user is assumed new. Each one the check finds
   * in Upheal is linked instead and costs one call less.
   */
  creates: number;
  /** `POST /users/{id}/providers` calls: unmapped clients with two or more providers. */
  assignmentCalls: number;
  /** `toCheck + creates + assignmentCalls`: an upper bound of the calls the import makes. */
  totalCalls: number;
}

/** Providers a client must have before its list needs a call beyond the create's primary. */
const PROVIDERS_NEEDING_ASSIGNMENT = 2;

/** A plan with every count at zero. */
export function emptyPlan(): ImportPlan {
  return {
    providers: 0,
    clients: 0,
    invalid: 0,
    alreadyMapped: 0,
    toCheck: 0,
    creates: 0,
    assignmentCalls: 0,
    totalCalls: 0,
  };
}

/** Counts one invalid row into `plan` (it costs no call). */
export function countInvalid(plan: ImportPlan): void {
  plan.invalid += 1;
}

/**
 * Counts one valid record into `plan`: a `mapped` user is assumed up to date (0 calls); any other
 * costs a check, a create (upper bound) and, for a client with two or more providers, an
 * assignment call. `totalCalls` is kept current.
 */
export function countRecord(plan: ImportPlan, record: ImportRecord, mapped: boolean): void {
  if (record.kind === 'provider') plan.providers += 1;
  else plan.clients += 1;
  if (mapped) {
    plan.alreadyMapped += 1;
    return;
  }
  plan.toCheck += 1;
  plan.creates += 1;
  if (
    record.kind === 'client' &&
    record.fields.providerPartnerUserIds.length >= PROVIDERS_NEEDING_ASSIGNMENT
  ) {
    plan.assignmentCalls += 1;
  }
  plan.totalCalls = plan.toCheck + plan.creates + plan.assignmentCalls;
}

/**
 * Counts the calls an import of `rows` will make. `isMapped` answers whether a partner id already
 * has an Upheal user in our mapping (such users cost nothing; a re-run of a finished import plans
 * zero calls).
 */
export async function planImport(
  rows: AsyncIterable<ImportRow> | Iterable<ImportRow>,
  isMapped: (partnerUserId: string) => Promise<boolean> | boolean,
): Promise<ImportPlan> {
  const plan = emptyPlan();
  for await (const row of rows) {
    if (!row.ok) countInvalid(plan);
    else countRecord(plan, row.record, await isMapped(row.record.partnerUserId));
  }
  return plan;
}

/** The provider rows of a file: partner id → its line and whether the row is valid. */
export type ProviderIndex = ReadonlyMap<string, { readonly line: number; readonly ok: boolean }>;

/** Indexes the provider rows of `rows` (the first row of an id owns it, as in `parseImport`). */
export async function indexProviders(
  rows: AsyncIterable<ImportRow> | Iterable<ImportRow>,
): Promise<ProviderIndex> {
  const index = new Map<string, { line: number; ok: boolean }>();
  for await (const row of rows) {
    const kind = row.ok ? row.record.kind : row.kind;
    const id = row.ok ? row.record.partnerUserId : row.partnerUserId;
    if (kind === 'provider' && id !== undefined && !index.has(id)) {
      index.set(id, { line: row.line, ok: row.ok });
    }
  }
  return index;
}

/** The providers of `record` that are not valid provider rows of the file: to look up. */
export function referencesToLookUp(record: ImportRecord, index: ProviderIndex): string[] {
  if (record.kind !== 'client') return [];
  return record.fields.providerPartnerUserIds.filter((id) => index.get(id)?.ok !== true);
}

/**
 * Why a client's providers cannot be resolved, or undefined when each is a valid provider row
 * of the file or a provider `isMappedProvider` knows (active in our mapping). A provider whose row
 * in the file is invalid is named with its line, so the partner fixes that row first.
 */
export function referenceIssue(
  record: ImportRecord,
  index: ProviderIndex,
  isMappedProvider: (partnerUserId: string) => boolean,
): FieldIssue | undefined {
  if (record.kind !== 'client') return undefined;
  const reasons: string[] = [];
  for (const id of record.fields.providerPartnerUserIds) {
    const row = index.get(id);
    if (row?.ok) continue;
    if (row) reasons.push(`${id} is the provider of line ${row.line}, which is invalid`);
    else if (!isMappedProvider(id)) {
      reasons.push(`${id} is neither a provider in this file nor a mapped provider`);
    }
  }
  if (reasons.length === 0) return undefined;
  return { field: 'providerPartnerUserIds', reason: reasons.join('; ') };
}

/** Phases of an import in which `auto` takes its sample (providers, then clients). */
const AUTO_SAMPLED_PHASES = 2;

/**
 * The calls of a plan's unmapped users in each import mode when a share `existingShare` of them
 * is in Upheal already (docs/limits.md, "Import modes"). Per unmapped user, check-first makes two
 * calls (check, then create or link); create-first one for a new user (the create) and three for
 * one Upheal has (the refused create, the check, the link); `auto` is create-first up to the
 * break-even share and check-first above, after a create-first sample in each phase. The
 * assignment calls come on top in every mode. `existingShare` is unknown before the run: the dry
 * run shows 0 (every unmapped user new), as `totalCalls` does.
 */
export function callsByMode(plan: ImportPlan, existingShare: number): Record<ImportMode, number> {
  const f = Math.min(1, Math.max(0, existingShare));
  const users = plan.toCheck;
  const checkFirst = 2 * users + plan.assignmentCalls;
  const createFirst = Math.round(users * (1 + 2 * f)) + plan.assignmentCalls;
  const sampled = Math.min(users, AUTO_SAMPLED_PHASES * AUTO_MIN_SAMPLE);
  const auto =
    f <= AUTO_BREAK_EVEN_SHARE ? createFirst : checkFirst + Math.round(sampled * (2 * f - 1));
  return {
    [IMPORT_MODES.checkFirst]: checkFirst,
    [IMPORT_MODES.createFirst]: createFirst,
    [IMPORT_MODES.auto]: auto,
  } as Record<ImportMode, number>;
}

/** Seconds in a minute. */
const SECONDS_PER_MINUTE = 60;

/**
 * Minutes `calls` take at the limiter's sustained rate: with burst 1 and jitter allowance J the
 * pacing limiter admits (N − 1) requests per W + J seconds, i.e. (N − 1)·W/(W + J) per window
 * (research/rate-limiting.md §1.3). `limit` is N, `windowSeconds` W, `jitterMs` J.
 */
export function estimateMinutes(
  calls: number,
  limit: number,
  windowSeconds: number,
  jitterMs: number,
): number {
  if (calls <= 0) return 0;
  const issues = [
    ...(Number.isFinite(limit) && limit >= 2
      ? []
      : [{ field: 'limit', reason: 'must be at least 2' }]),
    ...(windowSeconds > 0 ? [] : [{ field: 'windowSeconds', reason: 'must be positive' }]),
    ...(jitterMs >= 0 ? [] : [{ field: 'jitterMs', reason: 'must not be negative' }]),
  ];
  if (issues.length > 0) throw new ValidationError(issues);
  const periodSeconds = windowSeconds + jitterMs / MS_PER_SECOND;
  const callsPerSecond = (limit - 1) / periodSeconds;
  return calls / callsPerSecond / SECONDS_PER_MINUTE;
}
