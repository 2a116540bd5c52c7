/**
 * The ports of the sync use cases besides the mapping store: Upheal, the assignment queue, the
 * delete guard and the staged deletes. Their adapters: Upheal paced by the shared limiter
 * (`lib/limiter/paced-upheal.ts`), SQS (`assignment-queue.ts`) and DynamoDB (`delete-guard.ts`,
 * `staged-deletes.ts`), in production and on the local stack alike.
 */
import type { Lane } from '#lib/limiter/rate-limiter.ts';
import type { UphealClient } from '#lib/upheal/client.ts';

/** A call to Upheal, named by its operation. */
export type UphealCall = keyof UphealCalls;

/** Upheal's operations the sync makes, as the client offers them. */
type UphealCalls = Pick<
  UphealClient,
  | 'checkUser'
  | 'createProvider'
  | 'createClient'
  | 'updateUser'
  | 'updateProvider'
  | 'replaceProviders'
  | 'deleteUser'
>;

/**
 * Upheal as the sync use cases see it. Pacing and rate-limit handling sit behind it (the
 * limiter's adapter); the client itself satisfies it too.
 */
export interface UphealPort
  extends Omit<UphealCalls, 'checkUser' | 'createProvider' | 'createClient'> {
  /**
   * Looks a user up by email. `ifNew` names the calls the caller will make when no user is found
   * (default: the create), so they can be prepared together with the check.
   */
  checkUser(email: string, ifNew?: readonly UphealCall[]): ReturnType<UphealClient['checkUser']>;
  /**
   * Creates a provider. `ifCreated` names the calls the caller will make when the create
   * succeeds (a create sent without a check before it), so they can be prepared with it; a
   * create that a check announced names none.
   */
  createProvider(
    body: Parameters<UphealClient['createProvider']>[0],
    ifCreated?: readonly UphealCall[],
  ): ReturnType<UphealClient['createProvider']>;
  /** Creates a client; `ifCreated` as for `createProvider`. */
  createClient(
    body: Parameters<UphealClient['createClient']>[0],
    ifCreated?: readonly UphealCall[],
  ): ReturnType<UphealClient['createClient']>;
}

/**
 * Upheal for the calls of one message, in the traffic lane of its queue. `decorate` wraps the
 * unpaced port under the pacing (what it does runs only once a call's slot is granted).
 */
export type UphealForMessage = (
  lane: Lane,
  decorate?: (port: UphealPort) => UphealPort,
) => UphealPort;

/** Queues a client's provider-list reconciliation (the `assign-providers` function). */
export interface AssignmentQueue {
  /** Asks for the client's provider list in Upheal to be made equal to its desired list. */
  enqueue(clientPartnerUserId: string, cause: OutcomeCause): Promise<void>;
}

/** What caused an outcome: a partner event or an import job. */
export interface OutcomeCause {
  readonly eventId?: string | undefined;
  readonly jobId?: string | undefined;
}

/** Decides whether a delete may run now or must wait for an operator. */
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
