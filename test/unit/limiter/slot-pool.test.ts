import { describe, expect, it } from 'vitest';
import { SlotPool } from '#lib/limiter/slot-pool.ts';

const NOW = 1_000_000;
const never = () => false;

describe('SlotPool', () => {
  it('asks for a slot per caller without one, less the free pooled slots, within bounds', () => {
    const pool = new SlotPool();
    expect(pool.wanted(1, 5)).toBe(1);
    expect(pool.wanted(3, 5)).toBe(3);
    expect(pool.wanted(9, 5)).toBe(5);
    pool.add([NOW + 10, NOW + 20], NOW);
    expect(pool.wanted(3, 5)).toBe(1);
    expect(pool.wanted(0, 5)).toBe(1);
  });

  it('hands out the earliest slot, never one beyond the caller’s deadline', () => {
    const pool = new SlotPool();
    pool.add([NOW + 20, NOW + 10], NOW);
    expect(pool.take(NOW + 5, false)).toBeUndefined();
    expect(pool.take(NOW + 15, false)).toEqual({ slot: NOW + 10, bookedAt: NOW });
    expect(pool.size).toBe(1);
  });

  it('keeps a slot for an announced follow-up from first calls, and gives it to a continuation', () => {
    const pool = new SlotPool();
    pool.expect(1, NOW + 3_000);
    // The booker's lease had one extra slot: it is reserved for the follow-up.
    pool.add([NOW + 10], NOW);
    expect(pool.take(NOW + 100, false)).toBeUndefined();
    expect(pool.wanted(1, 5)).toBe(1);
    expect(pool.take(NOW + 100, true)?.slot).toBe(NOW + 10);
    // Served: nothing is announced or reserved any more.
    pool.add([NOW + 20], NOW);
    expect(pool.take(NOW + 100, false)?.slot).toBe(NOW + 20);
  });

  it('counts announced follow-ups in the next lease and reserves its slots for them', () => {
    const pool = new SlotPool();
    pool.expect(2, NOW + 3_000);
    expect(pool.wanted(1, 5)).toBe(3);
    pool.add([NOW + 10, NOW + 20], NOW);
    expect(pool.take(NOW + 100, false)).toBeUndefined();
    expect(pool.wanted(1, 5)).toBe(1);
  });

  it('releases a reservation whose follow-up will not come', () => {
    const pool = new SlotPool();
    pool.expect(1, NOW + 3_000);
    pool.add([NOW + 10], NOW);
    pool.forgo(1);
    expect(pool.take(NOW + 100, false)?.slot).toBe(NOW + 10);
  });

  it('withdraws an announcement whose booking failed', () => {
    const pool = new SlotPool();
    const announced = pool.expect(2, NOW + 3_000);
    expect(pool.wanted(1, 5)).toBe(3);
    announced.withdraw();
    expect(pool.wanted(1, 5)).toBe(1);
  });

  it('drops unusable slots from the head, with their reservations, and expired announcements', () => {
    const pool = new SlotPool();
    pool.expect(1, NOW + 3_000);
    pool.add([NOW + 10, NOW + 20], NOW);
    expect(pool.prune(NOW, (slot) => slot < NOW + 15)).toBe(1);
    expect(pool.size).toBe(1);
    // One slot is left, still reserved (never more reservations than slots).
    expect(pool.take(NOW + 100, false)).toBeUndefined();
    pool.expect(1, NOW + 50);
    expect(pool.prune(NOW + 51, never)).toBe(0);
    expect(pool.wanted(1, 5)).toBe(1);
  });
});
