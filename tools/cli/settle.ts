/**
 * When the events `send-events --wait` sent are settled, judged by these events alone (other
 * traffic on the queues does not matter): an event is settled once its user's mapping holds its
 * version or a newer one (applied, or skipped as stale), once a failure record names it, or once
 * the delete guard staged it for an operator.
 */
import type { PartnerEvent } from '#lib/events/partner-event.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import { DynamoStagedDeletes } from '#lib/sync/staged-deletes.ts';
import { isStale, versionOf } from '#lib/sync/version.ts';
import type { Target } from '#tools/cli/target.ts';

/** Where one event stands. */
export type Settlement = 'applied' | 'failed' | 'staged' | 'pending';

/** What is known about the sent events' users. */
export interface SettleFacts {
  readonly mappings: ReadonlyMap<string, UserMapping>;
  /** Event ids named by failure records. */
  readonly failed: ReadonlySet<string>;
  /** Event ids of deletes staged by the delete guard. */
  readonly staged: ReadonlySet<string>;
}

/** Where `event` stands given `facts` (pure). */
export function settlementOf(event: PartnerEvent, facts: SettleFacts): Settlement {
  if (facts.failed.has(event.eventId)) return 'failed';
  if (facts.staged.has(event.eventId)) return 'staged';
  const mapping = facts.mappings.get(event.partnerUserId);
  const applied =
    event.type === 'client.providers_changed' ? mapping?.providersVersion : mapping?.version;
  return isStale(versionOf(event), applied) ? 'applied' : 'pending';
}

/** Counts of settlements, plus the ids of the failed and pending events. */
export interface SettleReport {
  readonly applied: number;
  readonly staged: number;
  readonly failed: string[];
  readonly pending: string[];
}

/** Reads the facts about `events` from the target and sorts them by settlement. */
export async function settleReport(
  target: Target,
  events: readonly PartnerEvent[],
  since: string,
): Promise<SettleReport> {
  const mappings = await new DynamoMappingStore({
    client: target.documents,
    tableName: target.tableName,
  }).getMany(events.map((event) => event.partnerUserId));
  const failures = await new DynamoFailureStore(target.documents, target.tableName).list();
  const staged = await new DynamoStagedDeletes(target.documents, target.tableName).list();
  const facts: SettleFacts = {
    mappings,
    failed: new Set(
      failures
        .filter((failure) => failure.at >= since && failure.eventId !== undefined)
        .map((failure) => failure.eventId!),
    ),
    staged: new Set(staged.map((entry) => entry.eventId)),
  };
  const report: SettleReport = { applied: 0, staged: 0, failed: [], pending: [] };
  const counts = { applied: 0, staged: 0 };
  for (const event of events) {
    const settlement = settlementOf(event, facts);
    if (settlement === 'failed') report.failed.push(event.eventId);
    else if (settlement === 'pending') report.pending.push(event.eventId);
    else counts[settlement] += 1;
  }
  return { ...report, ...counts };
}
