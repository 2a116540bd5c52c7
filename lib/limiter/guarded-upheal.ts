/**
 * Upheal behind the guards of one record: before every call, the record may still be deferred
 * (the invocation has too little time left, the sync is quarantined); after a failed call, the
 * guards hear of it (a quarantine counts Upheal's faults), and after a successful one too (a
 * fault among many answers is no outage). The use cases see the same port; a
 * guard that throws defers the record before the call, never in the middle of one.
 */
import { OutOfTimeError } from '#lib/errors.ts';
import type { UphealCall, UphealPort } from '#lib/sync/ports.ts';
import type {
  CheckUserResult,
  CreateClientBody,
  CreateProviderBody,
  CreateProviderResult,
  UpdateProviderBody,
  UpdateUserBody,
} from '#lib/upheal/client.ts';

/** Checks run around every Upheal call of one record. */
export interface CallGuard {
  /** Throws (a deferral error) when the call must not start now. */
  beforeCall(): Promise<void>;
  /** Hears of a call that Upheal answered with success. */
  afterSuccess?(): void;
  /**
   * Hears of a call that failed. The error is rethrown to the use case after, unless this throws
   * a deferral error of its own (the failure showed the record must wait, not fail).
   */
  afterFailure?(error: unknown): Promise<void>;
}

/** The part of a Lambda context the deadline guard reads. */
export interface InvocationClock {
  getRemainingTimeInMillis(): number;
}

/**
 * A message deferred for lack of time comes back after this long: the next invocation starts
 * with its full timeout, so there is nothing to wait for.
 */
export const OUT_OF_TIME_DEFER_MS = 1_000;

/**
 * Defers the record when less than `callBudgetMs` (the longest a call can take: its wait for a
 * slot plus its timeout) is left in the invocation, so no call outlives the Lambda (a call cut
 * off by the timeout may have taken effect without the answer being recorded, and the whole
 * batch would be received again, its receive count burnt).
 */
export function deadlineGuard(invocation: InvocationClock, callBudgetMs: number): CallGuard {
  return {
    async beforeCall() {
      const remainingMs = invocation.getRemainingTimeInMillis();
      if (remainingMs < callBudgetMs) {
        throw new OutOfTimeError(remainingMs, callBudgetMs, OUT_OF_TIME_DEFER_MS);
      }
    },
  };
}

/**
 * Largest share of an invocation's time one call may be given: with a function timeout shorter
 * than a call's worst case (a short local timeout, say), the guard still lets calls start in the
 * first half of the invocation instead of deferring every record for ever.
 */
export const MAX_CALL_SHARE_OF_INVOCATION = 0.5;

/**
 * The invocation time a call needs: `callBudgetMs`, or at most MAX_CALL_SHARE_OF_INVOCATION of
 * `invocationMs`, the time the invocation had at its start.
 */
export function callTimeNeededMs(callBudgetMs: number, invocationMs: number): number {
  return Math.min(callBudgetMs, invocationMs * MAX_CALL_SHARE_OF_INVOCATION);
}

/**
 * Deadline guards for the records of each invocation: a call needs `callTimeNeededMs` of the time
 * the invocation had when its first record asked.
 */
export function invocationDeadlines(
  callBudgetMs: number,
): (invocation: InvocationClock) => CallGuard {
  // The context object is one per invocation: its first reading is the invocation's length.
  const firstRemaining = new WeakMap<InvocationClock, number>();
  return (invocation) => {
    let total = firstRemaining.get(invocation);
    if (total === undefined) {
      total = invocation.getRemainingTimeInMillis();
      firstRemaining.set(invocation, total);
    }
    return deadlineGuard(invocation, callTimeNeededMs(callBudgetMs, total));
  };
}

/** The guard of one record, from its invocation (undefined where there is no Lambda context). */
export type CallGuardFactory = (invocation: InvocationClock | undefined) => CallGuard;

/** All `guards`, in order: the first that throws defers the record. */
export function allGuards(guards: readonly CallGuard[]): CallGuard {
  return {
    async beforeCall() {
      for (const guard of guards) await guard.beforeCall();
    },
    afterSuccess() {
      for (const guard of guards) guard.afterSuccess?.();
    },
    async afterFailure(error) {
      for (const guard of guards) await guard.afterFailure?.(error);
    },
  };
}

/** An Upheal port whose every call passes `guard` first. */
export class GuardedUpheal implements UphealPort {
  readonly #port: UphealPort;
  readonly #guard: CallGuard;

  constructor(port: UphealPort, guard: CallGuard) {
    this.#port = port;
    this.#guard = guard;
  }

  checkUser(email: string, ifNew?: readonly UphealCall[]): Promise<CheckUserResult> {
    return this.#guarded(() => this.#port.checkUser(email, ifNew));
  }

  createProvider(
    body: CreateProviderBody,
    ifCreated?: readonly UphealCall[],
  ): Promise<CreateProviderResult> {
    return this.#guarded(() => this.#port.createProvider(body, ifCreated));
  }

  createClient(
    body: CreateClientBody,
    ifCreated?: readonly UphealCall[],
  ): Promise<{ userId: string }> {
    return this.#guarded(() => this.#port.createClient(body, ifCreated));
  }

  updateUser(userId: string, body: UpdateUserBody): Promise<void> {
    return this.#guarded(() => this.#port.updateUser(userId, body));
  }

  updateProvider(providerUserId: string, body: UpdateProviderBody): Promise<void> {
    return this.#guarded(() => this.#port.updateProvider(providerUserId, body));
  }

  replaceProviders(userId: string, providerUserIds: string[]): Promise<string[]> {
    return this.#guarded(() => this.#port.replaceProviders(userId, providerUserIds));
  }

  deleteUser(userId: string): Promise<void> {
    return this.#guarded(() => this.#port.deleteUser(userId));
  }

  async #guarded<T>(call: () => Promise<T>): Promise<T> {
    await this.#guard.beforeCall();
    let result: T;
    try {
      result = await call();
    } catch (error) {
      await this.#guard.afterFailure?.(error);
      throw error;
    }
    this.#guard.afterSuccess?.();
    return result;
  }
}
