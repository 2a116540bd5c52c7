/** The consumer runs fewer records at once while records wait for limiter slots. */
import { describe, expect, it } from 'vitest';
import { AdaptiveParallelism, MIN_RECORDS_IN_PARALLEL } from '#lib/limiter/parallelism.ts';

describe('AdaptiveParallelism', () => {
  it('starts at the least, steps up after clean runs and back down after deferrals for slots', () => {
    const parallelism = new AdaptiveParallelism(4);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL);
    expect(parallelism.atMinimum).toBe(true);
    for (let i = 0; i < 5; i += 1) parallelism.settle(false, 10);
    expect(parallelism.current).toBe(4);
    expect(parallelism.atMinimum).toBe(false);
    for (let i = 0; i < 5; i += 1) parallelism.settle(true, 10);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL);
    expect(parallelism.atMinimum).toBe(true);
    parallelism.settle(false, 10);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL + 1);
    expect(parallelism.atMinimum).toBe(false);
    for (let i = 0; i < 5; i += 1) parallelism.settle(false, 10);
    expect(parallelism.current).toBe(4);
  });

  it('steps up only after an invocation that had more records than it ran at once', () => {
    const parallelism = new AdaptiveParallelism(5);
    parallelism.settle(false, MIN_RECORDS_IN_PARALLEL);
    parallelism.settle(false, 1);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL);
    parallelism.settle(false, MIN_RECORDS_IN_PARALLEL + 1);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL + 1);
    // A deferral steps down whatever the batch.
    parallelism.settle(true, 1);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL);
  });

  it('never runs more than its most, also below the usual least', () => {
    const one = new AdaptiveParallelism(1);
    one.settle(true, 10);
    expect(one.current).toBe(1);
    one.settle(false, 10);
    expect(one.current).toBe(1);
  });
});
