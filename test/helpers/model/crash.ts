/**
 * Worker crashes for the model: a delivery that dies at a chosen point. Every side effect the
 * use cases have (each Upheal call, each mapping claim or save, each assignment enqueued) is a
 * step; the delivery dies just before or just after its n-th step, and nothing after it happens,
 * as when Lambda kills the process. The death is an exception that no use case catches (it is
 * not an AppError), and the delivery model treats it as a lost invocation, never as an outcome.
 */
import type { MappingStore } from '#lib/store/mapping-store.ts';
import type { UphealPort } from '#lib/sync/paced-upheal.ts';
import type { SyncUserDeps } from '#lib/sync/sync-user.ts';

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
 * operation waiting for `gate` first.
 */
export function crashingDeps(
  deps: SyncUserDeps,
  point: CrashPoint | undefined,
  gate: () => Promise<void> = async () => {},
): { deps: SyncUserDeps; crashed(): boolean } {
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
  const mappings: MappingStore = {
    get: (id) => read(() => deps.mappings.get(id)),
    getMany: (ids) => read(() => deps.mappings.getMany(ids)),
    save: (draft, rev) => step(() => deps.mappings.save(draft, rev)),
    claim: (id, owner, lease) => step(() => deps.mappings.claim(id, owner, lease)),
    findByUphealId: (id) => read(() => deps.mappings.findByUphealId(id)),
    countActive: () => read(() => deps.mappings.countActive()),
  };
  const upheal: UphealPort = {
    checkUser: (email) => step(() => deps.upheal.checkUser(email)),
    createProvider: (body) => step(() => deps.upheal.createProvider(body)),
    createClient: (body) => step(() => deps.upheal.createClient(body)),
    updateUser: (id, body) => step(() => deps.upheal.updateUser(id, body)),
    updateProvider: (id, body) => step(() => deps.upheal.updateProvider(id, body)),
    replaceProviders: (id, ids) => step(() => deps.upheal.replaceProviders(id, ids)),
    deleteUser: (id) => step(() => deps.upheal.deleteUser(id)),
  };
  return {
    deps: {
      ...deps,
      mappings,
      upheal,
      assignments: {
        enqueue: (id, cause) => step(() => deps.assignments.enqueue(id, cause)),
      },
    },
    crashed: () => counter.crashed,
  };
}
