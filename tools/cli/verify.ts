/**
 * Drift check of mapped users (what identity systems call reconciliation). The mapping holds no
 * email (no clinical data is stored), so the partner's export names each user's email; every
 * mapped user of it is looked up with `POST /users/check` and compared with the mapping:
 *   - no Upheal user has the email any more: `gone` (deleted in Upheal, or its email changed there);
 *   - another Upheal user has it: `emailOwnedByOther`;
 *   - the mapped user is deactivated: `deactivated`.
 * Calls go through the bulk lane of the shared limiter. A checkpoint file makes a long run
 * resumable: users already checked are skipped. Findings carry ids only.
 */
import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { ImportFormat } from '#lib/import/format.ts';
import { parseImport } from '#lib/import/parse-import.ts';
import type { TextSource } from '#lib/import/text-stream.ts';
import type { MappingStore, UserMapping } from '#lib/store/mapping-store.ts';
import type { CheckUserResult } from '#lib/upheal/client.ts';

/** Partner ids looked up per mapping read. */
const MAPPING_BATCH = 100;

/** What verify found wrong with one user. */
export const FINDINGS = {
  gone: 'gone',
  emailOwnedByOther: 'emailOwnedByOther',
  deactivated: 'deactivated',
} as const;

/** One kind of finding. */
export type FindingKind = (typeof FINDINGS)[keyof typeof FINDINGS];

/** A user whose Upheal account no longer matches its mapping. */
export interface Finding {
  readonly partnerUserId: string;
  readonly kind: string;
  readonly uphealUserId: string;
  readonly finding: FindingKind;
  /** The Upheal user that has the email now (emailOwnedByOther). */
  readonly otherUphealUserId?: string | undefined;
}

/** The finding for a mapping given Upheal's answer to the check of its email (pure). */
export function findingOf(mapping: UserMapping, answer: CheckUserResult): FindingKind | undefined {
  if (!answer.exists) return FINDINGS.gone;
  if (answer.userId !== mapping.uphealUserId) return FINDINGS.emailOwnedByOther;
  if (answer.isActive === false) return FINDINGS.deactivated;
  return undefined;
}

/** A user to check: its mapping and the email the partner has for it. */
export interface Candidate {
  readonly mapping: UserMapping;
  readonly email: string;
}

/** Counts of the export's rows that are not checked. */
export interface Skipped {
  /** Valid rows without an email (clients may have none). */
  noEmail: number;
  /** Rows without an active mapping (never synced, pending or deleted). */
  notMapped: number;
  /** Invalid rows. */
  invalid: number;
}

/** The mapped users of an export with their emails, and what was skipped. */
export async function candidatesOf(
  source: TextSource,
  format: ImportFormat,
  mappings: Pick<MappingStore, 'getMany'>,
): Promise<{ candidates: Candidate[]; skipped: Skipped }> {
  const skipped: Skipped = { noEmail: 0, notMapped: 0, invalid: 0 };
  const emails = new Map<string, string>();
  for await (const row of parseImport(source, format)) {
    if (!row.ok) skipped.invalid += 1;
    else if (!row.record.fields.email) skipped.noEmail += 1;
    else emails.set(row.record.partnerUserId, row.record.fields.email);
  }
  const ids = [...emails.keys()];
  const candidates: Candidate[] = [];
  for (let start = 0; start < ids.length; start += MAPPING_BATCH) {
    const found = await mappings.getMany(ids.slice(start, start + MAPPING_BATCH));
    for (const id of ids.slice(start, start + MAPPING_BATCH)) {
      const mapping = found.get(id);
      if (mapping?.state === 'active' && mapping.uphealUserId) {
        candidates.push({ mapping, email: emails.get(id)! });
      } else skipped.notMapped += 1;
    }
  }
  return { candidates, skipped };
}

/** A stable sample of `size` candidates (by a hash of the partner id), so a rerun resumes it. */
export function sampleOf(candidates: readonly Candidate[], size: number | undefined): Candidate[] {
  if (size === undefined || size >= candidates.length) return [...candidates];
  const rank = (candidate: Candidate) =>
    createHash('sha256').update(candidate.mapping.partnerUserId).digest('hex');
  return [...candidates].sort((a, b) => (rank(a) < rank(b) ? -1 : 1)).slice(0, size);
}

/** What a checkpoint file holds: the users checked so far and what was found. */
export interface Checkpoint {
  readonly checked: string[];
  readonly findings: Finding[];
}

/** The checkpoint at `path`, or an empty one when there is none yet. */
export async function readCheckpoint(path: string | undefined): Promise<Checkpoint> {
  if (!path) return { checked: [], findings: [] };
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Checkpoint;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { checked: [], findings: [] };
    throw error;
  }
}

/** Writes the checkpoint atomically (a crash leaves the previous one). */
export async function writeCheckpoint(
  path: string | undefined,
  checkpoint: Checkpoint,
): Promise<void> {
  if (!path) return;
  await writeFile(`${path}.tmp`, JSON.stringify(checkpoint), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

/** The finding of one candidate, checked with `check`. */
export async function verifyOne(
  candidate: Candidate,
  check: (email: string) => Promise<CheckUserResult>,
): Promise<Finding | undefined> {
  const answer = await check(candidate.email);
  const finding = findingOf(candidate.mapping, answer);
  if (!finding) return undefined;
  return {
    partnerUserId: candidate.mapping.partnerUserId,
    kind: candidate.mapping.kind,
    uphealUserId: candidate.mapping.uphealUserId!,
    finding,
    ...(answer.exists && finding === FINDINGS.emailOwnedByOther
      ? { otherUphealUserId: answer.userId }
      : {}),
  };
}
