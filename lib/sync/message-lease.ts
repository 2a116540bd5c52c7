/**
 * The per-user lease of one message, taken only when the message is about to change something:
 * before its first Upheal call that changes something, after the shared limiter granted that
 * call's slot (the port it decorates sits under the pacer), or before its first write of the
 * user's mapping, whichever comes first. A create claim is taken with the lease, in the same
 * write. A message deferred for a slot, one that only looks a user up, and one that changes
 * nothing (a stale event) write no lease. The message's mapping save gives the lease back (the
 * lease lives on the mapping item); a later change takes it again.
 *
 * The use case decided what to send from the user's mapping as it read it before the lease. The
 * write that takes the lease returns the mapping as it is now: if another message changed what
 * the decision rests on meanwhile (its version, state, Upheal id or provider list), this message
 * is deferred for a moment and redone on the fresh state, so an older event's call can never land
 * after a newer one's. Marks a use case writes itself before its call (a delete's `deleteSent`)
 * do not count as a change.
 */
import { NotReadyError, UserBusyError } from '#lib/errors.ts';
import type {
  MappingDraft,
  MappingLookup,
  MappingStore,
  PendingCreate,
  SeenClaim,
  UserMapping,
} from '#lib/store/mapping-store.ts';
import { LEASE_BUSY_RETRY_MS, USER_LEASE_MS, type UserLeases } from '#lib/store/user-lease.ts';
import type { UphealCall, UphealPort } from '#lib/sync/ports.ts';
import type {
  CheckUserResult,
  CreateClientBody,
  CreateProviderBody,
  CreateProviderResult,
  UpdateProviderBody,
  UpdateUserBody,
} from '#lib/upheal/client.ts';

/** A redone message comes back after this long (the change it saw is already saved). */
const CHANGED_RETRY_MS = 200;

/** The lease of one message for one user. */
export interface MessageLease {
  /** The mapping store the use case reads through (it remembers what the decision rested on). */
  readonly mappings: MappingStore;
  /** Decorates an Upheal port so that its first call takes the lease. */
  decorate(port: UphealPort): UphealPort;
  /** Gives the lease back if it was taken. */
  release(): Promise<void>;
}

/** What a decision rests on: a later message changing any of it makes this one start again. */
function decisionBasis(mapping: UserMapping | MappingDraft | undefined): string {
  if (!mapping) return 'none';
  return JSON.stringify([
    mapping.state,
    mapping.uphealUserId,
    mapping.version,
    mapping.providersVersion,
    mapping.desiredProviders,
  ]);
}

/** A message's lease on `partnerUserId`, for `owner` (its SQS message id). */
export function messageLease(
  leases: UserLeases,
  mappings: MappingStore,
  partnerUserId: string,
  owner: string,
  leaseMs?: number,
): MessageLease {
  const lease = new HeldLease(leases, partnerUserId, owner, leaseMs);
  return {
    mappings: leasedMappings(mappings, lease),
    decorate: (port) => new LeasedUpheal(port, lease),
    release: () => lease.release(),
  };
}

/** The state of one message's lease: what its decision rests on, and whether it is held. */
class HeldLease {
  readonly #leases: UserLeases;
  readonly partnerUserId: string;
  readonly #owner: string;
  readonly #leaseMs: number | undefined;
  /** What the decision rests on, from the first read of the mapping. */
  #basis: string | undefined;
  /** Whether the user has a mapping item with a revision (a shell has none). */
  #mapped = false;
  #held = false;
  /** Another message held the lease when the mapping was read: a look-up would be wasted. */
  #busyAtRead = false;
  /** The create claim the first read saw on the user's item, when the item holds it. */
  #seenClaim: SeenClaim | undefined;
  /** Whether the decision used that claim instead of reading it again (see `claimSeen`). */
  #claimAssumed = false;

  constructor(leases: UserLeases, partnerUserId: string, owner: string, leaseMs?: number) {
    this.#leases = leases;
    this.partnerUserId = partnerUserId;
    this.#owner = owner;
    this.#leaseMs = leaseMs;
  }

  /** True until the first read of the user's mapping was recorded. */
  get unread(): boolean {
    return this.#basis === undefined;
  }

  /** Records the first read: the decision's basis, and who held the lease then. */
  read(found: MappingLookup): void {
    this.#basis = decisionBasis(found.mapping);
    this.#mapped = found.mapping !== undefined;
    this.#busyAtRead = found.leaseHolder !== undefined && found.leaseHolder !== this.#owner;
    this.#seenClaim = found.claim;
  }

  /**
   * The create claim the first read saw, if that read saw the claim (and this message has not
   * claimed since). Once it is used, this message's own claim is written only if the item still
   * holds that very claim (another message's claim since is never replaced unseen; this message
   * starts over instead). Saves reading the item again for it.
   */
  claimSeen(): SeenClaim | undefined {
    if (this.#seenClaim !== undefined) this.#claimAssumed = true;
    return this.#seenClaim;
  }

  /** Before a look-up: waits, like a change, for a user another message held when it was read. */
  lookingUp(): void {
    if (this.#busyAtRead && !this.#held) throw this.#busy();
  }

  /**
   * Takes the lease (a no-op while held, unless a create is claimed with it) and checks, the
   * first time, that the mapping is still what the decision rested on.
   */
  async take(pending?: PendingCreate): Promise<void> {
    if (this.#held && pending === undefined) return;
    const claimed = pending !== undefined && this.#claimAssumed;
    const grant = await this.#leases.acquire(this.partnerUserId, this.#owner, {
      leaseMs: this.#leaseMs,
      pending,
      expectMapping: this.#mapped,
      ...(claimed ? { expectClaimedAt: this.#seenClaim?.claimedAt ?? null } : {}),
    });
    if (!grant.taken) throw this.#busy();
    if (pending !== undefined) {
      // The item now holds this message's own claim: a later look at the claim reads it.
      this.#seenClaim = undefined;
      this.#claimAssumed = false;
    }
    const first = !this.#held;
    this.#held = true;
    if (first && this.#basis !== undefined && decisionBasis(grant.mapping) !== this.#basis) {
      throw new NotReadyError(
        `user ${this.partnerUserId} was changed by another message before this one's first change`,
        CHANGED_RETRY_MS,
      );
    }
  }

  /** After this message's save: the put gave the lease back; the save is the new basis. */
  saved(draft: MappingDraft): void {
    this.#held = false;
    this.#basis = decisionBasis(draft);
    this.#mapped = true;
  }

  async release(): Promise<void> {
    if (this.#held) await this.#leases.release(this.partnerUserId, this.#owner);
  }

  /** A busy user, never a missing dependency: the wait ends with the holder's lease at worst. */
  #busy(): UserBusyError {
    return new UserBusyError(
      `user ${this.partnerUserId} is being changed by another message`,
      LEASE_BUSY_RETRY_MS,
      Math.max(USER_LEASE_MS, this.#leaseMs ?? 0),
    );
  }
}

/**
 * The mapping store as the use case sees it under the lease: the first read of the user's
 * mapping records what the decision rests on; a save takes the lease first and gives it back
 * (the put replaces the item); a claim is taken with the lease, whose own check of the mapping
 * stands for the claim's `expectedRev`. Other users' items pass through.
 */
function leasedMappings(mappings: MappingStore, lease: HeldLease): MappingStore {
  const own = (id: unknown) => id === lease.partnerUserId;
  const overrides: Partial<MappingStore> = {
    async get(id) {
      if (!own(id) || !lease.unread) return mappings.get(id);
      const found = mappings.lookup
        ? await mappings.lookup(id)
        : { mapping: await mappings.get(id) };
      lease.read(found);
      return found.mapping;
    },
    async save(draft, expectedRev) {
      if (!own(draft.partnerUserId)) return mappings.save(draft, expectedRev);
      await lease.take();
      const saved = await mappings.save(draft, expectedRev);
      if (saved) lease.saved(draft);
      return saved;
    },
    async pendingCreate(id) {
      if (!own(id) || lease.unread) return mappings.pendingCreate(id);
      const seen = lease.claimSeen();
      return seen === undefined ? mappings.pendingCreate(id) : seen.pending;
    },
    async claim(id, owner, leaseMs, pending, expectedRev) {
      if (!own(id)) return mappings.claim(id, owner, leaseMs, pending, expectedRev);
      await lease.take(pending ?? {});
      return true;
    },
  };
  return new Proxy(mappings, {
    get(target, property) {
      const override = Reflect.get(overrides, property);
      if (override !== undefined) return override;
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** An Upheal port whose first call takes the message's lease. */
class LeasedUpheal implements UphealPort {
  readonly #port: UphealPort;
  readonly #lease: HeldLease;

  constructor(port: UphealPort, lease: HeldLease) {
    this.#port = port;
    this.#lease = lease;
  }

  /**
   * A look-up changes nothing: it takes no lease (what it finds is re-validated when the lease is
   * taken), but waits, like a change, for a user another message held when it was read.
   */
  async checkUser(email: string, ifNew?: readonly UphealCall[]): Promise<CheckUserResult> {
    this.#lease.lookingUp();
    return this.#port.checkUser(email, ifNew);
  }

  async createProvider(body: CreateProviderBody): Promise<CreateProviderResult> {
    await this.#lease.take();
    return this.#port.createProvider(body);
  }

  async createClient(body: CreateClientBody): Promise<{ userId: string }> {
    await this.#lease.take();
    return this.#port.createClient(body);
  }

  async updateUser(userId: string, body: UpdateUserBody): Promise<void> {
    await this.#lease.take();
    return this.#port.updateUser(userId, body);
  }

  async updateProvider(providerUserId: string, body: UpdateProviderBody): Promise<void> {
    await this.#lease.take();
    return this.#port.updateProvider(providerUserId, body);
  }

  async replaceProviders(userId: string, providerUserIds: string[]): Promise<string[]> {
    await this.#lease.take();
    return this.#port.replaceProviders(userId, providerUserIds);
  }

  async deleteUser(userId: string): Promise<void> {
    await this.#lease.take();
    return this.#port.deleteUser(userId);
  }
}
