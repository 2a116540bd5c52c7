import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePartnerEvent } from '#lib/events/partner-event.ts';
import { parseImport } from '#lib/import/parse-import.ts';
import { collect } from './chunks.ts';

/** The fenced code blocks of one language in a doc under docs/. */
function codeBlocks(doc: string, language: string): string[] {
  const text = readFileSync(join(import.meta.dirname, '../../../docs', doc), 'utf8');
  const fence = new RegExp(`\`\`\`${language}\\n([\\s\\S]*?)\`\`\``, 'g');
  return [...text.matchAll(fence)].map((match) => match[1]!);
}

describe('the examples in the docs', () => {
  it('import-files.md: the NDJSON and CSV examples parse without errors', async () => {
    const [ndjson] = codeBlocks('import-files.md', 'json');
    const [csv] = codeBlocks('import-files.md', 'csv');
    const ndjsonRows = await collect(parseImport([ndjson!], 'ndjson'));
    const csvRows = await collect(parseImport([csv!], 'csv'));
    expect(ndjsonRows.map((row) => row.ok)).toEqual([true, true]);
    expect(csvRows.map((row) => row.ok)).toEqual([true, true, true]);
  });

  it('events.md: every example event is valid', () => {
    const lines = codeBlocks('events.md', 'json').flatMap((block) => block.trim().split('\n'));
    const events = lines
      .filter((line) => line.startsWith('{"eventId"'))
      .map((line) => parsePartnerEvent(JSON.parse(line)));
    expect(events.map((event) => event.type)).toEqual([
      'provider.created',
      'client.created',
      'client.providers_changed',
      'user.deleted',
    ]);
  });
});
