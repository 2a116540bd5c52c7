/**
 * A streaming RFC 4180 reader built on `csv-parse`: fields separated by commas, optionally quoted
 * with `"`, a doubled `""` inside quotes standing for one quote, commas and line breaks allowed
 * inside quotes. Tolerances beyond the RFC: LF as well as CRLF, a leading byte-order mark, blank
 * lines skipped.
 *
 * `csv-parse` cannot find its way back after a malformed record: an unclosed quote swallows every
 * later row, and after a bad closing quote its skip mode loses the rows that follow. So records
 * are framed here first, by physical lines and quote parity (in valid CSV a line break inside a
 * record lies inside quotes, where the count of `"` so far is odd), with a bound on a record's
 * size; `csv-parse` then reads the cells of well-framed blocks. A malformed record is reported on
 * the line where it starts, and reading resumes on the next line, so one stray quote costs one
 * row, never the rest of the file.
 */
import { parse } from 'csv-parse/sync';
import { readLines, type TextSource } from './text-stream.ts';

/** One CSV record: its cells, or why it could not be read. */
export type CsvRecord =
  | { readonly line: number; readonly ok: true; readonly cells: readonly string[] }
  | { readonly line: number; readonly ok: false; readonly reason: string };

/** Limits that keep memory bounded whatever the input. */
export const CSV_LIMITS = {
  /** Most characters one record may hold (all its cells together, line breaks included). */
  maxRecordChars: 1_000_000,
  /** Records handed to `csv-parse` at once (a block with a bad record is re-read record by record). */
  blockRecords: 512,
} as const;

/** Reasons for `csv-parse`'s error codes; its own messages quote the cell text, so never used. */
const REASONS: Readonly<Record<string, string>> = {
  CSV_QUOTE_NOT_CLOSED: 'has a quoted cell that is never closed',
  CSV_INVALID_CLOSING_QUOTE:
    'has characters after a closing quote; quote the whole cell and double inner quotes',
  INVALID_OPENING_QUOTE:
    'has a quote inside an unquoted cell; quote the whole cell and double inner quotes',
};

/** The reason for a record that is not valid CSV, from the parser's error code. */
function reasonOf(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return (typeof code === 'string' && REASONS[code]) || 'is not valid CSV';
}

/** The reason for a record that never ends within the size bound. */
const UNCLOSED_OR_TOO_LONG = `has a quoted cell that is never closed (or a record longer than ${CSV_LIMITS.maxRecordChars} characters)`;

/** The options every `csv-parse` call uses: cells as written, rows of any width (checked later). */
const PARSE_OPTIONS = { relax_column_count: true, bom: true } as const;

/** One framed record: its physical lines and the number of the first. */
interface Frame {
  readonly line: number;
  readonly lines: readonly string[];
}

/** Counts `"` in `text`. */
function quotes(text: string): number {
  let count = 0;
  for (let index = text.indexOf('"'); index !== -1; index = text.indexOf('"', index + 1)) {
    count += 1;
  }
  return count;
}

/**
 * Frames physical lines into records by quote count, hands frames to `csv-parse` a block at a
 * time, and re-frames the lines after a malformed record so later rows are still read.
 */
class CsvFramer {
  /** Lines not yet framed: the input, plus lines handed back when a frame proved malformed. */
  readonly queue: { line: number; text: string; tooLong: boolean }[] = [];
  pending: { line: number; lines: string[]; chars: number; quotes: number } | undefined;
  block: Frame[] = [];

  /** True while lines, a frame or a block are left. */
  get busy(): boolean {
    return this.queue.length > 0 || this.pending !== undefined || this.block.length > 0;
  }

  /** Frames the queued lines; yields records of malformed frames and full blocks. */
  *frame(atEnd: boolean): Generator<CsvRecord> {
    for (;;) {
      const next = this.queue.shift();
      if (next === undefined) {
        if (atEnd && this.pending) {
          // The file ended inside quotes: the record is malformed; its other lines are re-read.
          yield* this.abandon();
          continue;
        }
        return;
      }
      if (next.tooLong) {
        if (this.pending) {
          this.queue.unshift(next);
          yield* this.abandon();
          continue;
        }
        const requeued = yield* this.flushBlock();
        // Lines handed back by the block come before this one: read them first.
        if (requeued > 0) this.queue.splice(requeued, 0, next);
        else yield { line: next.line, ok: false, reason: UNCLOSED_OR_TOO_LONG };
        continue;
      }
      if (!this.pending) {
        if (next.text.length === 0) continue;
        this.pending = { line: next.line, lines: [], chars: 0, quotes: 0 };
      }
      this.pending.lines.push(next.text);
      this.pending.chars += next.text.length + 1;
      this.pending.quotes += quotes(next.text);
      if (this.pending.chars > CSV_LIMITS.maxRecordChars) {
        yield* this.abandon();
        continue;
      }
      if (this.pending.quotes % 2 === 0) {
        this.block.push({ line: this.pending.line, lines: this.pending.lines });
        this.pending = undefined;
        if (this.block.length >= CSV_LIMITS.blockRecords) yield* this.flushBlock();
      }
    }
  }

  /** Reports the this.pending frame's first line as malformed and queues its other lines again. */
  *abandon(): Generator<CsvRecord> {
    const failed = this.pending!;
    this.pending = undefined;
    const requeued = yield* this.flushBlock();
    if (requeued > 0) {
      // The block handed lines back that come before this frame: frame them, then this one again.
      this.queue.splice(requeued, 0, ...linesOf(failed));
      return;
    }
    const rest = failed.lines.slice(1).map((text, index) => ({
      line: failed.line + 1 + index,
      text,
      tooLong: false,
    }));
    this.queue.unshift(...rest);
    yield { line: failed.line, ok: false, reason: reasonFor(failed.lines[0]!) };
  }

  /**
   * Parses the framed block: in one call when all of it is valid, else frame by frame. Returns
   * how many lines it handed back to the front of the this.queue (after a malformed multi-line frame).
   */
  *flushBlock(): Generator<CsvRecord, number> {
    const frames = this.block;
    this.block = [];
    if (frames.length === 0) return 0;
    try {
      const rows = parse(frames.map((f) => f.lines.join('\n')).join('\n'), PARSE_OPTIONS);
      if (rows.length === frames.length) {
        for (const [index, cells] of rows.entries()) {
          yield { line: frames[index]!.line, ok: true, cells };
        }
        return 0;
      }
    } catch {
      // Some frame is malformed: found below, one frame at a time.
    }
    for (const [index, frame] of frames.entries()) {
      const cells = parseOne(frame.lines.join('\n'));
      if (Array.isArray(cells)) {
        yield { line: frame.line, ok: true, cells };
        continue;
      }
      if (frame.lines.length === 1) {
        yield { line: frame.line, ok: false, reason: cells };
        continue;
      }
      // A multi-line frame that is not one valid record opened a quote it never closed on its
      // first line: that line fails; the lines after it, and later frames, are framed again.
      const handedBack = [...linesOf(frame).slice(1), ...frames.slice(index + 1).flatMap(linesOf)];
      this.queue.unshift(...handedBack);
      yield { line: frame.line, ok: false, reason: reasonFor(frame.lines[0]!) };
      return handedBack.length;
    }
    return 0;
  }
}

/** Reads `source` as CSV, yielding each record with the physical line it starts on. */
export async function* readCsv(source: TextSource): AsyncGenerator<CsvRecord> {
  const framer = new CsvFramer();
  for await (const line of readLines(source, CSV_LIMITS.maxRecordChars)) {
    framer.queue.push(line);
    yield* framer.frame(false);
  }
  // A malformed frame in the last block hands lines back: frame until nothing is left.
  while (framer.busy) {
    yield* framer.frame(true);
    yield* framer.flushBlock();
  }
}

/** The cells of one record's text, or the reason it is not exactly one valid record. */
function parseOne(text: string): string[] | string {
  try {
    const rows = parse(text, PARSE_OPTIONS);
    return rows.length === 1 ? rows[0]! : 'is not valid CSV';
  } catch (error) {
    return reasonOf(error);
  }
}

/** Why a single line is malformed on its own (the first line of an abandoned record). */
function reasonFor(line: string): string {
  const cells = parseOne(line);
  return typeof cells === 'string' ? cells : UNCLOSED_OR_TOO_LONG;
}

/** The physical lines of a frame, numbered, as the framer queues them. */
function linesOf(frame: Frame): { line: number; text: string; tooLong: boolean }[] {
  return frame.lines.map((text, index) => ({ line: frame.line + index, text, tooLong: false }));
}
