/**
 * Event ordering (stale events are dropped): an event's version is its `occurredAt`,
 * ties broken by event id, so every worker orders one user's history the same way and a
 * redelivered event is recognised as already applied.
 */
import type { Version } from '#lib/store/mapping-store.ts';

/** The version of an event. */
export function versionOf(event: {
  readonly occurredAt: string;
  readonly eventId: string;
}): Version {
  return { ms: Date.parse(event.occurredAt), eventId: event.eventId };
}

/**
 * True when `candidate` is not newer than `applied`: older, or the same event again. Nothing
 * applied yet (`undefined`) means nothing is stale.
 */
export function isStale(candidate: Version, applied: Version | undefined): boolean {
  if (!applied) return false;
  if (candidate.ms !== applied.ms) return candidate.ms < applied.ms;
  return candidate.eventId <= applied.eventId;
}
