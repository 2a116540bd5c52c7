import { describe, expect, it } from 'vitest';
import { RateLimitOptionsSchema } from '#tools/simulator/options.ts';
import { Traffic } from '#tools/simulator/traffic.ts';

function traffic(options: Record<string, unknown>, keys = 1) {
  let now = 0;
  const instance = new Traffic(RateLimitOptionsSchema.parse(options), keys, () => now);
  return {
    instance,
    advance(to: number) {
      now = to;
    },
  };
}

describe('Traffic', () => {
  it('spreads the foreign client evenly: share × limit arrivals per window', () => {
    const { instance, advance } = traffic({ limit: 10, windowMs: 1000, foreignShare: 0.3 });
    advance(3000);
    const log = instance.arrivals();
    expect(log).toHaveLength(9);
    expect(log.every((arrival) => arrival.foreign && arrival.admitted && arrival.key === 0)).toBe(
      true,
    );
    const gaps = log.slice(1).map((arrival, i) => arrival.at - log[i]!.at);
    for (const gap of gaps) expect(gap).toBeCloseTo(1000 / 3);
  });

  it('lets foreign arrivals and real ones compete in time order at the same limiter', () => {
    const { instance, advance } = traffic({ limit: 4, windowMs: 1000, foreignShare: 0.5 });
    // Foreign arrivals at 250 and 750 in the first window.
    advance(900);
    const decisions = [1, 2, 3].map(() => instance.arrive(0, 'check', 900).decision.allowed);
    expect(decisions).toEqual([true, true, false]);
    const stats = instance.stats();
    expect(stats).toMatchObject({
      foreignArrivals: 2,
      admitted: 2,
      rateLimited: 1,
      peakInWindow: 4,
    });
    expect(stats.peakOwnInWindow).toBe(2);
  });

  it('gives the foreign client 429s when real clients hold the budget', () => {
    const { instance, advance } = traffic({ limit: 2, windowMs: 1000, foreignShare: 0.5 });
    instance.arrive(0, 'check', 0);
    instance.arrive(0, 'check', 0);
    advance(999);
    expect(instance.stats()).toMatchObject({ foreignArrivals: 1, foreignRateLimited: 1 });
  });

  it('counts answers per route and status, and unauthenticated calls outside every limiter', () => {
    const { instance } = traffic({ limit: 1, windowMs: 1000 });
    const first = instance.arrive(0, 'check', 1);
    instance.answer(first.arrival, 200);
    const second = instance.arrive(0, 'check', 2);
    instance.answer(second.arrival, 429);
    const anonymous = instance.arriveUnauthenticated('check', 3);
    instance.answer(anonymous, 401);
    expect(instance.stats()).toMatchObject({
      totalCalls: 3,
      byRoute: { check: { 200: 1, 401: 1, 429: 1 } },
      admitted: 1,
      rateLimited: 1,
      arrivals: 3,
      firstArrivalAt: 1,
      lastArrivalAt: 3,
    });
  });

  it('computes stats over the arrivals from a given time on, and leaves in-flight ones out of byRoute', () => {
    const { instance } = traffic({ limit: 5, windowMs: 1000 });
    for (const at of [0, 10, 500, 600])
      instance.answer(instance.arrive(0, 'check', at).arrival, 200);
    instance.arrive(0, 'deleteUser', 700);
    expect(instance.stats(500)).toMatchObject({
      totalCalls: 3,
      admitted: 3,
      byRoute: { check: { 200: 2 } },
      firstArrivalAt: 500,
      peakInWindow: 3,
    });
  });

  it('keeps a limiter per key', () => {
    const { instance } = traffic({ limit: 1, windowMs: 1000 }, 2);
    expect(instance.arrive(0, 'check', 0).decision.allowed).toBe(true);
    expect(instance.arrive(1, 'check', 0).decision.allowed).toBe(true);
    expect(instance.arrive(0, 'check', 0).decision.allowed).toBe(false);
    expect(instance.stats().peakInWindow).toBe(1);
  });

  it('restarts limiters on configure and forgets the log on reset', () => {
    const { instance } = traffic({ limit: 1, windowMs: 1000 });
    instance.arrive(0, 'check', 0);
    instance.configure(RateLimitOptionsSchema.parse({ limit: 1, windowMs: 1000 }));
    expect(instance.arrive(0, 'check', 1).decision.allowed).toBe(true);
    instance.reset();
    expect(instance.stats()).toMatchObject({ arrivals: 0, totalCalls: 0, firstArrivalAt: null });
  });
});
