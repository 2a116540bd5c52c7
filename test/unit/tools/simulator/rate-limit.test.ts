import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { SimulatorOptionsInput } from '#tools/simulator/options.ts';
import { type Simulator, startSimulator } from '#tools/simulator/server.ts';
import type { Arrival } from '#tools/simulator/traffic.ts';
import { burst, call, sleep } from './http.ts';

// Windows are scaled down (research/rate-limiting.md §6.2) so each test runs in about a second.
const LIMIT = 20;
const WINDOW_MS = 500;

let sim: Simulator | undefined;

async function start(rateLimit: SimulatorOptionsInput['rateLimit']): Promise<Simulator> {
  sim = await startSimulator({ rateLimit });
  return sim;
}

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

/** Largest number of counted arrivals in any span shorter than `windowMs`, from the raw log. */
function maxInAnyWindow(arrivals: readonly Arrival[], windowMs: number): number {
  const times = arrivals.filter((arrival) => arrival.counted).map((arrival) => arrival.at);
  let peak = 0;
  for (const [i, start] of times.entries()) {
    let count = 0;
    for (let j = i; j < times.length && times[j]! - start < windowMs; j += 1) count += 1;
    peak = Math.max(peak, count);
  }
  return peak;
}

const admitted = (statuses: number[]) => statuses.filter((status) => status === 200).length;
const rejected = (statuses: number[]) => statuses.filter((status) => status === 429).length;

describe('sliding-log rate limit', () => {
  it('never admits more than the limit in any sliding window under concurrent bursts', async () => {
    const simulator = await start({ limit: LIMIT, windowMs: WINDOW_MS });
    const statuses: number[] = [];
    for (let round = 0; round < 4; round += 1) {
      statuses.push(...(await burst(simulator, 30)));
      await sleep(WINDOW_MS / 2);
    }
    const log = simulator.arrivals();
    expect(log).toHaveLength(120);
    expect(admitted(statuses)).toBeGreaterThan(LIMIT);
    expect(rejected(statuses)).toBeGreaterThan(0);
    expect(maxInAnyWindow(log, WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
    expect(simulator.stats().peakInWindow).toBe(maxInAnyWindow(log, WINDOW_MS));
    expect(simulator.stats().rateLimited).toBe(rejected(statuses));
  });

  it('rejects only when the window before the arrival already holds the limit', async () => {
    const simulator = await start({ limit: LIMIT, windowMs: WINDOW_MS });
    for (let round = 0; round < 3; round += 1) {
      await burst(simulator, 25);
      await sleep(WINDOW_MS / 3);
    }
    const log = simulator.arrivals();
    for (const arrival of log.filter((entry) => entry.status === 429)) {
      const before = log.filter(
        (entry) => entry.counted && entry.at <= arrival.at && entry.at > arrival.at - WINDOW_MS,
      );
      expect(before).toHaveLength(LIMIT);
    }
  });

  it('shares one budget across every /users route and counts per key', async () => {
    const simulator = await startSimulator({
      apiKeys: ['key-a', 'key-b'],
      rateLimit: { limit: 3, windowMs: 10_000 },
    });
    sim = simulator;
    await call(simulator, 'POST', '/users/check', { email: 'a@b.test' }, { key: 'key-a' });
    await call(simulator, 'PUT', '/users/x', {}, { key: 'key-a' });
    await call(simulator, 'DELETE', '/users/x', undefined, { key: 'key-a' });
    expect((await call(simulator, 'POST', '/users/providers', {}, { key: 'key-a' })).status).toBe(
      429,
    );
    expect(
      (await call(simulator, 'POST', '/users/check', { email: 'a@b.test' }, { key: 'key-b' }))
        .status,
    ).toBe(200);
    expect((await call(simulator, 'GET', '/__sim/stats')).status).toBe(200);
  });
});

/** A worker process that sends checks over `concurrency` connections for `durationMs`. */
const WORKER_SCRIPT = `
const [url, durationMs, concurrency] = process.argv.slice(1);
const end = Date.now() + Number(durationMs);
const statuses = {};
async function loop() {
  while (Date.now() < end) {
    const response = await fetch(url + '/users/check', {
      method: 'POST',
      headers: { authorization: 'Bearer local-dev-key', 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'worker@example.test' }),
    });
    await response.text();
    statuses[response.status] = (statuses[response.status] ?? 0) + 1;
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, loop));
process.stdout.write(JSON.stringify(statuses));
`;

describe('rate limit under several client processes', () => {
  it('holds the sliding limit for all of them together, as the shared arrival log shows', async () => {
    const simulator = await start({ limit: LIMIT, windowMs: WINDOW_MS });
    const workers = Array.from({ length: 3 }, () =>
      spawn(
        process.execPath,
        ['--input-type=module', '-e', WORKER_SCRIPT, simulator.url, '1200', '4'],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      ),
    );
    const outputs = await Promise.all(
      workers.map(async (worker) => {
        let text = '';
        worker.stdout.on('data', (chunk) => {
          text += String(chunk);
        });
        const [code] = await once(worker, 'exit');
        expect(code).toBe(0);
        return JSON.parse(text) as Record<string, number>;
      }),
    );
    const ok = outputs.reduce((sum, statuses) => sum + (statuses[200] ?? 0), 0);
    const stats = simulator.stats();
    expect(stats.admitted).toBe(ok);
    expect(stats.rateLimited).toBeGreaterThan(0);
    // Over a second of saturation: the window slid, so more than one window's worth got through.
    expect(ok).toBeGreaterThan(LIMIT);
    expect(stats.peakInWindow).toBeLessThanOrEqual(LIMIT);
    expect(maxInAnyWindow(simulator.arrivals(), WINDOW_MS)).toBeLessThanOrEqual(LIMIT);
  });
});

describe('fixed-window rate limit', () => {
  it('admits up to twice the limit within one window length across a clock boundary', async () => {
    const windowMs = 1000;
    const simulator = await start({ limit: LIMIT, windowMs, mode: 'fixed' });
    // The simulator runs in this process: its clock is this one.
    const now = () => performance.timeOrigin + performance.now();
    const boundary = (Math.floor(now() / windowMs) + 1) * windowMs;
    await sleep(Math.max(0, boundary - now() - 150));
    const before = await burst(simulator, LIMIT);
    // On a loaded machine the first burst may itself reach past the boundary: the second one
    // starts just after the boundary that follows the first burst's last arrival.
    const lastBefore = Math.max(...simulator.arrivals().map((arrival) => arrival.at));
    const next = Math.max(boundary, (Math.floor(lastBefore / windowMs) + 1) * windowMs);
    await sleep(Math.max(0, next - now() + 20));
    const after = await burst(simulator, LIMIT);
    expect(admitted(before) + admitted(after)).toBeGreaterThan(LIMIT);
    const log = simulator.arrivals();
    const perWindow = new Map<number, number>();
    for (const arrival of log.filter((entry) => entry.counted)) {
      const index = Math.floor(arrival.at / windowMs);
      perWindow.set(index, (perWindow.get(index) ?? 0) + 1);
    }
    expect(Math.max(...perWindow.values())).toBeLessThanOrEqual(LIMIT);
    expect(simulator.stats().peakInWindow).toBeGreaterThan(LIMIT);
    expect(simulator.stats().peakInWindow).toBeLessThanOrEqual(2 * LIMIT);
  });
});

describe('token-bucket rate limit', () => {
  it('admits a full bucket at once, then only the slow refill', async () => {
    const simulator = await start({ limit: LIMIT, windowMs: 5000, mode: 'token-bucket' });
    const statuses = await burst(simulator, 30);
    expect(admitted(statuses)).toBeGreaterThanOrEqual(LIMIT);
    // Refill is one token per 250 ms; the burst takes far less than a second.
    expect(admitted(statuses)).toBeLessThanOrEqual(LIMIT + 4);
  });
});

describe('429 answers', () => {
  it('carry no Retry-After by default, or seconds, or an HTTP-date when so configured', async () => {
    const simulator = await start({ limit: 1, windowMs: 2000 });
    const overLimit = async () => {
      await call(simulator, 'POST', '/users/check', { email: 'a@b.test' });
      const answer = await call(simulator, 'POST', '/users/check', { email: 'a@b.test' });
      expect(answer.status).toBe(429);
      return answer.headers.get('retry-after');
    };
    expect(await overLimit()).toBeNull();
    simulator.setRateLimit({ retryAfter: 'seconds' });
    expect(await overLimit()).toBe('2');
    simulator.setRateLimit({ retryAfter: 'http-date' });
    const date = await overLimit();
    const when = Date.parse(date ?? '');
    expect(date).toMatch(/GMT$/);
    expect(when).toBeGreaterThan(Date.now());
    expect(when).toBeLessThanOrEqual(Date.now() + 3000);
  });

  it('count against the limit only when count429s is on', async () => {
    // Long window, so the check below has a wide margin against slow timers on a busy machine.
    const windowMs = 3000;
    const probe = async (count429s: boolean) => {
      const simulator = await startSimulator({ rateLimit: { limit: 5, windowMs, count429s } });
      try {
        await burst(simulator, 5);
        const t0 = performance.now();
        await sleep(windowMs / 3);
        expect(rejected(await burst(simulator, 5))).toBe(5);
        // The admitted burst has left the window; the rejected one has not (for another ~1 s).
        await sleep(Math.max(0, t0 + windowMs + 50 - performance.now()));
        const last = await call(simulator, 'POST', '/users/check', { email: 'a@b.test' });
        const countedRejections = simulator.arrivals().filter((a) => !a.admitted && a.counted);
        return { status: last.status, counted: countedRejections.length };
      } finally {
        await simulator.stop();
      }
    };
    expect(await probe(false)).toEqual({ status: 200, counted: 0 });
    const counting = await probe(true);
    expect(counting.status).toBe(429);
    expect(counting.counted).toBeGreaterThanOrEqual(5);
  });
});

describe('foreign client', () => {
  it('takes roughly its share of the budget, flagged in the arrival log', async () => {
    const windowMs = 1000;
    const simulator = await start({ limit: LIMIT, windowMs, foreignShare: 0.5 });
    const started = performance.now();
    await sleep(windowMs);
    const foreign = simulator.stats().foreignArrivals;
    // One foreign arrival per 100 ms, generated from the clock, not from timers.
    expect(Math.abs(foreign - (performance.now() - started) / 100)).toBeLessThanOrEqual(1.5);
    const statuses = await burst(simulator, LIMIT);
    // The last window already holds ten foreign arrivals: about half the budget is left.
    expect(admitted(statuses)).toBeGreaterThanOrEqual(8);
    expect(admitted(statuses)).toBeLessThanOrEqual(12);
    const stats = simulator.stats();
    expect(stats.peakInWindow).toBeLessThanOrEqual(LIMIT);
    expect(stats.totalCalls).toBe(LIMIT);
    const log = simulator.arrivals();
    expect(log.filter((arrival) => arrival.foreign)).toHaveLength(stats.foreignArrivals);
    expect(log.map((arrival) => arrival.at)).toEqual(
      log.map((arrival) => arrival.at).sort((a, b) => a - b),
    );
  });
});
