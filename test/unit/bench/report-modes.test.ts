/** The import-mode verdicts of the benchmark: each judged against its check-first counterpart. */
import { describe, expect, it } from 'vitest';
import { assessModeTargets } from '#bench/report.ts';
import type { ScenarioResult } from '#bench/result.ts';

function result(overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    name: 'sync W=4',
    system: 'sync',
    workers: 4,
    foreignShare: 0,
    mode: 'check-first',
    preExistingShare: 0.05,
    multiProviderClients: 150,
    users: 800,
    minimumCalls: 1750,
    calls: 1750,
    rateLimited: 0,
    callsByRoute: {},
    utilisation: undefined,
    peaks: { offered: 0.9 } as ScenarioResult['peaks'],
    dynamo: undefined,
    live: { count: 0, p50: 0, p99: 0, max: 0, latenciesMs: [] },
    timeline: { start: 0, ownOk: [], own429: [], foreignOk: [] },
    clientPhaseAtS: 1,
    durationMs: 60_000,
    complete: true,
    failures: 0,
    retries: 0,
    deferrals: {},
    ...overrides,
  };
}

describe('assessModeTargets', () => {
  const checkFirst = result();

  it('judges a fresh create-first import on its calls floor and on time against check-first', () => {
    const fast = result({
      name: 'create-first W=4',
      mode: 'create-first',
      calls: 960,
      durationMs: 32_000,
    });
    const verdicts = assessModeTargets(fast, [checkFirst, fast]);
    expect(verdicts.map((v) => [v.target.replace(/ \(sync.*/, ''), v.met])).toEqual([
      ['calls ≤ 1.05 × (1 per user + 1 per multi-provider client)', true],
      ['time ≤ 0.55 × check-first', true],
    ]);
    const slow = result({ name: 'auto W=4', mode: 'auto', calls: 1000, durationMs: 36_000 });
    const missed = assessModeTargets(slow, [checkFirst, slow]);
    expect(missed.map((v) => v.met)).toEqual([false, false]);
    expect(missed[1]?.detail).toBe('0.600 — missed by 0.050');
  });

  it('judges auto with 30 % existing users against check-first on the same workload', () => {
    const existing = result({ name: 'sync W=4 30 % existing', preExistingShare: 0.3 });
    const auto = result({
      name: 'auto W=4 30 % existing',
      mode: 'auto',
      preExistingShare: 0.3,
      calls: 1400,
      durationMs: 63_600,
    });
    const verdicts = assessModeTargets(auto, [checkFirst, existing, auto]);
    expect(verdicts.map((v) => [v.target, v.met])).toEqual([
      ['time ≤ 1.05 × check-first (sync W=4 30 % existing)', false],
      ['calls ≤ 1.05 × check-first (sync W=4 30 % existing)', true],
    ]);
  });

  it('says so when the counterpart did not run, and judges nothing for check-first', () => {
    const alone = result({ name: 'create-first W=4', mode: 'create-first', calls: 960 });
    expect(assessModeTargets(alone, [alone]).at(-1)).toMatchObject({
      met: false,
      detail: 'not assessed: its check-first counterpart did not run',
    });
    expect(assessModeTargets(checkFirst, [checkFirst])).toEqual([]);
  });
});
