/**
 * A small seeded PRNG (mulberry32) so fault injection is reproducible: the same seed and the same
 * sequence of requests give the same faults.
 */

/** 2^32, to map a 32-bit integer to [0, 1). */
const UINT32_RANGE = 4_294_967_296;
/** mulberry32's additive constant. */
const INCREMENT = 0x6d2b79f5;

/** Returns a function yielding uniform numbers in [0, 1), fully determined by `seed`. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + INCREMENT) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / UINT32_RANGE;
  };
}
