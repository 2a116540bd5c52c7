/**
 * Streaming text decoding shared by both import formats: bytes or strings in, UTF-8 text out,
 * chunk by chunk, never holding the whole file. Decoding is strict: bytes that are not UTF-8 stop
 * the read with a `ValidationError` naming the line, and a UTF-16 or Latin-1 export is named as
 * such (re-export as UTF-8), so a client's name never reaches Upheal garbled. A leading byte-order
 * mark is dropped and every line break (CRLF, LF, or a lone CR) becomes LF, even when a CRLF is
 * split across chunks.
 */
import { ValidationError } from '#lib/errors.ts';

/** Where import text comes from: a Node Readable, an S3 body stream, or an array in tests. */
export type TextSource = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

/** The Unicode byte-order mark some spreadsheet exports put first. */
const BYTE_ORDER_MARK = '\uFEFF';

/** Field name of a problem with the file's bytes as a whole. */
export const FILE_FIELD = '(file)';

/** What the reader asks of a file that is not UTF-8. */
const REEXPORT = 're-export the file as UTF-8';

/** The line feed byte, counted to locate a decoding error. */
const LF_BYTE = 0x0a;

/** Bytes inspected at the start of a file for the NUL pattern of UTF-16 without a byte-order mark. */
const UTF16_SNIFF_BYTES = 64;
/** Fewer bytes than this are too few to call a NUL pattern UTF-16. */
const UTF16_SNIFF_MIN_BYTES = 4;

/** Names a UTF-16 file from its first bytes (byte-order mark, or NULs in every other byte). */
export function utf16Name(start: Uint8Array): string | undefined {
  if (start[0] === 0xff && start[1] === 0xfe) return 'UTF-16LE (byte-order mark FF FE)';
  if (start[0] === 0xfe && start[1] === 0xff) return 'UTF-16BE (byte-order mark FE FF)';
  const sample = start.subarray(0, UTF16_SNIFF_BYTES);
  if (sample.length < UTF16_SNIFF_MIN_BYTES) return undefined;
  let evenNuls = 0;
  let oddNuls = 0;
  sample.forEach((byte, index) => {
    if (byte !== 0) return;
    if (index % 2 === 0) evenNuls += 1;
    else oddNuls += 1;
  });
  // ASCII text in UTF-16 has a NUL in every other byte: odd positions for LE, even for BE.
  const pairs = Math.floor(sample.length / 2);
  if (oddNuls * 2 > pairs && evenNuls === 0) return 'UTF-16LE (a NUL byte after every character)';
  if (evenNuls * 2 > pairs && oddNuls === 0) return 'UTF-16BE (a NUL byte before every character)';
  return undefined;
}

/**
 * The offset of the first byte of `bytes` that cannot start or continue a UTF-8 sequence (RFC
 * 3629: no overlongs, no surrogates, nothing above U+10FFFF), or undefined when all of it is
 * valid. A sequence cut off by the end of `bytes` counts as valid (the next chunk continues it).
 */
export function firstInvalidUtf8(bytes: Uint8Array): number | undefined {
  let index = 0;
  while (index < bytes.length) {
    const lead = bytes[index]!;
    if (lead < 0x80) {
      index += 1;
      continue;
    }
    let length: number;
    let min = 0x80;
    let max = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) length = 2;
    else if (lead >= 0xe0 && lead <= 0xef) {
      length = 3;
      if (lead === 0xe0) min = 0xa0;
      if (lead === 0xed) max = 0x9f;
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      length = 4;
      if (lead === 0xf0) min = 0x90;
      if (lead === 0xf4) max = 0x8f;
    } else return index;
    for (let next = 1; next < length; next += 1) {
      const byte = bytes[index + next];
      if (byte === undefined) return undefined;
      const low = next === 1 ? min : 0x80;
      const high = next === 1 ? max : 0xbf;
      if (byte < low || byte > high) return index;
    }
    index += length;
  }
  return undefined;
}

/** The error for bytes that are not UTF-8 at `line`: Latin-1 named when the bytes look like it. */
function notUtf8(line: number, bytes: Uint8Array, offset: number): ValidationError {
  // A lone byte of 0xA0–0xFF (é is E9 in Latin-1) or 0x80–0x9F (Windows-1252's quotes and dashes)
  // followed by ASCII is how those encodings write accented letters.
  const next = bytes[offset + 1];
  const latin1 = next === undefined || next < 0x80;
  const reason = latin1
    ? `is not UTF-8: line ${line} looks like Latin-1 (ISO-8859-1 or Windows-1252); ${REEXPORT}`
    : `is not UTF-8: line ${line} has bytes that are not valid UTF-8; ${REEXPORT}`;
  return new ValidationError([{ field: FILE_FIELD, reason }], `line ${line}`);
}

/** Counts line feeds in `bytes` before `end`. */
function countLineFeeds(bytes: Uint8Array, end: number): number {
  let count = 0;
  for (let index = bytes.indexOf(LF_BYTE); index !== -1 && index < end; ) {
    count += 1;
    index = bytes.indexOf(LF_BYTE, index + 1);
  }
  return count;
}

/** Strict UTF-8 decoding of byte chunks that knows the line it is on, for its errors. */
class StrictDecoder {
  readonly #decoder = new TextDecoder('utf-8', { ignoreBOM: true, fatal: true });
  /** Line feeds in the bytes decoded so far. */
  #lineFeeds = 0;
  #first = true;
  /** The undecoded tail of the previous chunk (an incomplete sequence), for error positions. */
  #carry: Uint8Array = new Uint8Array(0);

  decode(piece: Uint8Array): string {
    if (this.#first && piece.length > 0) {
      this.#first = false;
      const utf16 = utf16Name(piece);
      if (utf16 !== undefined) {
        throw new ValidationError(
          [{ field: FILE_FIELD, reason: `is ${utf16}, not UTF-8; ${REEXPORT}` }],
          'line 1',
        );
      }
    }
    let text: string;
    try {
      text = this.#decoder.decode(piece, { stream: true });
    } catch {
      // Located only on failure: the native decoder is far faster than the byte scan.
      const bytes = concat(this.#carry, piece);
      const invalid = firstInvalidUtf8(bytes) ?? 0;
      throw notUtf8(this.#lineFeeds + countLineFeeds(bytes, invalid) + 1, bytes, invalid);
    }
    this.#lineFeeds += countLineFeeds(piece, piece.length);
    const tail = piece.subarray(lastCompleteEnd(piece));
    // A sequence may span more than two chunks when they are tiny: keep every undecoded byte.
    this.#carry = tail.length === piece.length ? concat(this.#carry, tail) : tail;
    return text;
  }

  end(): string {
    try {
      return this.#decoder.decode();
    } catch {
      const line = this.#lineFeeds + 1;
      throw new ValidationError(
        [{ field: FILE_FIELD, reason: `is not UTF-8: line ${line} ends inside a character` }],
        `line ${line}`,
      );
    }
  }
}

/** The end of the last complete UTF-8 sequence in valid `bytes` (a cut-off one is carried). */
function lastCompleteEnd(bytes: Uint8Array): number {
  for (let back = 1; back <= 3 && back <= bytes.length; back += 1) {
    const byte = bytes[bytes.length - back]!;
    if (byte < 0x80) return bytes.length;
    if (byte >= 0xc0) {
      const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return length > back ? bytes.length - back : bytes.length;
    }
  }
  return bytes.length;
}

/** Two byte arrays as one. */
function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Decodes `source` into text chunks with LF line breaks and no leading byte-order mark. */
export async function* decodeText(source: TextSource): AsyncGenerator<string> {
  const decoder = new StrictDecoder();
  let atStart = true;
  let pendingCarriageReturn = false;
  const normalise = (text: string): string => {
    if (text.length === 0) return text;
    let chunk = text;
    if (atStart && chunk.length > 0) {
      atStart = false;
      if (chunk.startsWith(BYTE_ORDER_MARK)) chunk = chunk.slice(BYTE_ORDER_MARK.length);
    }
    if (pendingCarriageReturn) {
      // The CR ended the previous chunk: it was a line break; an LF right after it is its pair.
      pendingCarriageReturn = false;
      chunk = `\n${chunk.startsWith('\n') ? chunk.slice(1) : chunk}`;
    }
    if (chunk.endsWith('\r')) {
      pendingCarriageReturn = true;
      chunk = chunk.slice(0, -1);
    }
    return chunk.replace(/\r\n?/g, '\n');
  };
  for await (const piece of source) {
    const text = typeof piece === 'string' ? piece : decoder.decode(piece);
    const chunk = normalise(text);
    if (chunk.length > 0) yield chunk;
  }
  const tail = normalise(decoder.end());
  const rest = pendingCarriageReturn ? `${tail}\n` : tail;
  if (rest.length > 0) yield rest;
}
/** One physical line of text (1-based number), without its line break. */
export interface TextLine {
  /** Physical line number, counting from 1. */
  readonly line: number;
  /** The line's text; empty when `tooLong`. */
  readonly text: string;
  /** The line exceeded the caller's limit; its text was discarded to bound memory. */
  readonly tooLong: boolean;
}

/** Splits `source` into physical lines, discarding the text of lines longer than `maxChars`. */
export async function* readLines(source: TextSource, maxChars: number): AsyncGenerator<TextLine> {
  let line = 1;
  let buffer = '';
  let tooLong = false;
  for await (const chunk of decodeText(source)) {
    let start = 0;
    for (let end = chunk.indexOf('\n'); end !== -1; end = chunk.indexOf('\n', start)) {
      const text = tooLong ? '' : buffer + chunk.slice(start, end);
      const over = tooLong || text.length > maxChars;
      yield { line, text: over ? '' : text, tooLong: over };
      line += 1;
      buffer = '';
      tooLong = false;
      start = end + 1;
    }
    if (!tooLong) {
      buffer += chunk.slice(start);
      if (buffer.length > maxChars) {
        tooLong = true;
        buffer = '';
      }
    }
  }
  if (tooLong || buffer.length > 0) yield { line, text: buffer, tooLong };
}
