/**
 * Streams an import file into validated rows. Every row is answered — a record, or a
 * `ValidationError` naming the field and the line — and a bad row never stops the rest. The file
 * is read chunk by chunk; memory grows only with the partner ids and email digests seen (for
 * duplicates).
 */
import { createHash } from 'node:crypto';
import type { FieldIssue } from '#lib/errors.ts';
import { ValidationError } from '#lib/errors.ts';
import { readCsv } from './csv-reader.ts';
import { statedExportTime } from './export-time.ts';
import type { ImportFormat } from './format.ts';
import { IMPORT_FORMATS } from './format.ts';
import type { ImportRow, RecordResult } from './import-record.ts';
import { IMPORT_COLUMNS, LIST_COLUMNS, toImportRecord } from './import-record.ts';
import type { TextSource } from './text-stream.ts';
import { readLines } from './text-stream.ts';

/** Field name for a problem with the row as a whole (not JSON, wrong number of cells). */
export const ROW_FIELD = '(row)';

/** Field name for a problem with the CSV header row. */
export const HEADER_FIELD = '(header)';

/** Separator of the items of a list column in CSV. */
export const LIST_SEPARATOR = ';';

/** Longest NDJSON line read; longer lines are rejected without being held in memory. */
export const MAX_LINE_CHARS = 1_000_000;

/** The location prefix of a row's errors. */
function lineLocation(line: number): string {
  return `line ${line}`;
}

/**
 * Parses an import file of `format` from `source` (a Node Readable, an S3 body, an array of
 * chunks). Yields one row per record, in file order; a first line stating the export time
 * (export-time.ts) is skipped. Throws `ValidationError` only when the file as a whole is unusable:
 * not UTF-8, a CSV header with unknown, repeated or missing columns, a malformed export time.
 */
export async function* parseImport(
  source: TextSource,
  format: ImportFormat,
): AsyncGenerator<ImportRow> {
  const rows = format === IMPORT_FORMATS.csv ? csvRows(source) : ndjsonRows(source);
  /** First line of each partner id seen, to report later duplicates. */
  const firstLine = new Map<string, number>();
  /** First line of each email (by digest: no address is held), to report later duplicates. */
  const emailLine = new Map<string, number>();
  for await (const { line, result } of rows) {
    const partnerUserId = result.ok ? result.record.partnerUserId : result.partnerUserId;
    const issues: FieldIssue[] = result.ok ? [] : [...result.issues];
    if (partnerUserId !== undefined) {
      const first = firstLine.get(partnerUserId);
      if (first === undefined) firstLine.set(partnerUserId, line);
      else
        issues.push({ field: 'partnerUserId', reason: `repeats the partner id of line ${first}` });
    }
    const email = result.ok ? result.record.fields.email : undefined;
    if (email !== undefined && issues.length === 0) {
      // Two partner users with one email would share one Upheal account: the later row fails.
      const digest = emailDigest(email);
      const first = emailLine.get(digest);
      if (first === undefined) emailLine.set(digest, line);
      else issues.push({ field: 'email', reason: `is also the email of line ${first}` });
    }
    if (result.ok && issues.length === 0) {
      yield { line, ok: true, record: result.record };
      continue;
    }
    const error = new ValidationError(issues, lineLocation(line));
    const kind = result.ok ? result.record.kind : result.kind;
    yield {
      line,
      ok: false,
      error,
      ...(partnerUserId === undefined ? {} : { partnerUserId }),
      ...(kind === undefined ? {} : { kind }),
    };
  }
}

/** Bytes of an email digest kept for the duplicate check (collisions are negligible at 128 bits). */
const EMAIL_DIGEST_BYTES = 16;

/** A short digest of a normalised email (the schema trims and lower-cases it). */
function emailDigest(email: string): string {
  return createHash('sha256')
    .update(email)
    .digest()
    .subarray(0, EMAIL_DIGEST_BYTES)
    .toString('latin1');
}

/** A decoded, validated row before the duplicate check. */
interface DecodedRow {
  readonly line: number;
  readonly result: RecordResult;
}

/** A row-level failure that names no field of the record. */
function rowFailure(reason: string): RecordResult {
  return { ok: false, issues: [{ field: ROW_FIELD, reason }] };
}

/** NDJSON: one JSON object per line; blank lines skipped; `null` values mean absent. */
async function* ndjsonRows(source: TextSource): AsyncGenerator<DecodedRow> {
  let first = true;
  for await (const { line, text, tooLong } of readLines(source, MAX_LINE_CHARS)) {
    if (tooLong) {
      yield { line, result: rowFailure(`is longer than ${MAX_LINE_CHARS} characters`) };
      continue;
    }
    if (text.trim().length === 0) continue;
    if (first) {
      first = false;
      // The export-time statement (export-time.ts) is the file's, not a record.
      if (statedExportTime(text, IMPORT_FORMATS.ndjson, line) !== undefined) continue;
    }
    let decoded: unknown;
    try {
      decoded = JSON.parse(text);
    } catch {
      // The parser's message quotes the text, which is clinical data: keep only our reason.
      yield { line, result: rowFailure('is not valid JSON') };
      continue;
    }
    if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) {
      yield { line, result: rowFailure('must be a JSON object') };
      continue;
    }
    const row = Object.fromEntries(Object.entries(decoded).filter(([, value]) => value !== null));
    yield { line, result: toImportRecord(row) };
  }
}

/** The problems of a CSV header, each naming the column by its 1-based position. */
function headerIssues(header: readonly string[]): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const seen = new Set<string>();
  header.forEach((name, index) => {
    const column = `column ${index + 1}`;
    if (!IMPORT_COLUMNS.includes(name)) {
      issues.push({
        field: HEADER_FIELD,
        reason: `${column} is not a known column (names are case-sensitive)`,
      });
    } else if (seen.has(name)) {
      issues.push({ field: HEADER_FIELD, reason: `${column} repeats the column ${name}` });
    }
    seen.add(name);
  });
  for (const required of ['kind', 'partnerUserId']) {
    if (!seen.has(required)) {
      issues.push({ field: HEADER_FIELD, reason: `the column ${required} is missing` });
    }
  }
  if (issues.length > 0) {
    issues.push({ field: HEADER_FIELD, reason: `known columns: ${IMPORT_COLUMNS.join(', ')}` });
  }
  return issues;
}

/** Turns one CSV cell into a field value: trimmed, empty = absent, list columns split on `;`. */
function cellValue(column: string, cell: string): string | string[] | undefined {
  const text = cell.trim();
  if (text.length === 0) return undefined;
  if (!LIST_COLUMNS.includes(column)) return text;
  return text
    .split(LIST_SEPARATOR)
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** CSV: a header row naming the columns, then one record per row. */
async function* csvRows(source: TextSource): AsyncGenerator<DecodedRow> {
  let header: readonly string[] | undefined;
  let statementSeen = false;
  for await (const record of readCsv(source)) {
    const { line } = record;
    if (header === undefined) {
      if (
        !statementSeen &&
        record.ok &&
        record.cells.length === 1 &&
        statedExportTime(record.cells[0]!, IMPORT_FORMATS.csv, line) !== undefined
      ) {
        // The export-time comment line before the header (export-time.ts).
        statementSeen = true;
        continue;
      }
      if (!record.ok) {
        throw new ValidationError(
          [{ field: HEADER_FIELD, reason: record.reason }],
          lineLocation(line),
        );
      }
      const names = record.cells.map((cell) => cell.trim());
      const issues = headerIssues(names);
      if (issues.length > 0) throw new ValidationError(issues, lineLocation(line));
      header = names;
      continue;
    }
    if (!record.ok) {
      yield { line, result: rowFailure(record.reason) };
      continue;
    }
    // Spreadsheets often end with rows of empty cells: they are blank lines, not records.
    if (record.cells.every((cell) => cell.trim().length === 0)) continue;
    if (record.cells.length !== header.length) {
      const reason = `has ${record.cells.length} cells; the header has ${header.length}`;
      yield { line, result: rowFailure(reason) };
      continue;
    }
    const row: Record<string, unknown> = {};
    header.forEach((column, index) => {
      const value = cellValue(column, record.cells[index] ?? '');
      if (value !== undefined) row[column] = value;
    });
    yield { line, result: toImportRecord(row) };
  }
}
