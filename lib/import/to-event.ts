/**
 * An import record as the partner event that upserts it, so the initial sync can feed the same
 * per-user path as live events (`created` is an upsert, SPEC §5).
 */
import { EVENT_TYPES, type PartnerEventOf } from '#lib/events/partner-event.ts';
import type { ImportRecord } from './import-record.ts';

/** The upsert event of an import record. */
export type ImportEvent =
  | PartnerEventOf<typeof EVENT_TYPES.providerCreated>
  | PartnerEventOf<typeof EVENT_TYPES.clientCreated>;

/**
 * The `provider.created` / `client.created` event carrying `record`'s full state. `occurredAt` is
 * the event's version (SPEC §3.3): pass when the export was taken, so a live event about the same
 * user from after the export wins and one from before it loses. `eventId` should be stable for a
 * job and row (e.g. `<jobId>:<line>`), so a resumed import deduplicates.
 */
export function toImportEvent(
  record: ImportRecord,
  eventId: string,
  occurredAt: string,
): ImportEvent {
  const envelope = { eventId, occurredAt, partnerUserId: record.partnerUserId };
  return record.kind === 'provider'
    ? { ...envelope, type: EVENT_TYPES.providerCreated, data: record.fields }
    : { ...envelope, type: EVENT_TYPES.clientCreated, data: record.fields };
}
