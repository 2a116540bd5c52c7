/** The benchmark's reading of the functions' log lines: deferrals counted per event. */
import { describe, expect, it } from 'vitest';
import { AppliedLog } from '#bench/applied-log.ts';

const line = (fields: Record<string, unknown>) => ({
  functionName: 'sync-user',
  workerId: 1,
  stream: 'stdout' as const,
  line: JSON.stringify(fields),
});

describe('AppliedLog', () => {
  it('counts the deferrals of each event and reports the most of one', () => {
    const log = new AppliedLog();
    expect(log.mostDeferralsOfOneEvent()).toBe(0);
    const deferred = (eventId: string) =>
      log.sink(line({ message: 'deferred', eventId, error: 'SlotUnavailableError: no slot' }));
    for (const eventId of ['load-1', 'load-2', 'load-1', 'live-3', 'load-1']) deferred(eventId);
    log.sink(line({ message: 'applied', eventId: 'load-2', outcome: 'created' }));
    expect(log.mostDeferralsOfOneEvent()).toBe(3);
    expect(log.deferrals()).toEqual({
      'load:SlotUnavailableError': 4,
      'live:SlotUnavailableError': 1,
    });
  });
});
