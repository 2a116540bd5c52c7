/**
 * The per-user lease of one message, taken only when the message is about to change something:
 * before its first Upheal call, after the shared limiter granted that call's slot (the port it
 * decorates sits under the pacer), or before its first write of the user's mapping or create
 * claim, whichever comes first. A message deferred for a slot, and one that changes nothing (a
 * stale event), writes no lease.
 *
 * The use case decided what to send from the user's mapping as it read it before the lease. Once
 * the lease is held, the mapping is read again: if another message changed what the decision
 * rests on meanwhile (its version, state, Upheal id or provider list), this message is deferred
 * for a moment and redone on the fresh state, so an older event's call can never land after a
 * newer one's. Marks a use case writes itself before its call (a delete's `deleteSent`) do not
 * count as a change.
 */
import { NotReadyError, UserBusyError } from '#lib/errors.ts';
import type { MappingStore, UserMapping } from '#lib/store/mapping-store.ts';
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

/** The mapping store's writes: the lease is taken before the first. */
const MAPPING_WRITES: ReadonlySet<PropertyKey> = new Set(['save', 'claim', 'releaseClaim']);
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
function decisionBasis(mapping: UserMapping | undefined): string {
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
  let held = false;
  const take = async () => {
    if (held) return;
    if (!(await leases.acquire(partnerUserId, owner, leaseMs))) {
      // A busy user, never a missing dependency: the wait ends with the holder's lease at worst.
      throw new UserBusyError(
        `user ${partnerUserId} is being changed by another message`,
        LEASE_BUSY_RETRY_MS,
        Math.max(USER_LEASE_MS, leaseMs ?? 0),
      );
    }
    held = true;
    if (basis !== undefined && decisionBasis(await mappings.get(partnerUserId)) !== basis) {
      throw new NotReadyError(
        `user ${partnerUserId} was changed by another message before this one's first change`,
        CHANGED_RETRY_MS,
      );
    }
  };
  // Reads of the user's mapping record what the decision rests on; writes take the lease first.
  const recording: MappingStore = new Proxy(mappings, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      if (property === 'get') {
        return async (id: string) => {
          const mapping: UserMapping | undefined = await value.call(target, id);
          if (id === partnerUserId && basis === undefined) basis = decisionBasis(mapping);
          return mapping;
        };
      }
      if (MAPPING_WRITES.has(property)) {
        return async (...args: unknown[]) => {
          await take();
          return value.apply(target, args);
        };
      }
      return value.bind(target);
    },
  });
  return {
    mappings: recording,
    decorate: (port) => new LeasedUpheal(port, take),
    async release() {
      if (held) await leases.release(partnerUserId, owner);
    },
  };
}

/** An Upheal port whose first call takes the message's lease. */
class LeasedUpheal implements UphealPort {
  readonly #port: UphealPort;
  readonly #take: () => Promise<void>;

  constructor(port: UphealPort, take: () => Promise<void>) {
    this.#port = port;
    this.#take = take;
  }

  async checkUser(email: string, ifNew?: readonly UphealCall[]): Promise<CheckUserResult> {
    await this.#take();
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
