import { describe, expect, it } from 'vitest';
import { occurringFrom } from '#tools/cli/commands/demo.ts';
import { readEvents } from '#tools/cli/commands/send-events.ts';
import { PROJECT_ROOT } from '#tools/local/stack.ts';

describe('demo events', () => {
  it('moves the sample events to start now, keeping their order and spacing', async () => {
    const events = await readEvents(`${PROJECT_ROOT}/samples/events.ndjson`);
    const now = Date.parse('2030-01-01T00:00:00.000Z');
    const moved = occurringFrom(events, now);
    const times = (list: typeof events) => list.map((event) => Date.parse(event.occurredAt));
    expect(Math.min(...times(moved))).toBe(now);
    const gaps = (list: number[]) => list.map((time) => time - list[0]!);
    expect(gaps(times(moved))).toEqual(gaps(times(events)));
    expect(moved.map((event) => event.eventId)).toEqual(events.map((event) => event.eventId));
  });
});
