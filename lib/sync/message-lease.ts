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
  let basis: string | undefined;
  let mapped = false;
  let held = false;
  // Another message held the lease when the mapping was read: a look-up would be wasted.
  let busyAtRead = false;
  const busy = () =>
    // A busy user, never a missing dependency: the wait ends with the holder's lease at worst.
    new UserBusyError(
      `user ${partnerUserId} is being changed by another message`,
      LEASE_BUSY_RETRY_MS,
      Math.max(USER_LEASE_MS, leaseMs ?? 0),
    );
  const take = async (pending?: PendingCreate) => {
    if (held && pending === undefined) return;
    const grant = await leases.acquire(partnerUserId, owner, {
      leaseMs,
      pending,
      expectMapping: mapped,
    });
    if (!grant.taken) throw busy();
    const first = !held;
    held = true;
    if (first && basis !== undefined && decisionBasis(grant.mapping) !== basis) {
      throw new NotReadyError(
        `user ${partnerUserId} was changed by another message before this one's first change`,
        CHANGED_RETRY_MS,
      );
    }
  };
  // Reads of the user's mapping record what the decision rests on; a save takes the lease first
  // and gives it back (the put replaces the item); a claim is taken with the lease.
  const own = (id: unknown) => id === partnerUserId;
  const recording: MappingStore = new Proxy(mappings, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property === 'get') {
        return async (id: string) => {
          if (!own(id) || basis !== undefined) return value.call(target, id);
          const found: MappingLookup = target.lookup
            ? await target.lookup(id)
            : { mapping: await value.call(target, id) };
          basis = decisionBasis(found.mapping);
          mapped = found.mapping !== undefined;
          busyAtRead = found.leaseHolder !== undefined && found.leaseHolder !== owner;
          return found.mapping;
        };
      }
      if (property === 'save') {
        return async (draft: MappingDraft, expectedRev: number | undefined) => {
          if (!own(draft.partnerUserId)) return value.call(target, draft, expectedRev);
          await take();
          const saved: boolean = await value.call(target, draft, expectedRev);
          if (saved) {
            held = false;
            basis = decisionBasis(draft);
            mapped = true;
          }
          return saved;
        };
      }
      if (property === 'claim') {
        // The lease's own check of the mapping stands for the claim's `expectedRev`.
        return async (id: string, ...rest: [string, number, PendingCreate?, number?]) => {
          if (!own(id)) return value.call(target, id, ...rest);
          await take(rest[2] ?? {});
          return true;
        };
      }
      return value.bind(target);
    },
  });
  return {
    mappings: recording,
    decorate: (port) =>
      new LeasedUpheal(port, take, () => {
        if (busyAtRead && !held) throw busy();
      }),
    async release() {
      if (held) await leases.release(partnerUserId, owner);
    },
  };
}

/** An Upheal port whose first call takes the message's lease. */
class LeasedUpheal implements UphealPort {
  readonly #port: UphealPort;
  readonly #take: () => Promise<void>;
  readonly #lookingUp: () => void;

  constructor(port: UphealPort, take: () => Promise<void>, lookingUp: () => void) {
    this.#port = port;
    this.#take = take;
    this.#lookingUp = lookingUp;
  }

  /**
   * A look-up changes nothing: it takes no lease (what it finds is re-validated when the lease is
   * taken), but waits, like a change, for a user another message held when it was read.
   */
  async checkUser(email: string, ifNew?: readonly UphealCall[]): Promise<CheckUserResult> {
    this.#lookingUp();
    return this.#port.checkUser(email, ifNew);
  }

  async createProvider(body: CreateProviderBody): Promise<CreateProviderResult> {
    await this.#take();
    return this.#port.createProvider(body);
  }

  async createClient(body: CreateClientBody): Promise<{ userId: string }> {
    await this.#take();
    return this.#port.createClient(body);
  }

  async updateUser(userId: string, body: UpdateUserBody): Promise<void> {
    await this.#take();
    return this.#port.updateUser(userId, body);
  }

  async updateProvider(providerUserId: string, body: UpdateProviderBody): Promise<void> {
    await this.#take();
    return this.#port.updateProvider(providerUserId, body);
  }

  async replaceProviders(userId: string, providerUserIds: string[]): Promise<string[]> {
    await this.#take();
    return this.#port.replaceProviders(userId, providerUserIds);
  }

  async deleteUser(userId: string): Promise<void> {
    await this.#take();
    return this.#port.deleteUser(userId);
  }
}
