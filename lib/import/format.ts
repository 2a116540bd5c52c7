/** The import file formats and how a file's name selects one. */
import { ValidationError } from '#lib/errors.ts';

/** The supported import formats. */
export const IMPORT_FORMATS = { ndjson: 'ndjson', csv: 'csv' } as const;

/** One import format. */
export type ImportFormat = (typeof IMPORT_FORMATS)[keyof typeof IMPORT_FORMATS];

/** File extensions (lower-case) and the format each one means. */
export const FORMAT_BY_EXTENSION: Readonly<Record<string, ImportFormat>> = {
  '.ndjson': IMPORT_FORMATS.ndjson,
  '.jsonl': IMPORT_FORMATS.ndjson,
  '.csv': IMPORT_FORMATS.csv,
};

/**
 * The format of an import file from its name's extension (case-insensitive). Throws a
 * `ValidationError` on field `file` for any other extension.
 */
export function detectFormat(fileName: string): ImportFormat {
  const match = /\.[^./\\]+$/.exec(fileName);
  const format = match ? FORMAT_BY_EXTENSION[match[0].toLowerCase()] : undefined;
  if (format) return format;
  const known = Object.keys(FORMAT_BY_EXTENSION).join(', ');
  throw new ValidationError([
    { field: 'file', reason: `has no supported extension; expected one of: ${known}` },
  ]);
}
