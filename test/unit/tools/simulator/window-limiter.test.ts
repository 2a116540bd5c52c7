import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createWindowLimiter, peakInWindow } from '#tools/simulator/window-limiter.ts';

const LIMIT = 3;
const WINDOW = 1000;

function limiter(mode: 'sliding' | 'fixed' | 'token-bucket', count429s = false, clockAt = 0) {
  let now = clockAt;
  const instance = createWindowLimiter(
    { mode, limit: LIMIT, windowMs: WINDOW, count429s },
    () => now,
  );
  return {
    instance,
    at(time: number) {
      now = time;
      return instance.tryAcquire();
    },
  };
}

describe('sliding log limiter', () => {
  it('admits the limit, then rejects until the oldest arrival leaves the window', () => {
    const { at } = limiter('sliding');
    expect([at(0), at(10), at(20)].every((d) => d.allowed)).toBe(true);
    expect(at(500)).toEqual({ allowed: false, retryAfterMs: 500 });
    expect(at(999).allowed).toBe(false);
    expect(at(1000).allowed).toBe(true);
    expect(at(1005).allowed).toBe(false);
    expect(at(1010).allowed).toBe(true);
  });

  it('counts rejected arrivals when count429s is on, extending the lockout', () => {
    const { at } = limiter('sliding', true);
    for (let i = 0; i < LIMIT; i += 1) at(0);
    for (let i = 0; i < LIMIT; i += 1) expect(at(600).allowed).toBe(false);
    // The admitted ones have left the window, the rejected ones at 600 still fill it.
    expect(at(1000).allowed).toBe(false);
    expect(at(1600).allowed).toBe(true);
  });

  it('never has more than the limit admitted in any window, for any arrival times', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 200 }),
        fc.boolean(),
        (gaps, count429s) => {
          const { at } = limiter('sliding', count429s);
          let time = 0;
          const admitted: number[] = [];
          for (const gap of gaps) {
            time += gap;
            if (at(time).allowed) admitted.push(time);
          }
          expect(peakInWindow(admitted, WINDOW)).toBeLessThanOrEqual(LIMIT);
        },
      ),
    );
  });

  it('tells a rejected caller exactly when the next arrival would be admitted', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 60 }), (gaps) => {
        const times = gaps.map((_, i) => gaps.slice(0, i + 1).reduce((a, b) => a + b, 0));
        const replay = (count: number) => {
          const copy = limiter('sliding');
          for (const time of times.slice(0, count)) copy.at(time);
          return copy;
        };
        const probe = limiter('sliding');
        const rejectedAt = times.findIndex((time) => !probe.at(time).allowed);
        if (rejectedAt < 0) return;
        const decision = replay(rejectedAt).at(times[rejectedAt]!);
        if (decision.allowed) throw new Error('replay differs');
        const retryAt = times[rejectedAt]! + decision.retryAfterMs;
        expect(replay(rejectedAt).at(retryAt).allowed).toBe(true);
        expect(replay(rejectedAt).at(retryAt - 1).allowed).toBe(false);
      }),
    );
  });
});

describe('fixed window limiter', () => {
  it('resets at each clock-aligned boundary, so up to twice the limit fits around one', () => {
    const { at } = limiter('fixed');
    const before = [at(900), at(950), at(999)];
    const after = [at(1000), at(1001), at(1002)];
    expect([...before, ...after].every((d) => d.allowed)).toBe(true);
    expect(peakInWindow([900, 950, 999, 1000, 1001, 1002], WINDOW)).toBe(2 * LIMIT);
    expect(at(1003)).toEqual({ allowed: false, retryAfterMs: 997 });
  });

  it('with count429s, rejected arrivals still count within their window only', () => {
    const { at } = limiter('fixed', true);
    at(0);
    at(1);
    at(2);
    expect(at(3).allowed).toBe(false);
    expect(at(1000).allowed).toBe(true);
  });
});

describe('token bucket limiter', () => {
  it('starts full, then refills at limit per window', () => {
    const { at } = limiter('token-bucket');
    expect([at(0), at(0), at(0)].every((d) => d.allowed)).toBe(true);
    const rejected = at(0);
    expect(rejected.allowed).toBe(false);
    expect(rejected.allowed ? 0 : rejected.retryAfterMs).toBeCloseTo(WINDOW / LIMIT);
    expect(at(WINDOW / LIMIT).allowed).toBe(true);
    expect(at(WINDOW / LIMIT).allowed).toBe(false);
  });

  it('admits up to twice the limit in one window after an idle period (burst then refill)', () => {
    const { at } = limiter('token-bucket');
    let admitted = 0;
    for (let time = 0; time < WINDOW; time += 10) if (at(time).allowed) admitted += 1;
    expect(admitted).toBeGreaterThan(LIMIT);
  });

  it('with count429s, hammering goes into debt and delays recovery', () => {
    const plain = limiter('token-bucket');
    const counting = limiter('token-bucket', true);
    for (const l of [plain, counting]) for (let i = 0; i < 6; i += 1) l.at(0);
    expect(plain.at(WINDOW / LIMIT).allowed).toBe(true);
    expect(counting.at(WINDOW / LIMIT).allowed).toBe(false);
  });
});

describe('peakInWindow', () => {
  it('counts arrivals in spans shorter than the window', () => {
    expect(peakInWindow([], WINDOW)).toBe(0);
    expect(peakInWindow([0, 999], WINDOW)).toBe(2);
    expect(peakInWindow([0, 1000], WINDOW)).toBe(1);
    expect(peakInWindow([0, 10, 20, 1015, 1016], WINDOW)).toBe(3);
  });
});
