import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCsv } from '#lib/import/csv-reader.ts';
import { CSV_LINE_BREAK, csvCell } from '#lib/import/csv-writer.ts';
import { byteChunks, collect, cutsArbitrary } from './chunks.ts';

/** All records of some CSV text given as one chunk. */
function records(text: string) {
  return collect(readCsv([text]));
}

describe('readCsv', () => {
  it('splits unquoted cells on commas, keeping empty cells', async () => {
    expect(await records('a,,c\n')).toEqual([{ line: 1, ok: true, cells: ['a', '', 'c'] }]);
  });

  it('reads quoted cells with commas, doubled quotes and line breaks', async () => {
    expect(await records('"a,b","say ""hi""","two\r\nlines"\r\n')).toEqual([
      { line: 1, ok: true, cells: ['a,b', 'say "hi"', 'two\nlines'] },
    ]);
  });

  it('numbers a record by the line it starts on, counting breaks inside quotes', async () => {
    const text = 'h1,h2\n"multi\nline\ncell",x\nnext,y\n';
    expect((await records(text)).map((record) => record.line)).toEqual([1, 2, 5]);
  });

  it('skips blank lines but counts them', async () => {
    expect(await records('a\n\n\r\nb')).toEqual([
      { line: 1, ok: true, cells: ['a'] },
      { line: 4, ok: true, cells: ['b'] },
    ]);
  });

  it('reads an empty quoted cell as empty and a final record without a line break', async () => {
    expect(await records('"",x')).toEqual([{ line: 1, ok: true, cells: ['', 'x'] }]);
  });

  it('reports a quote inside an unquoted cell and goes on with the next line', async () => {
    expect(await records('a,b"c,d\ne,f\n')).toEqual([
      {
        line: 1,
        ok: false,
        reason: 'has a quote inside an unquoted cell; quote the whole cell and double inner quotes',
      },
      { line: 2, ok: true, cells: ['e', 'f'] },
    ]);
  });

  it('reports characters after a closing quote and goes on', async () => {
    const [first, second] = await records('"ab"c,d\ne\n');
    expect(first).toMatchObject({ line: 1, ok: false });
    expect(second).toEqual({ line: 2, ok: true, cells: ['e'] });
  });

  it('reports a quoted cell that is never closed on the line where its record starts', async () => {
    expect(await records('a\nb,"open\nstill open\n')).toEqual([
      { line: 1, ok: true, cells: ['a'] },
      { line: 2, ok: false, reason: 'has a quoted cell that is never closed' },
    ]);
  });

  it('never echoes cell text in its reasons', async () => {
    for (const record of await records('x"SECRET,y\n"SECRET"z\n"SECRET')) {
      expect(record.ok).toBe(false);
      if (!record.ok) expect(record.reason).not.toContain('SECRET');
    }
  });

  it('reads back any cells written with RFC 4180 quoting, however the bytes are chunked', async () => {
    const table = fc.array(
      fc.array(fc.string({ unit: 'grapheme', maxLength: 8 }), { minLength: 2, maxLength: 4 }),
      {
        minLength: 1,
        maxLength: 5,
      },
    );
    await fc.assert(
      fc.asyncProperty(table, cutsArbitrary, async (rows, cuts) => {
        const text = rows.map((row) => row.map(csvCell).join(',') + CSV_LINE_BREAK).join('');
        const read = await collect(readCsv(byteChunks(text, cuts)));
        // Line breaks inside quoted cells are normalised to LF; a leading BOM is dropped.
        const expected = rows.map((row, index) =>
          row.map((cell, column) => {
            const normal = cell.replace(/\r\n?/g, '\n');
            return index === 0 && column === 0 ? normal.replace(/^\uFEFF/, '') : normal;
          }),
        );
        expect(read.map((record) => (record.ok ? record.cells : record.reason))).toEqual(expected);
      }),
      { numRuns: 150 },
    );
  });

  it('answers any text with records or reasons, never a crash', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r', ' ') }),
        async (text) => {
          for (const record of await records(text)) {
            expect(record.line).toBeGreaterThanOrEqual(1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
