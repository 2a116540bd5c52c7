/**
 * The user-mapping port: partner user id → Upheal user id, with what the sync needs to apply
 * events exactly once and in order. No clinical data is stored: only ids, versions
 * and hashes of the synced fields.
 */

/** Which kind of Upheal user a partner user is. */
export const USER_KINDS = { provider: 'provider', client: 'client' } as const;

/** A user kind. */
export type UserKind = (typeof USER_KINDS)[keyof typeof USER_KINDS];

/** Lifecycle of a mapping. */
export const MAPPING_STATES = {
  /** Known to the partner but not (yet) in Upheal, e.g. a provider list that arrived first. */
  pending: 'pending',
  /** Linked to an Upheal user. */
  active: 'active',
  /** Deleted: a tombstone, so a late create does not resurrect the user. */
  deleted: 'deleted',
} as const;

/** A mapping state. */
export type MappingState = (typeof MAPPING_STATES)[keyof typeof MAPPING_STATES];

/** The position of an event in a user's history: its `occurredAt` and, to break ties, its id. */
export interface Version {
  readonly ms: number;
  readonly eventId: string;
}

/** One partner user's mapping as stored. */
export interface UserMapping {
  readonly partnerUserId: string;
  readonly kind: UserKind;
  readonly state: MappingState;
  readonly uphealUserId?: string | undefined;
  /** Version of the last applied full-state event (create, update, delete). */
  readonly version?: Version | undefined;
  /** Version of the last applied provider list (client events and `client.providers_changed`). */
  readonly providersVersion?: Version | undefined;
  /** Hash of the common fields last sent to Upheal (`PUT /users/{id}`), absent when unknown. */
  readonly commonHash?: string | undefined;
  /** Hash of the provider-specific fields last sent (`PUT /users/providers/{id}`). */
  readonly providerHash?: string | undefined;
  /** A client's desired providers, as partner ids; the first is the primary. */
  readonly desiredProviders?: readonly string[] | undefined;
  /** The Upheal provider ids Upheal last confirmed for this client, in the order sent. */
  readonly assignedProviders?: readonly string[] | undefined;
  /** The same list as partner ids, to tell without lookups whether the desired list changed. */
  readonly assignedPartnerProviders?: readonly string[] | undefined;
  /** Per-field hashes of the fields Upheal cannot change later, as Upheal got them. */
  readonly fixedHashes?: Readonly<Record<string, string>> | undefined;
  /** Names of partner fields Upheal's endpoints cannot change (e.g. `email`) that differ. */
  readonly unappliedFields?: readonly string[] | undefined;
  /**
   * The outcome of the last applied full-state event (`version`), so a redelivery of that same
   * event can announce it again (outbound events are deduplicated on the outcome) instead of
   * being silently stale — the partner must learn an outcome even if the worker died before
   * publishing it.
   */
  readonly lastOutcome?: 'created' | 'linked' | 'updated' | 'deleted' | undefined;
  /**
   * Names of the optional fields Upheal holds a value for, as far as this product sent them.
   * Upheal's endpoints cannot clear a field, so a name stays here after the partner clears it,
   * and the sync reports it as not applied.
   */
  readonly setFields?: readonly string[] | undefined;
  /**
   * The event id of a delete sent to Upheal whose tombstone is not written yet. Written before
   * the `DELETE`, so any other work that finds the user gone in Upheal knows a delete is in
   * progress, and a retry of the delete knows the user is already gone.
   */
  readonly deleteSent?: string | undefined;
  /** Optimistic-concurrency revision, incremented by every save. */
  readonly rev: number;
  readonly updatedAt: string;
}

/** A mapping to be saved; `rev` and `updatedAt` are set by the store. */
export type MappingDraft = Omit<UserMapping, 'rev' | 'updatedAt'>;

/**
 * What a create is about to be sent with, kept on the claim item before the call. The email is
 * the one piece of contact data this table holds: on the claim item only, which DynamoDB's TTL
 * removes a day after the lease (at once when a retry has found the user by it).
 */
export interface PendingCreate {
  readonly email?: string | undefined;
  /**
   * The version of the event whose create it is: Upheal's webhook of a user created over a
   * tombstone is healed only when this create is newer than the delete.
   */
  readonly version?: Version | undefined;
  /**
   * Names (never values) of the optional fields the create sets: a user linked later may hold
   * them from it, and Upheal cannot clear them.
   */
  readonly fields?: readonly string[] | undefined;
}

/** A create claim as one read saw it. */
export interface SeenClaim {
  /** What the claimed create was sent with; undefined when there was no claim. */
  readonly pending: PendingCreate | undefined;
  /** When it was claimed (names the claim); undefined when there was no claim. */
  readonly claimedAt: number | undefined;
}

/** A mapping and the holder of its user's lease, read together. */
export interface MappingLookup {
  readonly mapping: UserMapping | undefined;
  /** The message holding the user's lease, while it has not run out. */
  readonly leaseHolder?: string | undefined;
  /**
   * The create claim, when the same item holds it (a user with no mapping yet); absent when it
   * lives in an item apart (a user with a mapping) or the store does not say.
   */
  readonly claim?: SeenClaim | undefined;
}

/** Stores and reads mappings. */
export interface MappingStore {
  /** The mapping of a partner user (strongly consistent), if any. */
  get(partnerUserId: string): Promise<UserMapping | undefined>;
  /**
   * The mapping with who holds the user's lease now (the same read), for work that will change
   * the user; stores without leases may leave it out (`get` is used then).
   */
  lookup?(partnerUserId: string): Promise<MappingLookup>;
  /** Several mappings at once; missing ids are absent from the result. */
  getMany(partnerUserIds: readonly string[]): Promise<Map<string, UserMapping>>;
  /**
   * Saves a mapping if nobody saved it since `expectedRev` was read (undefined = must not exist
   * yet). Resolves false when another worker won the race; the caller re-reads and re-decides.
   */
  save(draft: MappingDraft, expectedRev: number | undefined): Promise<boolean>;
  /**
   * Claims the create path of a partner user for `leaseMs` (never two creates), remembering what
   * the create is sent with. True when this owner holds the claim (fresh, expired or already its
   * own) and the user's mapping is still the revision the caller decided on (`expectedRev`,
   * undefined: none).
   */
  claim(
    partnerUserId: string,
    owner: string,
    leaseMs: number,
    create?: PendingCreate,
    expectedRev?: number,
  ): Promise<boolean>;
  /**
   * What the last claimed create of this partner user was sent with, while its claim item lasts:
   * a worker that died after Upheal created the user left it, so the next attempt can find that
   * user by its email even when the partner has changed the email since.
   */
  pendingCreate(partnerUserId: string): Promise<PendingCreate | undefined>;
  /**
   * Drops the create-path claim once the mapping is saved: every later worker finds the mapping
   * (a claimer reads it again after claiming), so the claim has nothing left to hold off, and the
   * email it remembered goes with it. Used after a user was found by that email.
   */
  releaseClaim(partnerUserId: string): Promise<void>;
  /**
   * The partner users whose create claim remembers a create sent with this email (normalised),
   * while the claim item lasts: an account Upheal has for that email but nobody maps yet is theirs.
   */
  createClaimantsOf(email: string): Promise<string[]>;
  /** The partner id mapped to an Upheal user id, through the reverse index. */
  findByUphealId(uphealUserId: string): Promise<UserMapping | undefined>;
  /**
   * The clients whose desired provider list names this provider (a scan: for the rare re-create
   * of a provider, whose new Upheal id its clients must get).
   */
  clientsOf(providerPartnerUserId: string): Promise<UserMapping[]>;
  /** How many users are mapped to Upheal (for the delete guard's share threshold). */
  countActive(): Promise<number>;
}
