/**
 * The dry-run plan of an import (SPEC §7 `import --dry-run`): how many Upheal calls the file will
 * cost and roughly how long that takes under the shared rate limit. It reads the rows and the id
 * mappings only; it never calls Upheal.
 */
import { ValidationError } from '#lib/errors.ts';
import { MS_PER_SECOND } from '#lib/time.ts';
import type { ImportRow } from './import-record.ts';

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

/**
 * Counts the calls an import of `rows` will make. `isMapped` answers whether a partner id already
 * has an Upheal user in our mapping (such users cost nothing; a re-run of a finished import plans
 * zero calls).
 */
export async function planImport(
  rows: AsyncIterable<ImportRow> | Iterable<ImportRow>,
  isMapped: (partnerUserId: string) => Promise<boolean> | boolean,
): Promise<ImportPlan> {
  const plan: ImportPlan = {
    providers: 0,
    clients: 0,
    invalid: 0,
    alreadyMapped: 0,
    toCheck: 0,
    creates: 0,
    assignmentCalls: 0,
    totalCalls: 0,
  };
  for await (const row of rows) {
    if (!row.ok) {
      plan.invalid += 1;
      continue;
    }
    const { record } = row;
    if (record.kind === 'provider') plan.providers += 1;
    else plan.clients += 1;
    if (await isMapped(record.partnerUserId)) {
      plan.alreadyMapped += 1;
      continue;
    }
    plan.toCheck += 1;
    plan.creates += 1;
    if (
      record.kind === 'client' &&
      record.fields.providerPartnerUserIds.length >= PROVIDERS_NEEDING_ASSIGNMENT
    ) {
      plan.assignmentCalls += 1;
    }
  }
  plan.totalCalls = plan.toCheck + plan.creates + plan.assignmentCalls;
  return plan;
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
