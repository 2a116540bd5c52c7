import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { decodeText, firstInvalidUtf8, readLines } from '#lib/import/text-stream.ts';
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

describe('decodeText: strict UTF-8', () => {
  /** The error decoding `chunks` throws (fails the test when it decodes). */
  async function failure(chunks: Uint8Array[]): Promise<ValidationError> {
    try {
      await collect(decodeText(chunks));
    } catch (error) {
      if (error instanceof ValidationError) return error;
      throw error;
    }
    throw new Error('decoded without an error');
  }

  it('names Latin-1 and the line of the first byte that is not UTF-8', async () => {
    const bytes = Buffer.concat([
      Buffer.from('a,b\nc,d\nRen'),
      Buffer.from([0xe9]),
      Buffer.from(',x\n'),
    ]);
    const error = await failure([bytes]);
    expect(error.message).toBe(
      'line 3: (file): is not UTF-8: line 3 looks like Latin-1 (ISO-8859-1 or Windows-1252); re-export the file as UTF-8',
    );
  });

  it('counts the lines of earlier chunks', async () => {
    const error = await failure([
      Buffer.from('1\n2\n'),
      Buffer.from('3\n'),
      Buffer.from([0x41, 0xff, 0x0a]),
    ]);
    expect(error.location).toBe('line 4');
  });

  it('names UTF-16 by its byte-order mark or by its NUL bytes', async () => {
    const le = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from('kind,partnerUserId\n', 'utf16le'),
    ]);
    expect((await failure([le])).message).toContain(
      'is UTF-16LE (byte-order mark FF FE), not UTF-8',
    );
    const bare = Buffer.from('kind,partnerUserId\n', 'utf16le');
    expect((await failure([bare])).message).toContain(
      'is UTF-16LE (a NUL byte after every character)',
    );
    const be = Buffer.from('kind,partnerUserId\n', 'utf16le').swap16();
    expect((await failure([be])).message).toContain('UTF-16BE');
  });

  it('fails a file that ends inside a multi-byte character', async () => {
    const error = await failure([Buffer.from('ok\n'), Buffer.from([0xc3])]);
    expect(error.message).toContain('line 2 ends inside a character');
  });

  it('decodes valid UTF-8 cut anywhere, including inside a character', async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: 'grapheme' }), cutsArbitrary, async (text, cuts) => {
        // NUL bytes are UTF-16's signature (a UTF-8 export never has them); CRs become LFs.
        const plain = text.replace(/[\r\0]/g, '');
        const chunks = byteChunks(plain, cuts);
        expect((await collect(decodeText(chunks))).join('')).toBe(plain.replace(/^\uFEFF/, ''));
      }),
    );
  });

  it('finds the first invalid byte: overlongs, surrogates and stray continuation bytes', () => {
    expect(firstInvalidUtf8(Buffer.from('aé€😀'))).toBeUndefined();
    expect(firstInvalidUtf8(Uint8Array.from([0x61, 0xc0, 0x80]))).toBe(1);
    expect(firstInvalidUtf8(Uint8Array.from([0xed, 0xa0, 0x80]))).toBe(0);
    expect(firstInvalidUtf8(Uint8Array.from([0x61, 0x80]))).toBe(1);
    expect(firstInvalidUtf8(Uint8Array.from([0xf0, 0x9f]))).toBeUndefined();
  });
});
