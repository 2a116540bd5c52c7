/**
 * Hostile NDJSON files through `send-events`' reader: hostile events, arbitrary Unicode and raw
 * bytes as lines. It resolves with the events or throws one ValidationError whose every issue names
 * its line; never another error, never a planted value in the message.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { readEvents } from '#tools/cli/commands/send-events.ts';
import {
  breakBytes,
  hasCanary,
  hostileEventArbitrary,
  nastyTextArbitrary,
  unhandledRejectionsDuring,
} from './hostile.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hostile-lines-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const NOW = Date.parse('2026-11-27T09:00:00.000Z');

/** One line of the file, as bytes: a hostile event, nasty text, raw bytes or a broken event. */
const lineArbitrary: fc.Arbitrary<Uint8Array> = fc.oneof(
  hostileEventArbitrary.map((event) => Buffer.from(JSON.stringify(event), 'utf8')),
  nastyTextArbitrary.map((text) => Buffer.from(text.replace(/[\n\r]/g, ' '), 'utf8')),
  fc
    .uint8Array({ maxLength: 80 })
    .map((bytes) => bytes.filter((byte) => byte !== 10 && byte !== 13)),
  fc
    .tuple(hostileEventArbitrary, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.boolean())
    .map(([event, position, byte, truncate]) =>
      breakBytes(JSON.stringify(event), position, byte === 10 || byte === 13 ? 32 : byte, truncate),
    ),
);

describe('send-events under hostile input', () => {
  it('reads a file of hostile lines or names every bad line, never echoing a planted value', async () => {
    let run = 0;
    const unhandled = await unhandledRejectionsDuring(() =>
      fc.assert(
        fc.asyncProperty(fc.array(lineArbitrary, { minLength: 1, maxLength: 8 }), async (lines) => {
          run += 1;
          const path = join(dir, `events-${run}.ndjson`);
          await writeFile(path, Buffer.concat(lines.flatMap((line) => [line, Buffer.from('\n')])));
          try {
            const events = await readEvents(path, { now: NOW });
            expect(events.length).toBeLessThanOrEqual(lines.length);
          } catch (error) {
            expect(error).toBeInstanceOf(ValidationError);
            const { issues, message } = error as ValidationError;
            expect(issues.length).toBeGreaterThan(0);
            for (const issue of issues) {
              const line = Number(/^line (\d+): \S/.exec(issue.field)?.[1]);
              expect(line).toBeGreaterThanOrEqual(1);
              expect(line).toBeLessThanOrEqual(lines.length);
              expect(issue.reason.length).toBeGreaterThan(0);
            }
            expect(hasCanary(message)).toBe(false);
          }
        }),
        { seed: 1303, numRuns: 150 },
      ),
    );
    expect(unhandled).toEqual([]);
  });
});
