/** The report of the scale scenario and the DynamoDB requests per call. */
import { describe, expect, it } from 'vitest';
import { assessTargets, formatMostDeferrals, formatScale, formatTable } from '#bench/report.ts';
import type { ScenarioResult } from '#bench/result.ts';

function result(overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    name: 'scale 10k',
    system: 'sync',
    workers: 16,
    foreignShare: 0,
    users: 3,
    minimumCalls: 6_000,
    calls: 6_000,
    rateLimited: 0,
    callsByRoute: {},
    utilisation: {
      mean: 0.98,
      p5: 0.97,
      shareMean: 0.98,
      shareP5: 0.97,
      samples: 10,
      from: 0,
      to: 1,
    },
    peaks: { offered: 0.99 } as ScenarioResult['peaks'],
    dynamo: {
      byOperation: {},
      writes: 7_200,
      conditionalFailures: 0,
      requests: 30_000,
      writesByItem: {},
      conditionalFailuresByItem: {},
      readsByItem: {},
    },
    live: { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, latenciesMs: [] },
    timeline: { start: 0, ownOk: [], own429: [], foreignOk: [] },
    clientPhaseAtS: 1,
    durationMs: 104_000,
    complete: true,
    failures: 0,
    retries: 0,
    deferrals: {},
    ...overrides,
  };
}

const scale = {
  limit: 600,
  windowMs: 10_000,
  floorMs: 100_000,
  rate: 6_000 / (0.06 * 104_000),
  peakRssMb: { 'sync-user': [120, 150, 180] },
  phaseSeenAtMs: { planning: 200, providers: 3_400 },
  firstImportAppliedAtMs: 4_600,
  initialSyncNiceness: [19, 19],
  cpu: { busy: [0.99, 0.98, 0.7, 0.72, 0.74, 0.5], steal: [0, 0.08, 0, 0, 0, 0] },
  switchMs: { lastProviderApplied: 20_100, firstClientApplied: 21_900, clientsQueued: 30_250 },
  stackStartMs: 9_000,
  warmWorkers: 33,
  shortfall: {
    steadyPerSecond: 59,
    start: { seconds: 5, calls: 229 },
    switchToClients: { from: 20, seconds: 3, calls: 66 },
    elsewhere: { seconds: 7, calls: 95 },
  },
};

describe('the report of the scale scenario', () => {
  it('judges the whole-run rate and the time against the floor', () => {
    const verdicts = assessTargets([result({ scale })]);
    const of = (start: string) => verdicts.find((v) => v.target.startsWith(start));
    // 104 s for a 100 s floor: 4 % over (missed), a rate of 0.9615 (missed).
    expect(of('time ≤ 1.03 × floor')).toMatchObject({ met: false });
    expect(of('time ≤ 1.03 × floor')?.detail).toContain('1.0400');
    expect(of('rate ≥ 0.97 × limit from first publish')).toMatchObject({ met: false });
    const fast = assessTargets([result({ scale, durationMs: 102_000 })]);
    expect(fast.find((v) => v.target.startsWith('time ≤'))).toMatchObject({ met: true });
  });

  it('judges DynamoDB requests per call, and shows them in the table', () => {
    const verdicts = assessTargets([result({ scale })]);
    expect(verdicts.find((v) => v.target.startsWith('DynamoDB requests per call'))).toMatchObject({
      met: false,
      detail: '5.00 — missed by 1.00',
    });
    expect(formatTable([result()])).toContain('| 1.20 | 5.00 |');
  });

  it('prints the peak RSS per worker by function', () => {
    expect(formatScale([result({ scale })])).toContain('sync-user 3 × (max 180, median 150 MiB)');
    expect(formatScale([result({ scale })])).toContain(
      '33 workers started warm with the stack in 9.00 s (initial-sync at niceness 19, 19); after the first publish: planning seen at 0.20 s, providers seen at 3.40 s, first import record applied at 4.60 s',
    );
    expect(formatScale([result()])).toBeUndefined();
  });

  it('prints where the switch to clients spent its time, a phase never seen as a dash', () => {
    const withClients = { ...scale, phaseSeenAtMs: { ...scale.phaseSeenAtMs, clients: 20_600 } };
    expect(formatScale([result({ scale: withClients })])).toContain(
      'the switch to clients: last provider applied at 20.10 s, client phase seen at 20.60 s, first client applied at 21.90 s, every client queued by 30.25 s',
    );
    expect(formatScale([result({ scale })])).toContain('client phase seen at —,');
  });

  it('prints where the calls short of the steady rate went', () => {
    expect(formatScale([result({ scale })])).toContain(
      'calls short of a steady 59 per second, in seconds below 95 % of it counted from the first call: 229 at the start (seconds 0–4), 66 at the switch to clients (seconds 20–22), 95 in 7 other seconds',
    );
    const noSwitch = {
      ...scale,
      shortfall: { ...scale.shortfall, switchToClients: { from: 0, seconds: 0, calls: 0 } },
    };
    expect(formatScale([result({ scale: noSwitch })])).toContain('none at the switch to clients');
    const oneSecond = {
      ...scale,
      shortfall: { ...scale.shortfall, switchToClients: { from: 21, seconds: 1, calls: 9 } },
    };
    expect(formatScale([result({ scale: oneSecond })])).toContain(
      '9 at the switch to clients (second 21)',
    );
  });

  it("prints the machine's CPU in the seconds that dipped against the others", () => {
    // Steady 59 (the median of the full seconds); seconds 0 and 1 dip; the last is partial.
    const timeline = { start: 0, ownOk: [10, 20, 59, 59, 60, 5], own429: [], foreignOk: [] };
    expect(formatScale([result({ scale, timeline })])).toContain(
      "the machine's CPU busy (median of seconds) 98.0 % in those seconds, 72.0 % in the others; steal above 5 % in 1 seconds",
    );
  });

  it('prints the most deferrals of one message against the receive limit', () => {
    expect(formatMostDeferrals([result({ mostDeferralsOfOneEvent: 7 })])).toBe(
      'scale 10k: most deferrals of one message 7 (dead-lettered at 30 receives)',
    );
    expect(formatMostDeferrals([result()])).toBeUndefined();
  });
});
