/**
 * The shapes the `sync-user` use case shares with its steps and its callers: what it talks to,
 * where an event came from, and what applying it did.
 */
import type { MappingStore, UserKind, UserMapping, Version } from '#lib/store/mapping-store.ts';
import type { UserFields } from '#lib/sync/field-plan.ts';
import type {
  AssignmentQueue,
  DeleteGuard,
  OutcomeCause,
  StagedDeletes,
  UphealPort,
} from '#lib/sync/ports.ts';

/** Everything the use case talks to. */
export interface SyncUserDeps {
  readonly mappings: MappingStore;
  readonly upheal: UphealPort;
  readonly assignments: AssignmentQueue;
  readonly deleteGuard: DeleteGuard;
  readonly stagedDeletes: StagedDeletes;
}

/** Where the event came from: its delivery (for the claim) and its cause (for outcomes). */
export interface SyncUserContext extends OutcomeCause {
  /** Identifies this delivery's worker for the create-path claim (the SQS message id). */
  readonly claimOwner: string;
  /**
   * Send a new user's create without checking its email first (`create-or-link.ts`): an import
   * in create-first mode, a live provider. Absent: check first.
   */
  readonly createFirst?: boolean | undefined;
}

/**
 * What applying an event did. `inviteUrl` is a credential: never log it. `replayed` marks the
 * outcome of a redelivered event that was already applied: no call was made, and it is
 * announced again (outbound deduplication drops it if the first announcement got through).
 * `unappliedFields` names the partner fields that did not reach Upheal (fields its endpoints
 * cannot change, optional fields they cannot clear).
 */
export type SyncOutcome =
  | {
      readonly kind: 'created';
      readonly partnerUserId: string;
      readonly userKind: UserKind;
      readonly uphealUserId: string;
      readonly inviteUrl?: string | undefined;
      /** A client's full provider list (Upheal ids), sent right after the create. */
      readonly providersAssigned?: readonly string[] | undefined;
      /** Created without a check before the create (create first): one call saved. */
      readonly checkSkipped?: boolean | undefined;
      readonly unappliedFields?: readonly string[] | undefined;
      readonly replayed?: boolean;
    }
  | {
      readonly kind: 'linked';
      readonly partnerUserId: string;
      readonly userKind: UserKind;
      readonly uphealUserId: string;
      readonly unappliedFields?: readonly string[] | undefined;
      readonly replayed?: boolean;
    }
  | {
      readonly kind: 'updated';
      readonly partnerUserId: string;
      readonly userKind: UserKind;
      readonly uphealUserId: string;
      /** False when nothing changed, so no call was made. */
      readonly changed: boolean;
      readonly unappliedFields: readonly string[];
      readonly replayed?: boolean;
    }
  | {
      readonly kind: 'deleted';
      readonly partnerUserId: string;
      readonly uphealUserId?: string | undefined;
      readonly replayed?: boolean;
    }
  | {
      readonly kind: 'delete-staged';
      readonly partnerUserId: string;
      readonly uphealUserId: string;
    }
  | {
      readonly kind: 'providers-recorded';
      readonly partnerUserId: string;
      readonly queued: boolean;
    }
  | { readonly kind: 'stale'; readonly partnerUserId: string };

/** The event being applied, as the steps of an upsert need it. */
export interface Upsert {
  readonly partnerUserId: string;
  readonly kind: UserKind;
  readonly fields: UserFields;
  readonly version: Version;
  /** The mapping as read at the start (absent, pending, or a tombstone). */
  readonly mapping: UserMapping | undefined;
}
