import { describe, expect, it } from 'vitest';
import { shortfall } from '../../../bench/metrics.ts';

/** `count` seconds at `rate` calls. */
const steady = (count: number, rate = 60): number[] => Array.from({ length: count }, () => rate);

describe('shortfall (where a run lost its calls)', () => {
  it('splits the calls short of the steady rate into the start, the switch and the rest', () => {
    const perSecond = [
      ...[3, 9, 30], // the start: 57 + 51 + 30 short
      ...steady(10),
      ...[40, 20], // the switch, the client phase seen in second 14: 20 + 40 short
      ...steady(10),
      50, // a dip elsewhere: 10 short
      ...steady(5),
      58, // within the noise: not a dip
      ...steady(5),
      12, // the last second is partial: never counted
    ];
    const result = shortfall(perSecond, 14.3);
    expect(result.steadyPerSecond).toBe(60);
    expect(result.start).toEqual({ seconds: 3, calls: 138 });
    expect(result.switchToClients).toEqual({ from: 13, seconds: 2, calls: 60 });
    expect(result.elsewhere).toEqual({ seconds: 1, calls: 10 });
  });

  it('reports no switch when the seconds around the client phase are at the steady rate', () => {
    const perSecond = [...steady(8), 30, ...steady(20), 60];
    const result = shortfall(perSecond, 20);
    expect(result.start).toEqual({ seconds: 0, calls: 0 });
    expect(result.switchToClients.calls).toBe(0);
    expect(result.switchToClients.seconds).toBe(0);
    expect(result.elsewhere).toEqual({ seconds: 1, calls: 30 });
  });

  it('takes the whole run of dips around the client phase, also where it began seconds before', () => {
    const perSecond = [...steady(10), 50, 40, 30, 20, 10, ...steady(10), 1];
    const result = shortfall(perSecond, 14.3);
    expect(result.switchToClients).toEqual({ from: 10, seconds: 5, calls: 150 });
    expect(result.elsewhere).toEqual({ seconds: 0, calls: 0 });
  });

  it('takes the dip nearest the client phase for the switch, not an earlier one', () => {
    const perSecond = [...steady(12), 30, 60, 60, 20, ...steady(10), 1];
    const result = shortfall(perSecond, 14.5);
    expect(result.switchToClients).toEqual({ from: 15, seconds: 1, calls: 40 });
    expect(result.elsewhere).toEqual({ seconds: 1, calls: 30 });
  });

  it('counts every dip after the start elsewhere when the client phase was not seen', () => {
    const perSecond = [10, ...steady(5), 30, ...steady(5), 1];
    const result = shortfall(perSecond, undefined);
    expect(result.start).toEqual({ seconds: 1, calls: 50 });
    expect(result.switchToClients.seconds).toBe(0);
    expect(result.elsewhere).toEqual({ seconds: 1, calls: 30 });
  });

  it('does not take a dip that is part of the start for the switch', () => {
    const perSecond = [5, 10, 20, ...steady(20), 1];
    const result = shortfall(perSecond, 1);
    expect(result.start.seconds).toBe(3);
    expect(result.switchToClients.seconds).toBe(0);
    expect(result.elsewhere.calls).toBe(0);
  });
});
