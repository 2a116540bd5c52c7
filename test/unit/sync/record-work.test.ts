/** Which limiter lane a message's calls use: decided once, from the message's cause. */
import { describe, expect, it } from 'vitest';
import { LANES } from '#lib/limiter/rate-limiter.ts';
import { laneOf } from '#lib/sync/record-work.ts';

describe('laneOf', () => {
  it('puts the work of an import job in the bulk lane', () => {
    expect(laneOf({ jobId: 'job-1' })).toBe(LANES.bulk);
    expect(laneOf({ jobId: 'job-1', eventId: 'e-1' })).toBe(LANES.bulk);
  });

  it('puts partner events in the live lane', () => {
    expect(laneOf({ eventId: 'e-1' })).toBe(LANES.live);
    expect(laneOf({})).toBe(LANES.live);
  });
});
