/**
 * The ports of the sync use cases besides mappings and Upheal: the assignment queue, the delete
 * guard and the staged deletes. Adapters live beside them (`lib/sync/*-adapter.ts`), DynamoDB and
 * SQS in production and on the local stack.
 */

/** Queues a client's provider-list reconciliation (the `assign-providers` function). */
export interface AssignmentQueue {
  /** Asks for the client's provider list in Upheal to be made equal to its desired list. */
  enqueue(clientPartnerUserId: string, cause: OutcomeCause): Promise<void>;
}

/** What caused an outcome: a partner event or an import job (SPEC §5.1). */
export interface OutcomeCause {
  readonly eventId?: string | undefined;
  readonly jobId?: string | undefined;
}

/** Decides whether a delete may run now or must wait for an operator (SPEC §3.3). */
export interface DeleteGuard {
  /** True when one more delete stays within the thresholds; counts it if so. */
  admit(): Promise<boolean>;
}

/** A delete held back for an operator. */
export interface StagedDelete {
  readonly partnerUserId: string;
  readonly uphealUserId: string;
  readonly eventId: string;
  readonly occurredAt: string;
  readonly stagedAt: string;
  readonly approved: boolean;
}

/** The operator's queue of staged deletes. */
export interface StagedDeletes {
  /** Holds a delete back for an operator. */
  stage(entry: Omit<StagedDelete, 'stagedAt' | 'approved'>): Promise<void>;
  /** True (and the entry removed) when an operator approved this event's delete. */
  consumeApproval(partnerUserId: string, eventId: string): Promise<boolean>;
  /** Every staged delete. */
  list(): Promise<StagedDelete[]>;
  /** Marks a staged delete approved; false when there is none. */
  approve(partnerUserId: string): Promise<StagedDelete | undefined>;
  /** Drops a staged delete; false when there is none. */
  reject(partnerUserId: string): Promise<boolean>;
}
