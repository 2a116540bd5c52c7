/**
 * Streaming text decoding shared by both import formats: bytes or strings in, UTF-8 text out,
 * chunk by chunk, never holding the whole file. A leading byte-order mark is dropped and every
 * line break (CRLF, LF, or a lone CR) becomes LF, even when a CRLF is split across chunks.
 */

/** Where import text comes from: a Node Readable, an S3 body stream, or an array in tests. */
export type TextSource = AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>;

/** The Unicode byte-order mark some spreadsheet exports put first. */
const BYTE_ORDER_MARK = '\uFEFF';

/** Decodes `source` into text chunks with LF line breaks and no leading byte-order mark. */
export async function* decodeText(source: TextSource): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
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
    const text = typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true });
    const chunk = normalise(text);
    if (chunk.length > 0) yield chunk;
  }
  const tail = normalise(decoder.decode());
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
