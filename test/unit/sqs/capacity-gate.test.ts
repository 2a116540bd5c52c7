import { describe, expect, it } from 'vitest';
import { CapacityGate, SHORTEST_DEFERRAL_MS } from '#lib/sqs/capacity-gate.ts';

const QUEUE = 'arn:aws:sqs:us-east-1:000000000000:imports.fifo';
const OTHER = 'arn:aws:sqs:us-east-1:000000000000:user-events.fifo';

describe('CapacityGate', () => {
  it('lets every record run until a deferral for want of a slot', () => {
    expect(new CapacityGate().admit(QUEUE, 1_000)).toEqual({ action: 'run' });
  });

  it('holds back records of the deferred queue until the slot is expected, and no other queue', () => {
    const gate = new CapacityGate();
    gate.deferred(QUEUE, 1_000, 600);
    expect(gate.admit(QUEUE, 1_100)).toEqual({ action: 'wait', ms: 500 });
    expect(gate.admit(OTHER, 1_100)).toEqual({ action: 'run' });
    expect(gate.admit(QUEUE, 1_600)).toEqual({ action: 'run' });
  });

  it('defers unread when the slot is further off than a deferral brings a record back', () => {
    const gate = new CapacityGate();
    gate.deferred(QUEUE, 0, SHORTEST_DEFERRAL_MS + 500);
    expect(gate.admit(QUEUE, 0)).toEqual({ action: 'defer', ms: SHORTEST_DEFERRAL_MS + 500 });
    expect(gate.admit(QUEUE, 501)).toEqual({ action: 'wait', ms: SHORTEST_DEFERRAL_MS - 1 });
  });

  it('keeps the later of two closures', () => {
    const gate = new CapacityGate();
    gate.deferred(QUEUE, 0, 900);
    gate.deferred(QUEUE, 100, 200);
    expect(gate.admit(QUEUE, 400)).toEqual({ action: 'wait', ms: 500 });
  });
});
