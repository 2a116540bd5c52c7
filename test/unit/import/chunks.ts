/** Test helpers that feed text to the streaming readers the way a network stream would. */
import fc from 'fast-check';

/** Splits `text` at `cuts` (any numbers; used modulo the length) into string chunks. */
export function stringChunks(text: string, cuts: readonly number[]): string[] {
  return splitAt(text.length, cuts).map(([start, end]) => text.slice(start, end));
}

/** Splits the UTF-8 bytes of `text` at `cuts`, possibly inside a multi-byte character. */
export function byteChunks(text: string, cuts: readonly number[]): Uint8Array[] {
  const bytes = Buffer.from(text, 'utf8');
  return splitAt(bytes.length, cuts).map(([start, end]) => bytes.subarray(start, end));
}

/** Sorted, distinct [start, end) ranges covering 0..length, cut at `cuts` modulo length. */
function splitAt(length: number, cuts: readonly number[]): [number, number][] {
  const points = [...new Set(cuts.map((cut) => (length === 0 ? 0 : cut % length)))]
    .filter((point) => point > 0)
    .sort((a, b) => a - b);
  const bounds = [0, ...points, length];
  const ranges: [number, number][] = [];
  for (let index = 0; index + 1 < bounds.length; index += 1) {
    ranges.push([bounds[index]!, bounds[index + 1]!]);
  }
  return ranges;
}

/** Cut points for `stringChunks` / `byteChunks`. */
export const cutsArbitrary = fc.array(fc.nat({ max: 100_000 }), { maxLength: 12 });

/** Collects an async iterable into an array. */
export async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
