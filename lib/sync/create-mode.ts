/**
 * Whether sync-user sends a new user's create without a check first (`create-or-link.ts`), and
 * the import progress it asks for `auto` imports (the job ledger, `lib/jobs/import-progress.ts`).
 */
import { EVENT_TYPES, type PartnerEvent } from '#lib/events/partner-event.ts';
import { IMPORT_MODES, importModeOf } from '#lib/import/import-mode.ts';
import type { UserKind } from '#lib/store/mapping-store.ts';
import type { SyncOutcome } from '#lib/sync/sync-types.ts';

/** Hears about each applied import record, so the job's ledger can count it. */
export interface ImportProgress {
  recordOutcome(jobId: string, outcome: SyncOutcome['kind'] | 'failed'): Promise<void>;
  /**
   * Whether an `auto` job sends creates first now, from its observed share of users found in
   * Upheal (`lib/import/import-mode.ts`); without it, `auto` creates first.
   */
  autoCreatesFirst?(jobId: string, kind: UserKind): Promise<boolean>;
}

/**
 * Whether a new user of this message is created without a check first: an import row in
 * create-first mode (or in `auto` while the job's share of users found in Upheal is low), and a
 * live provider, as the guide's ongoing flow does ("new provider in your system: call POST
 * /users/providers"). A live client is checked first: it may well be in Upheal already (the
 * practice's earlier software, another clinic).
 */
export async function createsFirst(
  event: PartnerEvent,
  jobId: string | undefined,
  mode: string | undefined,
  progress: ImportProgress | undefined,
): Promise<boolean> {
  if (!jobId) return kindOf(event) === 'provider';
  switch (importModeOf(mode)) {
    case IMPORT_MODES.checkFirst:
      return false;
    case IMPORT_MODES.createFirst:
      return true;
    case IMPORT_MODES.auto:
      return (await progress?.autoCreatesFirst?.(jobId, kindOf(event))) ?? true;
  }
}

/** The kind of user an event is about (a delete's kind is unknown: taken as a client). */
function kindOf(event: PartnerEvent): UserKind {
  return event.type === EVENT_TYPES.providerCreated || event.type === EVENT_TYPES.providerUpdated
    ? 'provider'
    : 'client';
}
