import { describe, expect, it } from 'vitest';
import { plotFileName, renderScenarioSvg } from '#bench/plot.ts';
import type { ScenarioResult } from '#bench/result.ts';

const settings = { limitPerSecond: 30, liveIntervalMs: 500 };

function result(overrides: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    name: 'sync W=4 foreign',
    system: 'sync',
    workers: 4,
    foreignShare: 0.3,
    users: 3,
    minimumCalls: 6,
    calls: 75,
    rateLimited: 3,
    callsByRoute: {},
    utilisation: undefined,
    peaks: { offered: 0.9 } as ScenarioResult['peaks'],
    dynamo: undefined,
    live: { count: 3, p50: 300, p99: 7000, max: 7000, latenciesMs: [200, 300, 7000] },
    timeline: { start: 0, ownOk: [20, 28, 24], own429: [0, 3, 0], foreignOk: [9, 9, 9] },
    clientPhaseAtS: 1,
    durationMs: 3000,
    complete: true,
    failures: 0,
    retries: 0,
    deferrals: {},
    ...overrides,
  };
}

describe('renderScenarioSvg', () => {
  it('draws one 429 mark per second that had 429s, and the limit line at the limit rate', () => {
    const svg = renderScenarioSvg(result(), settings);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.match(/class="429"/g)).toHaveLength(1);
    expect(svg).toContain('class="limit"');
    expect(svg).toContain('limit 30/s');
  });

  it('plots every live latency as a point and states p50 and p99', () => {
    const svg = renderScenarioSvg(result(), settings);
    const points = /class="latency" points="([^"]+)"/.exec(svg)?.[1]?.split(' ');
    expect(points).toHaveLength(3);
    expect(svg).toContain('p50 0.30 s, p99 7.00 s');
  });

  it('says so when no live event was published, and escapes the title', () => {
    const svg = renderScenarioSvg(
      result({
        name: 'a<b',
        live: { count: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN, latenciesMs: [] },
      }),
      settings,
    );
    expect(svg).toContain('none published');
    expect(svg).not.toContain('class="latency"');
    expect(svg).toContain('<title>a&#60;b');
  });
});

describe('plotFileName', () => {
  it('turns a scenario name into a file name', () => {
    expect(plotFileName('sync W=4 foreign')).toBe('sync-w4-foreign.svg');
    expect(plotFileName('re-run (sync W=4)')).toBe('re-run-sync-w4.svg');
  });
});
