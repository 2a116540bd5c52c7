/**
 * The shared limiter every Upheal call goes through (docs/limits.md). Implementations share their
 * state across processes (DynamoDB in production and on the local stack), so the per-key limit
 * holds across every Lambda instance. Only the limiter's own adapter of the Upheal port
 * (`paced-upheal.ts`) talks to it.
 */

/** Traffic classes: live events are served before the bulk import. */
export const LANES = { live: 'live', bulk: 'bulk' } as const;

/** A traffic class. */
export type Lane = (typeof LANES)[keyof typeof LANES];

/** How a caller asks for a slot. */
export interface AcquireOptions {
  /**
   * The call continues an event whose earlier calls went out (the create after its check): it is
   * served before the first calls of new events of its lane, since deferring it would repeat
   * those earlier calls.
   */
  readonly continuation?: boolean;
  /**
   * Calls the caller expects to make right after this one (the create after a check): the
   * booking takes a slot for each too, with the same write, and they wait in the process's pool
   * (where any caller of the process may take them; one nobody takes in time is dropped).
   */
  readonly followUps?: number;
}

/** Obtains permission to send one request to Upheal. */
export interface RateLimiter {
  /**
   * Resolves when the caller may send one request now. Waits in-process only up to the
   * configured horizon (a bulk caller: until it can start booking within the horizon, gcra.ts
   * `slotDeadline`); beyond it throws SlotUnavailableError (from `#lib/errors.ts`) carrying the
   * expected wait, so the caller defers its SQS message instead of sleeping.
   */
  acquire(lane: Lane, options?: AcquireOptions): Promise<void>;
  /**
   * Resolves when a first call of `lane` could book a slot now (after waiting out a 429's pause,
   * if any), and books nothing; throws SlotUnavailableError (as `acquire` does) when it would have
   * to wait for its turn. A record about to read its user's state first learns whether there is
   * room for its call, so one the API cannot serve now is deferred before it reads anything. The
   * turn reserves nothing: the call that follows may still have to wait or be refused.
   */
  awaitTurn(lane: Lane): Promise<void>;
  /**
   * Takes back follow-up calls announced with `followUps` that will not be made (the check found
   * the user, or failed): the slots kept for them go to other callers.
   */
  forgo(count: number): void;
  /**
   * Reports a 429 from Upheal: lowers the shared rate and pauses every worker until
   * `retryAfterMs` (or a default backoff when Upheal gave none).
   */
  rateLimited(retryAfterMs: number | undefined): Promise<void>;
}
