/**
 * A streaming RFC 4180 reader: fields separated by commas, optionally quoted with `"`, a doubled
 * `""` inside quotes standing for one quote, and commas and line breaks allowed inside quotes.
 * Tolerances beyond the RFC: LF as well as CRLF, a leading byte-order mark, blank lines skipped.
 * A malformed record (a stray quote, an unterminated quote, an oversized record) is reported on
 * the line where it starts and reading goes on with the next one.
 */
import { decodeText, type TextSource } from './text-stream.ts';

/** One CSV record: its cells, or why it could not be read. */
export type CsvRecord =
  | { readonly line: number; readonly ok: true; readonly cells: readonly string[] }
  | { readonly line: number; readonly ok: false; readonly reason: string };

/** Limits that keep memory bounded whatever the input. */
export const CSV_LIMITS = {
  /** Most characters one record may hold (all its cells together). */
  maxRecordChars: 1_000_000,
} as const;

/** Where the reader is within a record. */
const STATE = {
  /** At the start of a cell. */
  cellStart: 0,
  /** Inside an unquoted cell. */
  unquoted: 1,
  /** Inside a quoted cell. */
  quoted: 2,
  /** Just after a quote inside a quoted cell: a second quote, a comma or a line break follows. */
  quoteInQuoted: 3,
  /** The record is malformed: skip to the end of its line, then report it. */
  skipping: 4,
} as const;

/** A reader state. */
type State = (typeof STATE)[keyof typeof STATE];

/** Reads `source` as CSV, yielding each record with the physical line it starts on. */
export async function* readCsv(source: TextSource): AsyncGenerator<CsvRecord> {
  let line = 1;
  let recordLine = 1;
  let state: State = STATE.cellStart;
  let cells: string[] = [];
  let cell = '';
  let recordChars = 0;
  let failure: string | undefined;
  /** Whether the current record has any content (a blank line has none). */
  let started = false;

  const finishRecord = (): CsvRecord | undefined => {
    const record: CsvRecord | undefined =
      failure !== undefined
        ? { line: recordLine, ok: false, reason: failure }
        : started
          ? { line: recordLine, ok: true, cells: [...cells, cell] }
          : undefined;
    cells = [];
    cell = '';
    recordChars = 0;
    failure = undefined;
    started = false;
    return record;
  };
  /** Marks the record malformed; the caller switches to skipping the rest of its line. */
  const fail = (reason: string): State => {
    failure = reason;
    cells = [];
    cell = '';
    return STATE.skipping;
  };

  for await (const chunk of decodeText(source)) {
    for (const char of chunk) {
      if (!started && char !== '\n') {
        started = true;
        recordLine = line;
      }
      if (state !== STATE.skipping && ++recordChars > CSV_LIMITS.maxRecordChars) {
        state = fail(`is longer than ${CSV_LIMITS.maxRecordChars} characters`);
      }
      switch (state) {
        case STATE.skipping:
          break;
        case STATE.cellStart:
          if (char === '"') {
            state = STATE.quoted;
            continue;
          }
          state = STATE.unquoted;
          break;
        case STATE.quoted:
          if (char === '"') state = STATE.quoteInQuoted;
          else {
            if (char === '\n') line += 1;
            cell += char;
          }
          continue;
        case STATE.quoteInQuoted:
          if (char === '"') {
            cell += '"';
            state = STATE.quoted;
            continue;
          }
          if (char !== ',' && char !== '\n') {
            state = fail(
              'has characters after a closing quote; quote the whole cell and double inner quotes',
            );
          }
          break;
      }
      // Unquoted content, a separator, or a line break (also after a closed quote or while skipping).
      if (char === '\n') {
        line += 1;
        const record = finishRecord();
        state = STATE.cellStart;
        if (record) yield record;
      } else if (state === STATE.skipping) {
        // Discard until the end of the line.
      } else if (char === ',') {
        cells.push(cell);
        cell = '';
        state = STATE.cellStart;
      } else if (char === '"') {
        state = fail(
          'has a quote inside an unquoted cell; quote the whole cell and double inner quotes',
        );
      } else {
        cell += char;
      }
    }
  }
  if (state === STATE.quoted) failure = 'has a quoted cell that is never closed';
  const record = finishRecord();
  if (record) yield record;
}
