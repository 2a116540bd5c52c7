/**
 * Read-decide-write with optimistic concurrency for mappings: two queues (live and import) may
 * hold events of one user at once, so every write is conditional on the revision it was decided
 * on, and a lost race re-reads and decides again.
 */
import { ContentionError } from '#lib/errors.ts';
import type { MappingDraft, MappingStore, UserMapping } from '#lib/store/mapping-store.ts';

/** Lost races tolerated before giving up (each is another worker's successful write). */
const MAX_SAVE_ATTEMPTS = 5;

/**
 * Saves `decide(current)` conditionally on `current`'s revision, re-reading after a lost race.
 * `decide` returning undefined means "nothing to write" (e.g. the stored state is already newer).
 * `known` is the mapping as the caller last read it, saving the first re-read.
 * Resolves with the mapping as saved, or as found when nothing was written.
 */
export async function saveWithRetry(
  store: MappingStore,
  partnerUserId: string,
  decide: (current: UserMapping | undefined) => MappingDraft | undefined,
  known?: { readonly current: UserMapping | undefined },
): Promise<UserMapping | undefined> {
  for (let attempt = 0; attempt < MAX_SAVE_ATTEMPTS; attempt++) {
    const current = attempt === 0 && known ? known.current : await store.get(partnerUserId);
    const draft = decide(current);
    if (!draft) return current;
    if (await store.save(draft, current?.rev)) {
      return { ...draft, rev: (current?.rev ?? 0) + 1, updatedAt: new Date().toISOString() };
    }
  }
  throw new ContentionError(`mapping of ${partnerUserId} kept changing; will retry`);
}

/** The writable part of a stored mapping. */
export function mappingDraft(mapping: UserMapping | MappingDraft): MappingDraft {
  const { rev: _rev, updatedAt: _updatedAt, ...draft } = mapping as UserMapping;
  return draft;
}
