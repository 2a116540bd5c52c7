/**
 * Seeded, deterministic fault injection. Every request under `/users` draws the same two numbers
 * from the PRNG (one picks the fault, one the latency) whatever happens to it, so the same seed and
 * the same order of requests reproduce the same faults.
 */
import type { FaultOptions } from './options.ts';
import { mulberry32 } from './prng.ts';

/** The faults a request can suffer. */
export const FAULT_KINDS = {
  /** 500 before the request has any effect. */
  serverError: 'serverError',
  /** The request takes effect (e.g. the user is created), then the answer is a 500. */
  createdButFailed: 'createdButFailed',
  /** No answer ever; the client must give up. The socket is closed when the simulator stops. */
  hang: 'hang',
  /** The connection is destroyed without an answer. */
  reset: 'reset',
} as const;

/** One of FAULT_KINDS. */
export type FaultKind = (typeof FAULT_KINDS)[keyof typeof FAULT_KINDS];

/** What the injector decided for one request. */
export interface FaultDraw {
  readonly fault: FaultKind | undefined;
  /** Added latency before the request is handled. */
  readonly latencyMs: number;
}

/** Order in which the fault probabilities are stacked on [0, 1). */
const FAULT_ORDER = [
  FAULT_KINDS.serverError,
  FAULT_KINDS.createdButFailed,
  FAULT_KINDS.hang,
  FAULT_KINDS.reset,
] as const;

/** Draws faults from a seeded PRNG; reconfiguring re-seeds it. */
export class FaultInjector {
  #options: FaultOptions;
  #random: () => number;

  constructor(options: FaultOptions) {
    this.#options = options;
    this.#random = mulberry32(options.seed);
  }

  /** The current fault options. */
  get options(): FaultOptions {
    return this.#options;
  }

  /** Replaces the options and restarts the PRNG from their seed. */
  configure(options: FaultOptions): void {
    this.#options = options;
    this.#random = mulberry32(options.seed);
  }

  /** Restarts the PRNG from the current seed. */
  reseed(): void {
    this.#random = mulberry32(this.#options.seed);
  }

  /** Decides the fault and latency of the next request. */
  draw(): FaultDraw {
    const pick = this.#random();
    const spread = this.#random();
    const { min, max } = this.#options.latencyMs;
    let threshold = 0;
    let fault: FaultKind | undefined;
    for (const kind of FAULT_ORDER) {
      threshold += this.#options[kind];
      if (pick < threshold) {
        fault = kind;
        break;
      }
    }
    return { fault, latencyMs: min + (max - min) * spread };
  }
}
