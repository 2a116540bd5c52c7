import { afterEach, describe, expect, it } from 'vitest';
import { FaultInjector } from '#tools/simulator/faults.ts';
import { FaultOptionsSchema } from '#tools/simulator/options.ts';
import { mulberry32 } from '#tools/simulator/prng.ts';
import { type Simulator, startSimulator } from '#tools/simulator/server.ts';
import { call, providerBody, waitFor } from './http.ts';

let sim: Simulator | undefined;

afterEach(async () => {
  await sim?.stop();
  sim = undefined;
});

/** Status of each of `count` sequential checks, `failed` when the connection broke. */
async function statusSequence(simulator: Simulator, count: number): Promise<(number | 'failed')[]> {
  const statuses: (number | 'failed')[] = [];
  for (let i = 0; i < count; i += 1) {
    try {
      statuses.push((await call(simulator, 'POST', '/users/check', { email: 'a@b.test' })).status);
    } catch {
      statuses.push('failed');
    }
  }
  return statuses;
}

describe('mulberry32', () => {
  it('yields the same numbers in [0, 1) for the same seed and different ones for another', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const first = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(first);
    expect(Array.from({ length: 5 }, c)).not.toEqual(first);
    expect(first.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('FaultInjector', () => {
  it('draws each fault with roughly its probability and latency within bounds', () => {
    const injector = new FaultInjector(
      FaultOptionsSchema.parse({
        seed: 7,
        serverError: 0.2,
        hang: 0.1,
        latencyMs: { min: 5, max: 9 },
      }),
    );
    const draws = Array.from({ length: 5000 }, () => injector.draw());
    const share = (fault: string) =>
      draws.filter((draw) => draw.fault === fault).length / draws.length;
    expect(share('serverError')).toBeGreaterThan(0.17);
    expect(share('serverError')).toBeLessThan(0.23);
    expect(share('hang')).toBeGreaterThan(0.08);
    expect(share('hang')).toBeLessThan(0.12);
    expect(share('reset')).toBe(0);
    expect(draws.every((draw) => draw.latencyMs >= 5 && draw.latencyMs <= 9)).toBe(true);
  });
});

describe('fault injection over HTTP', () => {
  it('is reproducible: the same seed gives the same faults, another seed others', async () => {
    const faults = { seed: 99, serverError: 0.3, reset: 0.2 };
    sim = await startSimulator({ faults });
    const first = await statusSequence(sim, 30);
    sim.reset();
    const again = await statusSequence(sim, 30);
    sim.setFaults({ seed: 100 });
    const other = await statusSequence(sim, 30);
    expect(first).toContain(500);
    expect(first).toContain('failed');
    expect(first).toContain(200);
    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
  });

  it('answers 500 without effect on a server error', async () => {
    sim = await startSimulator({ faults: { serverError: 1 } });
    expect((await call(sim, 'POST', '/users/providers', providerBody(1))).status).toBe(500);
    expect(sim.users()).toEqual([]);
    expect(sim.stats().byRoute.createProvider).toEqual({ 500: 1 });
  });

  it('creates the user but answers 500 on created-but-failed', async () => {
    sim = await startSimulator({ faults: { createdButFailed: 1 } });
    expect((await call(sim, 'POST', '/users/providers', providerBody(1))).status).toBe(500);
    expect(sim.users()).toHaveLength(1);
    sim.setFaults({ createdButFailed: 0 });
    const check = await call(sim, 'POST', '/users/check', { email: 'provider1@example.test' });
    expect(check.body.isUserExists).toBe(true);
  });

  it('resets the connection without an answer', async () => {
    sim = await startSimulator({ faults: { reset: 1 } });
    await expect(call(sim, 'POST', '/users/check', { email: 'a@b.test' })).rejects.toThrow();
    expect(sim.stats().byRoute.check).toEqual({ reset: 1 });
  });

  it('hangs until the client gives up, and stop() still closes the server', async () => {
    const simulator = await startSimulator({ faults: { hang: 1 } });
    const hung = call(
      simulator,
      'POST',
      '/users/check',
      { email: 'a@b.test' },
      {
        signal: AbortSignal.timeout(200),
      },
    );
    await expect(hung).rejects.toThrow();
    // A second hung request still open while stopping.
    const open = call(simulator, 'POST', '/users/check', { email: 'a@b.test' }).catch(
      (error: unknown) => error,
    );
    await waitFor(() => simulator.stats().byRoute.check?.hang === 2);
    await simulator.stop();
    expect(await open).toBeInstanceOf(Error);
    expect(simulator.stats().byRoute.check).toEqual({ hang: 2 });
  });

  it('stops promptly while requests wait out added latency', async () => {
    const simulator = await startSimulator({ faults: { latencyMs: { min: 60_000, max: 60_000 } } });
    const slow = call(simulator, 'POST', '/users/check', { email: 'a@b.test' }).catch(
      (error: unknown) => error,
    );
    await waitFor(() => simulator.stats().totalCalls === 1);
    await simulator.stop();
    expect(await slow).toBeInstanceOf(Error);
  });

  it('adds latency drawn within the configured bounds', async () => {
    sim = await startSimulator({ faults: { latencyMs: { min: 80, max: 100 } } });
    const started = performance.now();
    expect((await call(sim, 'POST', '/users/check', { email: 'a@b.test' })).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(79);
  });

  it('merges latency bounds field by field and rejects max below min', async () => {
    sim = await startSimulator({ faults: { latencyMs: { min: 5, max: 10 } } });
    expect(sim.setFaults({ latencyMs: { max: 20 } }).latencyMs).toEqual({ min: 5, max: 20 });
    expect(() => sim!.setFaults({ latencyMs: { max: 1 } })).toThrow(/faults\.latencyMs\.max/);
    expect(sim.options().faults.latencyMs).toEqual({ min: 5, max: 20 });
  });

  it('changes faults at runtime over HTTP', async () => {
    sim = await startSimulator();
    const set = await call(sim, 'PUT', '/__sim/faults', { serverError: 1 });
    expect(set).toMatchObject({ status: 200, body: { serverError: 1, seed: 1 } });
    expect((await call(sim, 'POST', '/users/check', { email: 'a@b.test' })).status).toBe(500);
    await call(sim, 'PUT', '/__sim/faults', { serverError: 0 });
    expect((await call(sim, 'POST', '/users/check', { email: 'a@b.test' })).status).toBe(200);
  });
});

describe('outage switch', () => {
  it('answers every Upheal route 503 without effect while unavailable, then answers again', async () => {
    sim = await startSimulator();
    const set = await call(sim, 'PUT', '/__sim/outage', { mode: 'unavailable' });
    expect(set).toMatchObject({ status: 200, body: { mode: 'unavailable' } });
    expect((await call(sim, 'POST', '/users/providers', providerBody(1))).status).toBe(503);
    expect((await call(sim, 'POST', '/users/check', { email: 'a@b.test' })).status).toBe(503);
    expect(sim.users()).toEqual([]);
    // An outage answers in front of the rate limit: nothing counted against the key.
    expect(sim.stats()).toMatchObject({ totalCalls: 2, admitted: 0, rateLimited: 0 });
    await call(sim, 'PUT', '/__sim/outage', { mode: 'none' });
    expect((await call(sim, 'POST', '/users/providers', providerBody(1))).status).toBe(200);
  });

  it('refuses the API key with 401 while unauthorized', async () => {
    sim = await startSimulator();
    expect(sim.setOutage('unauthorized')).toBe('unauthorized');
    expect((await call(sim, 'POST', '/users/check', { email: 'a@b.test' })).status).toBe(401);
    sim.setOutage('none');
    expect((await call(sim, 'POST', '/users/check', { email: 'a@b.test' })).status).toBe(200);
  });

  it('refuses an unknown outage mode, naming the field', async () => {
    sim = await startSimulator();
    const answer = await call(sim, 'PUT', '/__sim/outage', { mode: 'down' });
    expect(answer.status).toBe(400);
    expect(JSON.stringify(answer.body)).toMatch(/outage\.mode/);
    expect(sim.options().outage).toBe('none');
  });
});
