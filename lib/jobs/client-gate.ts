/**
 * What the client phase of an import knows once every provider has settled: which client rows
 * planning already failed (their references), and which providers failed in this import. A
 * client naming a failed provider fails at once, naming the provider's line, instead of waiting
 * for a mapping that will never come (up to `DEPENDENCY_WAIT_SECONDS` in sync-user).
 */
import { EVENT_TYPES } from '#lib/events/partner-event.ts';
import type { ImportRecord } from '#lib/import/import-record.ts';
import type { FailureRecord } from '#lib/store/failure-store.ts';

/** The failure operation of an invalid import row (planning). */
export const IMPORT_ROW_OPERATION = 'import-row';

/** The failure operation of a client that names a provider which failed in the same import. */
export const PROVIDER_FAILED_OPERATION = 'import-provider-failed';

/** The client phase's view of a job's failures. */
export interface ClientGate {
  /** Lines planning recorded as invalid: never fanned out. */
  readonly invalidLines: ReadonlySet<number>;
  /** Providers whose row failed in sync-user: partner id → the row's line. */
  readonly failedProviders: ReadonlyMap<string, number>;
}

/** Reads the gate from the failures of a job (all of them: planning's and sync-user's). */
export async function clientGate(
  jobId: string,
  failures: { list(jobId: string, limit: number): Promise<FailureRecord[]> },
): Promise<ClientGate> {
  const invalidLines = new Set<number>();
  const failedProviders = new Map<string, number>();
  for (const failure of await failures.list(jobId, Number.POSITIVE_INFINITY)) {
    if (failure.line === undefined) continue;
    if (failure.operation === IMPORT_ROW_OPERATION) invalidLines.add(failure.line);
    else if (
      failure.operation === EVENT_TYPES.providerCreated &&
      failure.partnerUserId !== undefined
    ) {
      failedProviders.set(failure.partnerUserId, failure.line);
    }
  }
  return { invalidLines, failedProviders };
}

/** Why a client cannot be synced because a provider it names failed, or undefined. */
export function failedProviderReason(record: ImportRecord, gate: ClientGate): string | undefined {
  if (record.kind !== 'client') return undefined;
  const failed = record.fields.providerPartnerUserIds.flatMap((id) => {
    const line = gate.failedProviders.get(id);
    return line === undefined ? [] : [`provider ${id} failed in this import (line ${line})`];
  });
  return failed.length === 0 ? undefined : `providerPartnerUserIds: ${failed.join('; ')}`;
}
