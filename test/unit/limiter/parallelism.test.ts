/** The consumer runs fewer records at once while records wait for limiter slots. */
import { describe, expect, it } from 'vitest';
import {
  AdaptiveParallelism,
  MIN_BULK_RECORDS_IN_PARALLEL,
  MIN_RECORDS_IN_PARALLEL,
  SLOT_OUTCOMES,
} from '#lib/limiter/parallelism.ts';

const { served, refused, refusedBulk } = SLOT_OUTCOMES;
const IMPORT_ONLY = true;
const WITH_LIVE = false;

describe('AdaptiveParallelism', () => {
  it('starts at two, steps up after clean runs and back down to two after live refusals', () => {
    const parallelism = new AdaptiveParallelism(4);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL);
    for (let i = 0; i < 5; i += 1) parallelism.settle(served, 10, IMPORT_ONLY);
    expect(parallelism.current).toBe(4);
    for (let i = 0; i < 5; i += 1) parallelism.settle(refused, 10, WITH_LIVE);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL);
    expect(parallelism.atFewest(WITH_LIVE)).toBe(true);
    expect(parallelism.atFewest(IMPORT_ONLY)).toBe(false);
    parallelism.settle(served, 10, WITH_LIVE);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL + 1);
  });

  it('goes down to one record of import work after bulk refusals, where it is at its fewest', () => {
    const parallelism = new AdaptiveParallelism(5);
    parallelism.settle(served, 10, IMPORT_ONLY);
    expect(parallelism.current).toBe(3);
    parallelism.settle(refusedBulk, 10, IMPORT_ONLY);
    expect(parallelism.current).toBe(2);
    expect(parallelism.atFewest(IMPORT_ONLY)).toBe(false);
    parallelism.settle(refusedBulk, 10, IMPORT_ONLY);
    expect(parallelism.forBatch(IMPORT_ONLY)).toBe(MIN_BULK_RECORDS_IN_PARALLEL);
    expect(parallelism.atFewest(IMPORT_ONLY)).toBe(true);
    parallelism.settle(refusedBulk, 10, IMPORT_ONLY);
    expect(parallelism.current).toBe(MIN_BULK_RECORDS_IN_PARALLEL);
    // A batch with live work in it still runs two, and is then at its fewest.
    expect(parallelism.forBatch(WITH_LIVE)).toBe(MIN_RECORDS_IN_PARALLEL);
    expect(parallelism.atFewest(WITH_LIVE)).toBe(true);
    // Its refusal does not bring the count back up to its own floor.
    parallelism.settle(refused, 10, WITH_LIVE);
    expect(parallelism.current).toBe(MIN_BULK_RECORDS_IN_PARALLEL);
    parallelism.settle(served, 10, IMPORT_ONLY);
    expect(parallelism.current).toBe(MIN_BULK_RECORDS_IN_PARALLEL + 1);
  });

  it('steps up only after an invocation that had more records than it ran at once', () => {
    const parallelism = new AdaptiveParallelism(5);
    parallelism.settle(served, MIN_RECORDS_IN_PARALLEL, IMPORT_ONLY);
    parallelism.settle(served, 1, IMPORT_ONLY);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL);
    parallelism.settle(served, MIN_RECORDS_IN_PARALLEL + 1, IMPORT_ONLY);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL + 1);
    // A deferral steps down whatever the batch.
    parallelism.settle(refused, 1, WITH_LIVE);
    expect(parallelism.current).toBe(MIN_RECORDS_IN_PARALLEL);
  });

  it('never runs more than its most, also below the usual least', () => {
    const one = new AdaptiveParallelism(1);
    expect(one.forBatch(WITH_LIVE)).toBe(1);
    expect(one.atFewest(WITH_LIVE)).toBe(true);
    one.settle(refused, 10, WITH_LIVE);
    expect(one.current).toBe(1);
    one.settle(served, 10, WITH_LIVE);
    expect(one.current).toBe(1);
  });
});
