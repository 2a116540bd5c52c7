/**
 * Hostile import files (NDJSON and CSV) through `parseImport`, chunked at arbitrary bytes: every
 * row is answered, a failed row names its line and fields, the file as a whole may only fail with a
 * ValidationError; never a planted value in a reason or in the partner id a failure is filed under.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { csvLine } from '#lib/import/csv-writer.ts';
import { IMPORT_FORMATS, type ImportFormat } from '#lib/import/format.ts';
import type { ImportRow } from '#lib/import/import-record.ts';
import { IMPORT_COLUMNS } from '#lib/import/import-record.ts';
import { parseImport } from '#lib/import/parse-import.ts';
import { byteChunks, collect, cutsArbitrary } from '#test/unit/import/chunks.ts';
import {
  canaryArbitrary,
  hasCanary,
  hostileEventArbitrary,
  unhandledRejectionsDuring,
} from './hostile.ts';

/** A hostile event flattened into an import row (`kind`, `partnerUserId`, the data fields). */
const rowArbitrary = fc
  .tuple(hostileEventArbitrary, fc.constantFrom('provider', 'client'), canaryArbitrary)
  .map(([event, kind, stray]) => {
    const { data, partnerUserId } = event as { data?: unknown; partnerUserId?: unknown };
    const fields =
      typeof data === 'object' && data !== null && !Array.isArray(data) ? data : { stray };
    return { kind, partnerUserId, ...fields } as Record<string, unknown>;
  });

/** A file's text in `format`: rows of hostile records, with nasty text mixed in as lines. */
function fileArbitrary(format: ImportFormat): fc.Arbitrary<string> {
  const line = fc.oneof(
    rowArbitrary.map((row) =>
      format === IMPORT_FORMATS.csv ? csvLine(row).replace(/\r?\n$/, '') : JSON.stringify(row),
    ),
    canaryArbitrary,
  );
  const header = format === IMPORT_FORMATS.csv ? [IMPORT_COLUMNS.join(',')] : [];
  return fc
    .array(line, { minLength: 1, maxLength: 6 })
    .map((lines) => `${[...header, ...lines].join('\n')}\n`);
}

/** Parses `text` cut into byte chunks; the rows, or the error that refused the whole file. */
async function parse(text: string, format: ImportFormat, cuts: readonly number[]) {
  try {
    return { rows: await collect(parseImport(byteChunks(text, cuts), format)) };
  } catch (error) {
    return { error };
  }
}

/** Checks a failed row: located at its line, each issue named, nothing planted in it. */
function expectSafeFailure(row: Extract<ImportRow, { ok: false }>): void {
  expect(row.error.location).toBe(`line ${row.line}`);
  expect(row.error.issues.length).toBeGreaterThan(0);
  for (const issue of row.error.issues) {
    expect(issue.field.length).toBeGreaterThan(0);
    expect(issue.reason.length).toBeGreaterThan(0);
  }
  expect(hasCanary(row.error.message)).toBe(false);
  if (row.partnerUserId !== undefined) expect(hasCanary(row.partnerUserId)).toBe(false);
}

describe.each([IMPORT_FORMATS.ndjson, IMPORT_FORMATS.csv])(
  '%s import rows under hostile input',
  (format) => {
    it('answers every row, names the line and field of each failure, never echoing a planted value', async () => {
      const unhandled = await unhandledRejectionsDuring(() =>
        fc.assert(
          fc.asyncProperty(fileArbitrary(format), cutsArbitrary, async (text, cuts) => {
            const result = await parse(text, format, cuts);
            if ('error' in result) {
              expect(result.error).toBeInstanceOf(ValidationError);
              expect(hasCanary((result.error as ValidationError).message)).toBe(false);
              return;
            }
            for (const row of result.rows) {
              expect(row.line).toBeGreaterThanOrEqual(1);
              if (!row.ok) expectSafeFailure(row);
            }
          }),
          { seed: format === IMPORT_FORMATS.csv ? 1304 : 1305, numRuns: 200 },
        ),
      );
      expect(unhandled).toEqual([]);
    });
  },
);
