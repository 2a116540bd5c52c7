import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { detectFormat } from '#lib/import/format.ts';

describe('detectFormat', () => {
  it.each([
    ['users.ndjson', 'ndjson'],
    ['exports/2026-11-27/users.jsonl', 'ndjson'],
    ['s3://bucket/imports/USERS.CSV', 'csv'],
    ['users.v2.csv', 'csv'],
  ])('reads %s as %s', (fileName, format) => {
    expect(detectFormat(fileName)).toBe(format);
  });

  it.each(['users.json', 'users.xlsx', 'users', 'csv', 'dir.csv/users', '.ndjson.bak'])(
    'rejects %s on the file field, listing the supported extensions',
    (fileName) => {
      let caught: unknown;
      try {
        detectFormat(fileName);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ValidationError);
      expect((caught as ValidationError).issues).toEqual([
        {
          field: 'file',
          reason: 'has no supported extension; expected one of: .ndjson, .jsonl, .csv',
        },
      ]);
    },
  );
});
