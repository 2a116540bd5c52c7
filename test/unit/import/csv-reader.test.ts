import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CSV_LIMITS, readCsv } from '#lib/import/csv-reader.ts';
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

  it('reports a quoted cell that is never closed on its line and reads the rows after it', async () => {
    expect(await records('a\nb,"open\nstill open\nc,d\n')).toEqual([
      { line: 1, ok: true, cells: ['a'] },
      { line: 2, ok: false, reason: 'has a quoted cell that is never closed' },
      { line: 3, ok: true, cells: ['still open'] },
      { line: 4, ok: true, cells: ['c', 'd'] },
    ]);
  });

  it('fails only the line of an unclosed quote when a later quote would close it', async () => {
    // Quote parity alone would join lines 2–4 into one cell; the record is not valid CSV, so
    // line 2 fails and lines 3 and 4 are read again on their own.
    expect(await records('h,i\n1,"open\n2,x\n3,"y" z\n4,"q"\n')).toEqual([
      { line: 1, ok: true, cells: ['h', 'i'] },
      { line: 2, ok: false, reason: 'has a quoted cell that is never closed' },
      { line: 3, ok: true, cells: ['2', 'x'] },
      {
        line: 4,
        ok: false,
        reason:
          'has characters after a closing quote; quote the whole cell and double inner quotes',
      },
      { line: 5, ok: true, cells: ['4', 'q'] },
    ]);
  });

  it('reads every later row when no quote ever closes an unclosed one', async () => {
    const many = Array.from({ length: 3000 }, (_, index) => `r${index},ok`).join('\n');
    const read = await records(`a,"open\n${many}\n`);
    expect(read[0]).toEqual({
      line: 1,
      ok: false,
      reason: 'has a quoted cell that is never closed',
    });
    expect(read).toHaveLength(3001);
    expect(read.at(-1)).toEqual({ line: 3001, ok: true, cells: ['r2999', 'ok'] });
  });

  it('reports a record longer than the limit at its line and reads on', async () => {
    const long = 'x'.repeat(CSV_LIMITS.maxRecordChars + 1);
    expect(await records(`a\n${long}\nb\n`)).toEqual([
      { line: 1, ok: true, cells: ['a'] },
      { line: 2, ok: false, reason: expect.stringContaining('longer than') },
      { line: 3, ok: true, cells: ['b'] },
    ]);
  });

  it('answers any text of quotes, commas and breaks in line order, one failed line at a time', async () => {
    const text = fc
      .array(fc.constantFrom('a', 'b', ',', '"', '\n', '\r\n', ' '), { maxLength: 80 })
      .map((parts) => parts.join(''));
    await fc.assert(
      fc.asyncProperty(text, async (input) => {
        const read = await records(input);
        const lines = read.map((record) => record.line);
        expect([...lines].sort((a, b) => a - b)).toEqual(lines);
        expect(new Set(lines).size).toBe(lines.length);
        for (const record of read) {
          if (!record.ok) expect(record.reason).toMatch(/^has |^is not valid CSV$/);
        }
        // Every line that has content is either read into a record or is part of one.
        const contentLines = input
          .replace(/\r\n/g, '\n')
          .split('\n')
          .filter((l) => l.length > 0);
        expect(read.length).toBeLessThanOrEqual(contentLines.length);
      }),
    );
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
