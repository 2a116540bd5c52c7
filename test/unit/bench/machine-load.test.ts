import { describe, expect, it } from 'vitest';
import { cpuInDips, cpuPerSecond, parseProcStat } from '#bench/machine-load.ts';

const STAT = `cpu  100 5 20 800 10 3 2 60 7 0
cpu0 50 2 10 400 5 1 1 30 3 0
intr 1 2 3
`;

describe('the machine load from /proc/stat', () => {
  it('reads busy, stolen and total ticks from the cpu line (guest time already in user)', () => {
    expect(parseProcStat(STAT, 5)).toEqual({ atMs: 5, busy: 130, steal: 60, total: 1_000 });
    expect(parseProcStat('intr 1 2 3\n', 5)).toBeUndefined();
    expect(parseProcStat('cpu  1 2 x\n', 5)).toBeUndefined();
  });

  it('buckets the intervals between samples into seconds from the start, by their end', () => {
    const at = (atMs: number, busy: number, steal: number, total: number) => ({
      atMs,
      busy,
      steal,
      total,
    });
    const samples = [
      at(900, 0, 0, 0),
      at(1_200, 50, 0, 100),
      at(1_700, 150, 10, 200),
      at(3_100, 160, 10, 300),
      at(9_000, 999, 0, 9_999),
    ];
    const cpu = cpuPerSecond(samples, 1_000, 3);
    // Second 0: two intervals, 150 busy of 200; second 1: none; second 2: 10 of 100.
    expect(cpu.busy[0]).toBeCloseTo(0.75);
    expect(cpu.steal[0]).toBeCloseTo(0.05);
    expect(cpu.busy[1]).toBeNaN();
    expect(cpu.busy[2]).toBeCloseTo(0.1);
    expect(cpu.busy).toHaveLength(3);
  });

  it('compares the dips with the other seconds and counts notable steal', () => {
    const cpu = { busy: [1, 0.9, 0.5, Number.NaN, 0.6], steal: [0.2, 0.05, 0, 0, 0.06] };
    expect(cpuInDips(cpu, (second) => second < 2)).toEqual({
      dipBusyMedian: 0.9,
      otherBusyMedian: 0.5,
      stealSeconds: 2,
    });
  });
});
