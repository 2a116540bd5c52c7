/**
 * `upheal-sync mappings export`: the partner id → Upheal id map, streamed as CSV or NDJSON to
 * stdout or a file. It is the partner's recovery path when outbound events were missed (they are
 * kept 4 days): the export says which Upheal id each partner user has, and in which state.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { ValidationError } from '#lib/errors.ts';
import { parseFlags, stringFlag } from '#tools/cli/args.ts';
import { type CliCommand, EXIT, processContext } from '#tools/cli/command.ts';
import {
  type MappingRow,
  mappingCsvHeader,
  mappingCsvLine,
  scanMappings,
} from '#tools/cli/mappings.ts';
import { targetFromEnv } from '#tools/cli/target.ts';

const FORMATS = ['csv', 'ndjson'] as const;

const USAGE = `Usage: upheal-sync mappings export [--format csv|ndjson] [--out FILE]

Exports every user mapping: partnerUserId, kind (provider|client), uphealUserId, state
(pending|active|deleted), version (occurredAt of the last applied event) and versionEventId.
Streamed, so any size fits. This is how the partner recovers the Upheal ids when it missed
outbound events: store uphealUserId by partnerUserId. A deleted user keeps the Upheal id it had.
Ids only: no names, emails or other personal data.

Options:
  --format csv|ndjson  csv (default; a header line, RFC 4180) or ndjson (one JSON object per line)
  --out FILE           write to FILE (created or replaced) instead of stdout
  -h, --help           show this help
The count goes to stderr.
`;

/** Writes text to the file stream, waiting when it is full (memory stays flat). */
async function writeTo(stream: WriteStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

/** The `mappings` command. */
export const mappingsCommand: CliCommand = {
  name: 'mappings',
  summary: 'export the partner id → Upheal id map (CSV or NDJSON), e.g. after missed events',
  usage: USAGE,
  targeted: true,
  async run(args, { env, output } = processContext()) {
    const parsed = parseFlags(args, { format: { type: 'string' }, out: { type: 'string' } });
    if (parsed.positionals.length !== 1 || parsed.positionals[0] !== 'export') {
      throw new ValidationError([{ field: 'action', reason: 'the only action is export' }]);
    }
    const format = stringFlag(parsed, 'format') ?? 'csv';
    if (!FORMATS.includes(format as (typeof FORMATS)[number])) {
      throw new ValidationError([{ field: '--format', reason: 'must be csv or ndjson' }]);
    }
    const outPath = stringFlag(parsed, 'out');
    const target = targetFromEnv(env);
    const file = outPath === undefined ? undefined : createWriteStream(outPath, { mode: 0o600 });
    const write = file
      ? (text: string) => writeTo(file, text)
      : async (text: string) => output.stdout(text);
    const line = (row: MappingRow) =>
      format === 'csv' ? mappingCsvLine(row) : `${JSON.stringify(row)}\n`;
    try {
      if (file) await once(file, 'open');
      if (format === 'csv') await write(mappingCsvHeader());
      let count = 0;
      for await (const rows of scanMappings(target.documents, target.tableName)) {
        await write(rows.map(line).join(''));
        count += rows.length;
      }
      output.stderr(`exported ${count} mapping(s)${outPath ? ` to ${outPath}` : ''}\n`);
      return EXIT.ok;
    } finally {
      // A stream that failed to open is already destroyed (and closed).
      if (file && !file.destroyed) {
        file.end();
        await once(file, 'close');
      }
      target.close();
    }
  },
};
