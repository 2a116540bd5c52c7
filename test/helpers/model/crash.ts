/**
 * Worker crashes for the model: a delivery that dies at a chosen point. Every side effect the
 * use cases have (each lease taken or given back, each Upheal call, each mapping claim or save,
 * each assignment enqueued) is a
 * step; the delivery dies just before or just after its n-th step, and nothing after it happens,
 * as when Lambda kills the process. The death is an exception that no use case catches (it is
 * not an AppError), and the delivery model treats it as a lost invocation, never as an outcome.
 */
import type { MappingStore } from '#lib/store/mapping-store.ts';
import type { UserLeases } from '#lib/store/user-lease.ts';
import type { SyncUserDeps } from '#lib/sync/sync-user.ts';

/** The use cases' dependencies as a delivery gets them: the ports and the per-user leases. */
export type DeliveryDeps = SyncUserDeps & { readonly leases: UserLeases };

/** The mapping store's methods that write (the others only read). */
const MAPPING_WRITES: ReadonlySet<string | symbol> = new Set<keyof MappingStore>(['save', 'claim']);

/** Where a delivery dies. */
export interface CrashPoint {
  /** The 1-based side effect at which it dies. */
  readonly step: number;
  /** True: the effect happens (e.g. Upheal creates the user), then the worker dies. */
  readonly afterEffect: boolean;
}

/** The worker died; thrown only by the wrappers here. */
export class WorkerCrash extends Error {
  override readonly name = 'WorkerCrash';
}

/** Counts the side effects of one delivery and dies at the crash point, if any. */
class CrashCounter {
  readonly #point: CrashPoint | undefined;
  #steps = 0;
  #crashed = false;

  constructor(point: CrashPoint | undefined) {
    this.#point = point;
  }

  /** Whether this delivery died. */
  get crashed(): boolean {
    return this.#crashed;
  }

  async step<T>(effect: () => Promise<T>): Promise<T> {
    if (this.#crashed) throw new WorkerCrash('the worker is dead');
    this.#steps += 1;
    const dies = this.#point !== undefined && this.#steps === this.#point.step;
    if (dies && !this.#point!.afterEffect) this.#die();
    const result = await effect();
    if (dies) this.#die();
    return result;
  }

  #die(): never {
    this.#crashed = true;
    throw new WorkerCrash(`worker killed at side effect ${this.#point!.step}`);
  }
}

/**
 * The dependencies of one delivery, dying at `point` (undefined: a delivery that lives), each
 * operation waiting for `gate` first. `port` wraps another port of the delivery the same way
 * (the heal store, the outbound publisher): the methods named in `writes` are side effects.
 */
export function crashingDeps(
  deps: DeliveryDeps,
  point: CrashPoint | undefined,
  gate: () => Promise<void> = async () => {},
): {
  deps: DeliveryDeps;
  crashed(): boolean;
  port<T extends object>(target: T, writes: ReadonlySet<string | symbol>): T;
} {
  const counter = new CrashCounter(point);
  // Every operation first waits for its turn (concurrent deliveries interleave at these points).
  const step = async <T>(effect: () => Promise<T>) => {
    await gate();
    return counter.step(effect);
  };
  const read = async <T>(query: () => Promise<T>) => {
    await gate();
    return query();
  };
  // Proxies, so every method of the ports is covered, including ones added later: a write is
  // a side effect, a read only waits for its turn, every Upheal call is both.
  const port = <T extends object>(port: T, writes: ReadonlySet<string | symbol>): T =>
    new Proxy(port, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        const call = (...args: unknown[]) => value.apply(target, args) as Promise<unknown>;
        return writes.has(property)
          ? (...args: unknown[]) => step(() => call(...args))
          : (...args: unknown[]) => read(() => call(...args));
      },
    });
  const mappings = port(deps.mappings, MAPPING_WRITES);
  const upheal = new Proxy(deps.upheal, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => step(() => value.apply(target, args) as Promise<unknown>);
    },
  });
  return {
    deps: {
      ...deps,
      mappings,
      upheal,
      assignments: {
        enqueue: (id, cause) => step(() => deps.assignments.enqueue(id, cause)),
      },
      // A dead worker gives nothing back: its lease runs out on the virtual clock.
      leases: {
        acquire: (id, owner, leaseMs) => step(() => deps.leases.acquire(id, owner, leaseMs)),
        release: (id, owner) => step(() => deps.leases.release(id, owner)),
      },
    },
    crashed: () => counter.crashed,
    port,
  };
}
