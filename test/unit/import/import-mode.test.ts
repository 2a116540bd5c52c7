/** The import modes and the auto mode's decision, without AWS or HTTP. */
import { describe, expect, it } from 'vitest';
import {
  AUTO_BREAK_EVEN_SHARE,
  AUTO_MIN_SAMPLE,
  autoCreatesFirst,
  importModeOf,
} from '#lib/import/import-mode.ts';

describe('autoCreatesFirst', () => {
  it('creates first until the sample reaches the minimum, whatever it shows', () => {
    expect(autoCreatesFirst({ created: 0, linked: 0 })).toBe(true);
    expect(autoCreatesFirst({ created: 0, linked: AUTO_MIN_SAMPLE - 1 })).toBe(true);
    expect(autoCreatesFirst({ created: 0, linked: AUTO_MIN_SAMPLE })).toBe(false);
  });

  it('creates first up to the break-even share of users found in Upheal, checks first above', () => {
    const seen = 100;
    const atBreakEven = Math.round(seen * AUTO_BREAK_EVEN_SHARE);
    expect(autoCreatesFirst({ created: seen - atBreakEven, linked: atBreakEven })).toBe(true);
    expect(autoCreatesFirst({ created: seen - atBreakEven - 1, linked: atBreakEven + 1 })).toBe(
      false,
    );
    expect(autoCreatesFirst({ created: 70, linked: 30 })).toBe(true);
  });
});

describe('importModeOf', () => {
  it('reads a known mode and takes anything else as check-first', () => {
    expect(importModeOf('create-first')).toBe('create-first');
    expect(importModeOf('auto')).toBe('auto');
    expect(importModeOf(undefined)).toBe('check-first');
    expect(importModeOf('fast')).toBe('check-first');
  });
});
