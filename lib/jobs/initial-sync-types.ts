/** The ports, clock and outcomes of the initial-sync use case (`initial-sync.ts`, `plan-job.ts`). */
import type { LedgerDeps } from '#lib/jobs/import-progress.ts';
import type { ImportQueue } from '#lib/jobs/import-queue.ts';
import type { SourceOpener } from '#lib/jobs/import-source.ts';
import type { FanOutPhase, JOB_PHASES } from '#lib/jobs/job.ts';
import type { FailureRecord } from '#lib/store/failure-store.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';

/** What the use case talks to. */
export interface InitialSyncDeps extends LedgerDeps {
  readonly openSource: SourceOpener;
  readonly importQueue: ImportQueue;
  readonly failures: {
    record(failure: Omit<FailureRecord, 'at'>): Promise<unknown>;
    /** The failures of a job, by line. */
    list(jobId: string, limit: number): Promise<FailureRecord[]>;
  };
  /** Mappings by partner id, read in batches (references; a dry run's already mapped users). */
  readonly mappings: {
    getMany(partnerUserIds: readonly string[]): Promise<Map<string, UserMapping>>;
  };
}

/** The invocation's clock: Lambda's remaining time, and how much of it to leave unused. */
export interface InvocationBudget {
  readonly remainingMs: () => number;
  /** Stop fanning out (and send `continue`) when less than this is left. */
  readonly reserveMs: number;
}

/** What one control message did. */
export type ControlOutcome =
  | { readonly kind: 'planned'; readonly jobId: string; readonly dryRun: boolean }
  | { readonly kind: 'fanned-out'; readonly jobId: string; readonly phase: FanOutPhase }
  | {
      readonly kind: 'continued';
      readonly jobId: string;
      readonly phase: FanOutPhase | typeof JOB_PHASES.planning;
    }
  | { readonly kind: 'failed'; readonly jobId: string; readonly reason: string }
  | { readonly kind: 'ignored'; readonly jobId: string; readonly reason: string };
