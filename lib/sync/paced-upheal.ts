/**
 * Upheal, paced: every call first obtains a send slot from the shared limiter (SPEC §3.2), and a
 * 429 is reported back so every worker slows down and pauses at once.
 */
import { RateLimitedError } from '#lib/errors.ts';
import type { Lane, RateLimiter } from '#lib/limiter/rate-limiter.ts';
import type {
  CheckUserResult,
  CreateClientBody,
  CreateProviderBody,
  CreateProviderResult,
  UpdateProviderBody,
  UpdateUserBody,
  UphealClient,
} from '#lib/upheal/client.ts';

/** The Upheal operations the sync uses, each behind the limiter. */
export type UphealPort = Pick<
  UphealClient,
  | 'checkUser'
  | 'createProvider'
  | 'createClient'
  | 'updateUser'
  | 'updateProvider'
  | 'replaceProviders'
  | 'deleteUser'
>;

/** An UphealClient whose every call waits for a slot in one lane of the shared limiter. */
export class PacedUpheal implements UphealPort {
  readonly #client: UphealPort;
  readonly #limiter: RateLimiter;
  readonly #lane: Lane;

  constructor(client: UphealPort, limiter: RateLimiter, lane: Lane) {
    this.#client = client;
    this.#limiter = limiter;
    this.#lane = lane;
  }

  checkUser(email: string): Promise<CheckUserResult> {
    return this.#paced(() => this.#client.checkUser(email));
  }

  createProvider(body: CreateProviderBody): Promise<CreateProviderResult> {
    return this.#paced(() => this.#client.createProvider(body));
  }

  createClient(body: CreateClientBody): Promise<{ userId: string }> {
    return this.#paced(() => this.#client.createClient(body));
  }

  updateUser(userId: string, body: UpdateUserBody): Promise<void> {
    return this.#paced(() => this.#client.updateUser(userId, body));
  }

  updateProvider(providerUserId: string, body: UpdateProviderBody): Promise<void> {
    return this.#paced(() => this.#client.updateProvider(providerUserId, body));
  }

  replaceProviders(userId: string, providerUserIds: string[]): Promise<string[]> {
    return this.#paced(() => this.#client.replaceProviders(userId, providerUserIds));
  }

  deleteUser(userId: string): Promise<void> {
    return this.#paced(() => this.#client.deleteUser(userId));
  }

  async #paced<T>(call: () => Promise<T>): Promise<T> {
    await this.#limiter.acquire(this.#lane);
    try {
      return await call();
    } catch (error) {
      if (error instanceof RateLimitedError) await this.#limiter.rateLimited(error.retryAfterMs);
      throw error;
    }
  }
}
