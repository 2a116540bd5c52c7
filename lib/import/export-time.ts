/**
 * The export time of an import file: when the partner took the export. Every row becomes an event
 * of that time, so a live change made after the export is newer than the row and wins, and a
 * delete made after it keeps its tombstone. "Now" is never assumed: the time comes from the
 * operator (`--exported-at`) or from the file itself, which may state it on its first line:
 *
 * - NDJSON: `{"exportedAt":"2026-11-30T22:00:00Z"}` (an object with that one key);
 * - CSV: `# exportedAt: 2026-11-30T22:00:00Z` (a comment line before the header).
 */
import * as z from 'zod';
import { ValidationError } from '#lib/errors.ts';
import { IMPORT_FORMATS, type ImportFormat } from './format.ts';
import { readLines, type TextSource } from './text-stream.ts';

/** The name of the export time, as a key, a field and in the CSV comment line. */
export const EXPORT_TIME_FIELD = 'exportedAt';

/** How far in the future an export time may lie (clock skew between partner and us). */
export const MAX_EXPORT_SKEW_MS = 5 * 60 * 1000;

/** Longest first line read when looking for the statement (a longer one is no statement). */
const MAX_STATEMENT_CHARS = 1_000;

/** An ISO-8601 date-time with a UTC offset. */
const ExportTimeSchema = z.iso.datetime({ offset: true });

/** The CSV comment line stating the export time. */
const CSV_STATEMENT = /^#\s*exportedAt\s*[:=]\s*(\S*)\s*$/;

/** The reason for an export time that is not a date-time. */
const NOT_A_TIME = 'must be an ISO-8601 date-time with an offset, e.g. 2026-11-30T22:00:00Z';

/**
 * The export time a first line states, `undefined` when the line is an ordinary row (or header).
 * Throws a `ValidationError` at `line` when the line is a statement with a malformed time.
 */
export function statedExportTime(
  text: string,
  format: ImportFormat,
  line: number,
): string | undefined {
  let value: unknown;
  if (format === IMPORT_FORMATS.csv) {
    const match = CSV_STATEMENT.exec(text.trim());
    if (!match) return undefined;
    value = match[1];
  } else {
    let decoded: unknown;
    try {
      decoded = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof decoded !== 'object' || decoded === null || Array.isArray(decoded)) return undefined;
    const keys = Object.keys(decoded);
    if (keys.length !== 1 || keys[0] !== EXPORT_TIME_FIELD) return undefined;
    value = (decoded as Record<string, unknown>)[EXPORT_TIME_FIELD];
  }
  const parsed = ExportTimeSchema.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError([{ field: EXPORT_TIME_FIELD, reason: NOT_A_TIME }], `line ${line}`);
  }
  return parsed.data;
}

/** The export time the file states on its first non-blank line, if it states one. */
export async function readStatedExportTime(
  source: TextSource,
  format: ImportFormat,
): Promise<string | undefined> {
  for await (const { line, text, tooLong } of readLines(source, MAX_STATEMENT_CHARS)) {
    if (tooLong) return undefined;
    if (text.trim().length === 0) continue;
    return statedExportTime(text, format, line);
  }
  return undefined;
}

/** Where an export time may come from. */
export interface ExportTimeSources {
  /** Given by the operator (`--exported-at`, the start message). */
  readonly given?: string | undefined;
  /** Stated by the file. */
  readonly stated?: string | undefined;
  /** The current time, to refuse an export from the future. */
  readonly nowMs: number;
}

/**
 * The export time of an import: the one given or the one the file states (both: they must name
 * the same instant). Throws a `ValidationError` on `exportedAt` when neither is there, when they
 * differ, or when the time is more than MAX_EXPORT_SKEW_MS in the future (rows of that version
 * would make every later live event of their users stale).
 */
export function resolveExportTime(sources: ExportTimeSources): string {
  const { given, stated, nowMs } = sources;
  const fail = (reason: string) => new ValidationError([{ field: EXPORT_TIME_FIELD, reason }]);
  if (given === undefined && stated === undefined) {
    throw fail(
      'is required: pass --exported-at or state it on the file\'s first line (docs/import-files.md, "Export time")',
    );
  }
  if (given !== undefined && stated !== undefined && Date.parse(given) !== Date.parse(stated)) {
    throw fail(`differs from the time the file states (${stated})`);
  }
  const time = (given ?? stated)!;
  if (!ExportTimeSchema.safeParse(time).success) throw fail(NOT_A_TIME);
  if (Date.parse(time) > nowMs + MAX_EXPORT_SKEW_MS) {
    throw fail(`is in the future (more than ${MAX_EXPORT_SKEW_MS / 60_000} minutes ahead)`);
  }
  return time;
}
