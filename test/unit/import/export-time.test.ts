import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import {
  MAX_EXPORT_SKEW_MS,
  readStatedExportTime,
  resolveExportTime,
  statedExportTime,
} from '#lib/import/export-time.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');

/** The message of the ValidationError `run` throws. */
function messageOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('statedExportTime', () => {
  it('reads the NDJSON header record and the CSV comment line', () => {
    expect(statedExportTime('{"exportedAt":"2026-11-30T22:00:00Z"}', 'ndjson', 1)).toBe(
      '2026-11-30T22:00:00Z',
    );
    expect(statedExportTime('# exportedAt: 2026-11-30T22:00:00+01:00', 'csv', 1)).toBe(
      '2026-11-30T22:00:00+01:00',
    );
    expect(statedExportTime('#exportedAt=2026-11-30T22:00:00Z', 'csv', 1)).toBe(
      '2026-11-30T22:00:00Z',
    );
  });

  it('treats ordinary rows and headers as no statement', () => {
    expect(statedExportTime('{"kind":"provider","exportedAt":"x"}', 'ndjson', 1)).toBeUndefined();
    expect(statedExportTime('kind,partnerUserId', 'csv', 1)).toBeUndefined();
    expect(statedExportTime('not json', 'ndjson', 1)).toBeUndefined();
  });

  it('refuses a statement with a malformed time, naming the line', () => {
    expect(messageOf(() => statedExportTime('{"exportedAt":"yesterday"}', 'ndjson', 2))).toMatch(
      /^line 2: exportedAt: must be an ISO-8601 date-time/,
    );
  });

  it('finds the statement on the first non-blank line only', async () => {
    expect(await readStatedExportTime(['\n# exportedAt: 2026-11-30T22:00:00Z\n'], 'csv')).toBe(
      '2026-11-30T22:00:00Z',
    );
    expect(
      await readStatedExportTime(['kind\n# exportedAt: 2026-11-30T22:00:00Z\n'], 'csv'),
    ).toBeUndefined();
  });
});

describe('resolveExportTime', () => {
  it('takes the given or the stated time, and both when they agree', () => {
    expect(resolveExportTime({ given: '2026-11-30T22:00:00Z', nowMs: NOW })).toBe(
      '2026-11-30T22:00:00Z',
    );
    expect(resolveExportTime({ stated: '2026-11-30T22:00:00Z', nowMs: NOW })).toBe(
      '2026-11-30T22:00:00Z',
    );
    expect(
      resolveExportTime({
        given: '2026-11-30T23:00:00+01:00',
        stated: '2026-11-30T22:00:00Z',
        nowMs: NOW,
      }),
    ).toBe('2026-11-30T23:00:00+01:00');
  });

  it('refuses no time at all, a disagreement and a time from the future', () => {
    expect(messageOf(() => resolveExportTime({ nowMs: NOW }))).toMatch(/^exportedAt: is required/);
    expect(
      messageOf(() =>
        resolveExportTime({
          given: '2026-11-30T21:00:00Z',
          stated: '2026-11-30T22:00:00Z',
          nowMs: NOW,
        }),
      ),
    ).toBe('exportedAt: differs from the time the file states (2026-11-30T22:00:00Z)');
    const ahead = new Date(NOW + MAX_EXPORT_SKEW_MS + 1000).toISOString();
    expect(messageOf(() => resolveExportTime({ given: ahead, nowMs: NOW }))).toMatch(
      /^exportedAt: is in the future/,
    );
    const skewed = new Date(NOW + MAX_EXPORT_SKEW_MS - 1000).toISOString();
    expect(resolveExportTime({ given: skewed, nowMs: NOW })).toBe(skewed);
  });
});
