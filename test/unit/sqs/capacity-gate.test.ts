import { describe, expect, it } from 'vitest';
import { CapacityGate, SHORTEST_DEFERRAL_MS, SIT_OUT_SPREAD } from '#lib/sqs/capacity-gate.ts';

const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:imports.fifo';
const OTHER = 'arn:aws:sqs:us-east-1:000000000000:user-events.fifo';

describe('CapacityGate', () => {
  it('lets every record run until a deferral for want of a slot', () => {
    expect(new CapacityGate().admit(QUEUE, 1_000)).toEqual({ action: 'run' });
  });

  it('holds back records of the deferred queue until the slot is expected, and no other queue', () => {
    const gate = new CapacityGate();
    gate.refused(QUEUE, 1_000, 600, false);
    expect(gate.admit(QUEUE, 1_100)).toEqual({ action: 'wait', ms: 500 });
    expect(gate.admit(OTHER, 1_100)).toEqual({ action: 'run' });
    expect(gate.admit(QUEUE, 1_600)).toEqual({ action: 'run' });
  });

  it('defers unread when the slot is further off than a deferral brings a record back', () => {
    const gate = new CapacityGate();
    gate.refused(QUEUE, 0, SHORTEST_DEFERRAL_MS + 500, false);
    expect(gate.admit(QUEUE, 0)).toEqual({ action: 'defer', ms: SHORTEST_DEFERRAL_MS + 500 });
    expect(gate.admit(QUEUE, 501)).toEqual({ action: 'wait', ms: SHORTEST_DEFERRAL_MS - 1 });
  });

  it('keeps the later of two closures', () => {
    const gate = new CapacityGate();
    gate.refused(QUEUE, 0, 900, false);
    gate.refused(QUEUE, 100, 200, false);
    expect(gate.admit(QUEUE, 400)).toEqual({ action: 'wait', ms: 500 });
  });

  it('sits out a refusal at a single record for a random length around the sit-out, in-process', () => {
    const sitOutMs = 1_000;
    const shortest = new CapacityGate({ sitOutMs, random: () => 0 });
    const longest = new CapacityGate({ sitOutMs, random: () => 0.999_999 });
    shortest.refused(QUEUE, 0, 100, true);
    longest.refused(QUEUE, 0, 100, true);
    const low = (1 - SIT_OUT_SPREAD) * sitOutMs;
    expect(shortest.admit(QUEUE, 0)).toEqual({ action: 'wait', ms: low });
    expect(shortest.admit(QUEUE, low)).toEqual({ action: 'run' });
    const high = longest.admit(QUEUE, 0);
    expect(high.action).toBe('wait');
    expect(high.action !== 'run' && high.ms).toBeCloseTo((1 + SIT_OUT_SPREAD) * sitOutMs, 0);
  });

  it('keeps a closure longer than the sit-out (a pause), and defers unread beyond the longest', () => {
    const gate = new CapacityGate({ sitOutMs: 1_000, random: () => 0.5 });
    gate.refused(QUEUE, 0, 5_000, true);
    expect(gate.admit(QUEUE, 0)).toEqual({ action: 'defer', ms: 5_000 });
    expect(gate.admit(QUEUE, 4_000)).toEqual({ action: 'wait', ms: 1_000 });
  });

  it('closes only until the slot for a refusal that does not sit out', () => {
    const gate = new CapacityGate({ sitOutMs: 1_000 });
    gate.refused(QUEUE, 0, 100, false);
    expect(gate.admit(QUEUE, 100)).toEqual({ action: 'run' });
  });
});
