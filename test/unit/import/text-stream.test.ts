import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeText, readLines } from '#lib/import/text-stream.ts';
import { byteChunks, collect, cutsArbitrary, stringChunks } from './chunks.ts';

/** The whole decoded text of some chunks. */
async function decoded(chunks: Iterable<string | Uint8Array>): Promise<string> {
  return (await collect(decodeText(chunks))).join('');
}

describe('decodeText', () => {
  it('turns CRLF and lone CR into LF', async () => {
    expect(await decoded(['a\r\nb\rc\nd'])).toBe('a\nb\nc\nd');
  });

  it('keeps one line break for a CRLF split across chunks', async () => {
    expect(await decoded(['a\r', '\nb'])).toBe('a\nb');
    expect(await decoded(['a\r', '', '\nb'])).toBe('a\nb');
  });

  it('ends a trailing lone CR as a line break', async () => {
    expect(await decoded(['a\r'])).toBe('a\n');
  });

  it('drops a leading byte-order mark from bytes and from strings, but no other', async () => {
    expect(await decoded([Buffer.from('\uFEFFkind', 'utf8')])).toBe('kind');
    expect(await decoded(['\uFEFFkind'])).toBe('kind');
    expect(await decoded(['', '\uFEFFa\uFEFF'])).toBe('a\uFEFF');
  });

  it('decodes multi-byte characters split across byte chunks', async () => {
    const bytes = Buffer.from('Zoë 🙂', 'utf8');
    const chunks = [...bytes].map((byte) => Uint8Array.of(byte));
    expect(await decoded(chunks)).toBe('Zoë 🙂');
  });

  it('decodes the same text however the bytes are chunked', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'binary' }), cutsArbitrary, async (text, cuts) => {
        const expected = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
        expect(await decoded(byteChunks(text, cuts))).toBe(expected);
        expect(await decoded(stringChunks(text, cuts))).toBe(expected);
      }),
      { numRuns: 200 },
    );
  });
});

describe('readLines', () => {
  it('numbers physical lines from 1 and keeps blank ones', async () => {
    expect(await collect(readLines(['a\n\nb\r\nc'], 100))).toEqual([
      { line: 1, text: 'a', tooLong: false },
      { line: 2, text: '', tooLong: false },
      { line: 3, text: 'b', tooLong: false },
      { line: 4, text: 'c', tooLong: false },
    ]);
  });

  it('yields no empty last line after a final line break', async () => {
    expect((await collect(readLines(['a\n'], 100))).map((line) => line.text)).toEqual(['a']);
  });

  it('flags a line longer than the limit without keeping its text, and goes on', async () => {
    expect(await collect(readLines(['12345', '6789\nok\n'], 5))).toEqual([
      { line: 1, text: '', tooLong: true },
      { line: 2, text: 'ok', tooLong: false },
    ]);
  });
});
