import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { unknownKeyName } from '#lib/events/validation.ts';
import { csvHeader, csvLine } from '#lib/import/csv-writer.ts';
import type { ImportRecord, ImportRow } from '#lib/import/import-record.ts';
import { HEADER_FIELD, MAX_LINE_CHARS, parseImport, ROW_FIELD } from '#lib/import/parse-import.ts';
import {
  clientFieldsArbitrary,
  idArbitrary,
  providerFieldsArbitrary,
} from '../events/arbitraries.ts';
import { byteChunks, collect, cutsArbitrary } from './chunks.ts';

/** A valid provider row as the partner writes it. */
const provider = {
  kind: 'provider',
  partnerUserId: 'p-1',
  email: 'dana.doe@example.com',
  firstName: 'Dana',
  lastName: 'Doe',
};

/** A valid client row as the partner writes it. */
const client = {
  kind: 'client',
  partnerUserId: 'c-1',
  firstName: 'Ana',
  lastName: 'Ruiz',
  providerPartnerUserIds: ['p-1'],
};

/** NDJSON text of some objects, one per line. */
function ndjson(...rows: unknown[]): string {
  return rows.map((row) => `${typeof row === 'string' ? row : JSON.stringify(row)}\n`).join('');
}

/** All rows of an NDJSON text. */
function ndjsonRows(text: string): Promise<ImportRow[]> {
  return collect(parseImport([text], 'ndjson'));
}

/** All rows of a CSV text. */
function csvRows(text: string): Promise<ImportRow[]> {
  return collect(parseImport([text], 'csv'));
}

/** The issues of a failed row (fails the test if the row parsed). */
function issuesOf(row: ImportRow | undefined) {
  if (!row || row.ok) throw new Error('expected a failed row');
  return row.error.issues;
}

/** The header-level ValidationError a CSV text is rejected with. */
async function headerError(text: string): Promise<ValidationError> {
  try {
    await csvRows(text);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected the header to be rejected');
}

describe('parseImport (NDJSON)', () => {
  it('yields a provider and a client record with normalised fields', async () => {
    const rows = await ndjsonRows(ndjson({ ...provider, email: ' Dana.Doe@Example.com ' }, client));
    expect(rows).toEqual([
      {
        line: 1,
        ok: true,
        record: {
          kind: 'provider',
          partnerUserId: 'p-1',
          fields: { email: 'dana.doe@example.com', firstName: 'Dana', lastName: 'Doe' },
        },
      },
      {
        line: 2,
        ok: true,
        record: {
          kind: 'client',
          partnerUserId: 'c-1',
          fields: { firstName: 'Ana', lastName: 'Ruiz', providerPartnerUserIds: ['p-1'] },
        },
      },
    ]);
  });

  it('skips blank lines and numbers rows by physical line', async () => {
    const rows = await ndjsonRows(`\n${ndjson(provider)}   \r\n\n${ndjson(client)}`);
    expect(rows.map((row) => [row.line, row.ok])).toEqual([
      [2, true],
      [5, true],
    ]);
  });

  it('treats null values as absent fields', async () => {
    const [row] = await ndjsonRows(ndjson({ ...provider, phoneNumber: null, locale: null }));
    expect(row?.ok && row.record.fields).toEqual({
      email: 'dana.doe@example.com',
      firstName: 'Dana',
      lastName: 'Doe',
    });
  });

  it('rejects a line that is not JSON without quoting it, and goes on', async () => {
    const rows = await ndjsonRows(ndjson('{"kind":"provider","email":"dana@', client));
    expect(issuesOf(rows[0])).toEqual([{ field: ROW_FIELD, reason: 'is not valid JSON' }]);
    expect(rows[0]?.ok === false && rows[0].error.message).toBe('line 1: (row): is not valid JSON');
    expect(rows[1]?.ok).toBe(true);
  });

  it.each(['[1,2]', '"provider"', '42', 'null'])(
    'rejects the JSON value %s as not an object',
    async (line) => {
      expect(issuesOf((await ndjsonRows(ndjson(line)))[0])).toEqual([
        { field: ROW_FIELD, reason: 'must be a JSON object' },
      ]);
    },
  );

  it('requires kind and rejects an unknown one', async () => {
    const { kind: _kind, ...noKind } = provider;
    const rows = await ndjsonRows(
      ndjson(noKind, { ...provider, partnerUserId: 'p-2', kind: 'therapist' }),
    );
    expect(issuesOf(rows[0])).toEqual([{ field: 'kind', reason: 'is required' }]);
    expect(issuesOf(rows[1])).toEqual([
      { field: 'kind', reason: 'is not a known value; expected one of: provider, client' },
    ]);
  });

  it('requires partnerUserId', async () => {
    const { partnerUserId: _id, ...noId } = client;
    expect(issuesOf((await ndjsonRows(ndjson(noId)))[0])).toEqual([
      { field: 'partnerUserId', reason: 'is required' },
    ]);
  });

  it('says a field of the other kind does not apply, and an unknown field is not known', async () => {
    const rows = await ndjsonRows(
      ndjson({ ...client, noteIdentifier: 'Coach' }, { ...provider, nickname: 'D' }),
    );
    expect(issuesOf(rows[0])).toEqual([
      { field: 'noteIdentifier', reason: 'does not apply to a client' },
    ]);
    expect(issuesOf(rows[1])).toEqual([
      { field: unknownKeyName('nickname'), reason: 'is not a known field' },
    ]);
  });

  it('keeps the partner id of a failed row when it is readable', async () => {
    const [row] = await ndjsonRows(ndjson({ ...client, dateOfBirth: '1990-02-30' }));
    expect(row).toMatchObject({ line: 1, ok: false, partnerUserId: 'c-1' });
    expect(issuesOf(row)).toEqual([
      { field: 'dateOfBirth', reason: 'must be a real calendar date' },
    ]);
  });

  it('fails a repeated partner id on the later row, naming the first line', async () => {
    const rows = await ndjsonRows(ndjson(provider, client, { ...provider, firstName: 'Dee' }));
    expect(rows.map((row) => row.ok)).toEqual([true, true, false]);
    expect(rows[2]).toMatchObject({ line: 3, partnerUserId: 'p-1' });
    expect(issuesOf(rows[2])).toEqual([
      { field: 'partnerUserId', reason: 'repeats the partner id of line 1' },
    ]);
  });

  it('counts an invalid first occurrence when reporting a repeat', async () => {
    const rows = await ndjsonRows(ndjson({ ...provider, email: 'nope' }, provider));
    expect(issuesOf(rows[1])).toEqual([
      { field: 'partnerUserId', reason: 'repeats the partner id of line 1' },
    ]);
  });

  it('fails a later row with the same email (normalised), naming the first line', async () => {
    const other = { ...provider, partnerUserId: 'p-2', email: '  Dana.DOE@Example.com ' };
    const sibling = { ...client, partnerUserId: 'c-2', email: 'dana.doe@example.com' };
    const rows = await ndjsonRows(ndjson(provider, client, other, sibling));
    expect(rows.map((row) => row.ok)).toEqual([true, true, false, false]);
    expect(issuesOf(rows[2])).toEqual([{ field: 'email', reason: 'is also the email of line 1' }]);
    expect(issuesOf(rows[3])).toEqual([{ field: 'email', reason: 'is also the email of line 1' }]);
    expect(JSON.stringify(issuesOf(rows[2]))).not.toContain('example');
  });

  it('never compares clients without an email', async () => {
    const rows = await ndjsonRows(ndjson(client, { ...client, partnerUserId: 'c-2' }));
    expect(rows.map((row) => row.ok)).toEqual([true, true]);
  });

  it('reads the rows after an unclosed CSV quote', async () => {
    const text = `${csvHeader()}${csvLine(provider)}provider,"p-9\n${csvLine(client)}`;
    const rows = await csvRows(text);
    expect(rows.map((row) => [row.line, row.ok])).toEqual([
      [2, true],
      [3, false],
      [4, true],
    ]);
    expect(issuesOf(rows[1])).toEqual([
      { field: ROW_FIELD, reason: 'has a quoted cell that is never closed' },
    ]);
  });

  it('skips the export-time statement of either format, counting its line', async () => {
    const csv = await csvRows(
      `# exportedAt: 2026-11-30T22:00:00Z\n${csvHeader()}${csvLine(provider)}`,
    );
    expect(csv.map((row) => [row.line, row.ok])).toEqual([[3, true]]);
    const nd = await ndjsonRows(ndjson({ exportedAt: '2026-11-30T22:00:00Z' }, provider));
    expect(nd.map((row) => [row.line, row.ok])).toEqual([[2, true]]);
    // Anywhere else it is a record, and an invalid one.
    const later = await ndjsonRows(ndjson(provider, { exportedAt: '2026-11-30T22:00:00Z' }));
    expect(later.map((row) => row.ok)).toEqual([true, false]);
  });

  it('rejects an over-long line without holding it, and goes on', async () => {
    const long = JSON.stringify({ ...provider, firstName: 'x'.repeat(MAX_LINE_CHARS) });
    const rows = await ndjsonRows(ndjson(long, client));
    expect(issuesOf(rows[0])).toEqual([
      { field: ROW_FIELD, reason: `is longer than ${MAX_LINE_CHARS} characters` },
    ]);
    expect(rows[1]?.ok).toBe(true);
  });

  it('answers every non-blank line of any text with a row, failures naming a field', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string(),
            fc.json(),
            fc.jsonValue().map((v) => JSON.stringify(v)),
          ),
        ),
        async (lines) => {
          const text = lines.map((line) => line.replace(/[\r\n]/g, ' ')).join('\n');
          const rows = await ndjsonRows(text);
          expect(rows.length).toBe(lines.filter((line) => line.trim().length > 0).length);
          for (const row of rows) {
            if (!row.ok) {
              expect(row.error).toBeInstanceOf(ValidationError);
              expect(row.error.issues.length).toBeGreaterThan(0);
              expect(row.error.location).toBe(`line ${row.line}`);
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('answers arbitrary objects with kind and id with a record or field-named issues', async () => {
    const objects = fc.dictionary(
      fc.constantFrom(
        'kind',
        'partnerUserId',
        'email',
        'firstName',
        'lastName',
        'providerPartnerUserIds',
        'pronoun',
        'x',
      ),
      fc.jsonValue(),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(objects, { maxLength: 5 }), async (items) => {
        for (const row of await ndjsonRows(ndjson(...items))) {
          if (!row.ok) for (const issue of row.error.issues) expect(issue.field).not.toBe('');
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('parseImport (CSV)', () => {
  /** A header and rows written by the CSV writer. */
  const csv = (...rows: Record<string, unknown>[]) =>
    csvHeader() + rows.map((row) => csvLine(row)).join('');

  it('reads the same records as NDJSON from the written CSV', async () => {
    const rows = await csvRows(
      csv(provider, { ...client, providerPartnerUserIds: ['p-1', 'p-2'] }),
    );
    expect(rows.map((row) => row.ok && row.record)).toEqual([
      {
        kind: 'provider',
        partnerUserId: 'p-1',
        fields: { email: 'dana.doe@example.com', firstName: 'Dana', lastName: 'Doe' },
      },
      {
        kind: 'client',
        partnerUserId: 'c-1',
        fields: { firstName: 'Ana', lastName: 'Ruiz', providerPartnerUserIds: ['p-1', 'p-2'] },
      },
    ]);
  });

  it('accepts a subset of the columns in any order, a BOM and CRLF', async () => {
    const text =
      '\uFEFFlastName,kind,firstName,partnerUserId,providerPartnerUserIds\r\nRuiz,client,Ana,c-1,p-1\r\n';
    const [row] = await csvRows(text);
    expect(row).toEqual({
      line: 2,
      ok: true,
      record: {
        kind: 'client',
        partnerUserId: 'c-1',
        fields: { firstName: 'Ana', lastName: 'Ruiz', providerPartnerUserIds: ['p-1'] },
      },
    });
  });

  it('splits list columns on semicolons, trimming items and dropping empty ones', async () => {
    const text =
      'kind,partnerUserId,firstName,lastName,providerPartnerUserIds,defaultNoteTemplateIds\nclient,c-1,Ana,Ruiz, p-2 ; p-1;,t-1\n';
    const [row] = await csvRows(text);
    expect(row?.ok && row.record.fields).toEqual({
      firstName: 'Ana',
      lastName: 'Ruiz',
      providerPartnerUserIds: ['p-2', 'p-1'],
      defaultNoteTemplateIds: ['t-1'],
    });
  });

  it('reads empty cells as absent fields, so a required one is reported missing', async () => {
    const [row] = await csvRows(csv({ ...provider, email: '' }));
    expect(issuesOf(row)).toEqual([{ field: 'email', reason: 'is required' }]);
  });

  it('numbers a record by the line it starts on', async () => {
    const text = `${csvHeader()}${csvLine({ ...provider, lastName: 'Doe\nJones' })}${csvLine(client)}`;
    const rows = await csvRows(text);
    expect(rows.map((row) => row.line)).toEqual([2, 4]);
    expect(issuesOf(rows[0])).toEqual([
      { field: 'lastName', reason: 'must not contain control characters' },
    ]);
  });

  it('skips rows of empty cells and blank lines', async () => {
    const text = `${csvHeader()}\r\n,,,,\r\n${csvLine(client)}`;
    expect((await csvRows(text)).map((row) => [row.line, row.ok])).toEqual([[4, true]]);
  });

  it('rejects a row with the wrong number of cells and goes on', async () => {
    const text = `kind,partnerUserId,firstName,lastName,providerPartnerUserIds\nclient,c-1,Ana,Ruiz\nclient,c-2,Bo,Li,p-1\n`;
    const rows = await csvRows(text);
    expect(issuesOf(rows[0])).toEqual([
      { field: ROW_FIELD, reason: 'has 4 cells; the header has 5' },
    ]);
    expect(rows[1]?.ok).toBe(true);
  });

  it('rejects a malformed quote on its row and goes on', async () => {
    const text = `kind,partnerUserId,firstName,lastName,providerPartnerUserIds\nclient,c-1,A"na,Ruiz,p-1\nclient,c-2,Bo,Li,p-1\n`;
    const rows = await csvRows(text);
    expect(issuesOf(rows[0])[0]?.field).toBe(ROW_FIELD);
    expect(rows[1]?.ok).toBe(true);
  });

  it('rejects an unknown column by position, without echoing its name', async () => {
    const error = await headerError('kind,partnerUserId,E-mail Address\nprovider,p-1,x\n');
    expect(error.location).toBe('line 1');
    expect(error.issues[0]).toEqual({
      field: HEADER_FIELD,
      reason: 'column 3 is not a known column (names are case-sensitive)',
    });
    expect(error.message).not.toContain('E-mail Address');
    expect(error.message).toContain('known columns: kind, partnerUserId, email');
  });

  it('rejects a repeated column and a missing kind or partnerUserId column', async () => {
    const error = await headerError('firstName,firstName\n');
    expect(error.issues.map((issue) => issue.reason)).toEqual([
      'column 2 repeats the column firstName',
      'the column kind is missing',
      'the column partnerUserId is missing',
      expect.stringContaining('known columns'),
    ]);
  });

  it('yields nothing for an empty file', async () => {
    expect(await csvRows('')).toEqual([]);
    expect(await ndjsonRows('')).toEqual([]);
  });

  it('answers any text with rows or a header error, never a crash', async () => {
    const texts = fc.oneof(
      fc.string(),
      fc.string({
        unit: fc.constantFrom('a', ',', '"', '\n', ';', 'kind', 'partnerUserId', 'client', 'p-1'),
      }),
      fc
        .string({ unit: fc.constantFrom('a', ',', '"', '\n', ';', 'client', 'p-1') })
        .map((body) => `kind,partnerUserId,firstName,lastName,providerPartnerUserIds\n${body}`),
    );
    await fc.assert(
      fc.asyncProperty(texts, async (text) => {
        try {
          for (const row of await csvRows(text)) {
            if (!row.ok) expect(row.error.issues.length).toBeGreaterThan(0);
          }
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as ValidationError).issues[0]?.field).toBe(HEADER_FIELD);
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** Valid import records with distinct partner ids. */
const recordsArbitrary: fc.Arbitrary<ImportRecord[]> = fc.uniqueArray(
  fc.oneof(
    fc.record({
      kind: fc.constant('provider' as const),
      partnerUserId: idArbitrary,
      fields: providerFieldsArbitrary,
    }),
    fc.record({
      kind: fc.constant('client' as const),
      partnerUserId: idArbitrary,
      fields: clientFieldsArbitrary,
    }),
  ),
  { selector: (record) => record.partnerUserId, maxLength: 8 },
);

/** A record as the partner writes it: flat. */
function flat(record: ImportRecord): Record<string, unknown> {
  return { kind: record.kind, partnerUserId: record.partnerUserId, ...record.fields };
}

describe('parseImport (both formats)', () => {
  it('parses the NDJSON and CSV forms of the same records to those records, however chunked', async () => {
    await fc.assert(
      fc.asyncProperty(recordsArbitrary, cutsArbitrary, async (records, cuts) => {
        const ndjsonText = records.map((record) => `${JSON.stringify(flat(record))}\n`).join('');
        const csvText = csvHeader() + records.map((record) => csvLine(flat(record))).join('');
        const fromNdjson = await collect(parseImport(byteChunks(ndjsonText, cuts), 'ndjson'));
        const fromCsv = await collect(parseImport(byteChunks(csvText, cuts), 'csv'));
        const recordsOf = (rows: ImportRow[]) =>
          rows.map((row) => (row.ok ? row.record : row.error.message));
        expect(recordsOf(fromNdjson)).toEqual(records);
        expect(recordsOf(fromCsv)).toEqual(records);
      }),
      { numRuns: 100 },
    );
  });
});
