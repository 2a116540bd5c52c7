import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePartnerEvent } from '#lib/events/partner-event.ts';
import type { ImportRow } from '#lib/import/import-record.ts';
import { parseImport } from '#lib/import/parse-import.ts';
import {
  EXISTING_PROVIDER_IDS,
  INVALID_ROWS,
  renderSamples,
  SAMPLE_SIZE,
} from '../../../samples/generate.ts';
import { collect } from './chunks.ts';

/** The directory of the bundled samples. */
const SAMPLES_DIR = join(import.meta.dirname, '../../../samples');

/** Parses a bundled sample file as a stream, the way the import reads it. */
function parseSample(name: string, format: 'ndjson' | 'csv'): Promise<ImportRow[]> {
  return collect(
    parseImport(createReadStream(join(SAMPLES_DIR, name), { highWaterMark: 1024 }), format),
  );
}

/** The invalid rows as partner id → the fields their error names. */
function invalidFields(rows: ImportRow[]): Record<string, string[]> {
  return Object.fromEntries(
    rows.flatMap((row) =>
      row.ok ? [] : [[row.partnerUserId ?? '?', row.error.issues.map((issue) => issue.field)]],
    ),
  );
}

describe('the bundled samples', () => {
  it('are exactly what samples/generate.ts produces', () => {
    for (const [name, text] of Object.entries(renderSamples())) {
      expect(readFileSync(join(SAMPLES_DIR, name), 'utf8'), name).toBe(text);
    }
  });

  it.each([
    ['import.ndjson', 'ndjson'],
    ['import.csv', 'csv'],
  ] as const)(
    '%s holds 40 providers, 400 clients and exactly the intended invalid rows',
    async (name, format) => {
      const rows = await parseSample(name, format);
      const valid = rows.flatMap((row) => (row.ok ? [row.record] : []));
      expect(valid.filter((record) => record.kind === 'provider')).toHaveLength(
        SAMPLE_SIZE.providers,
      );
      expect(valid.filter((record) => record.kind === 'client')).toHaveLength(SAMPLE_SIZE.clients);
      const expected = Object.fromEntries(
        Object.entries(INVALID_ROWS).map(([id, field]) => [id, [field]]),
      );
      expect(invalidFields(rows)).toEqual(expected);
    },
  );

  it('hold the same records in NDJSON and CSV', async () => {
    const records = (rows: ImportRow[]) => rows.flatMap((row) => (row.ok ? [row.record] : []));
    expect(records(await parseSample('import.csv', 'csv'))).toEqual(
      records(await parseSample('import.ndjson', 'ndjson')),
    );
  });

  it('have clients with two and with three providers', async () => {
    const rows = await parseSample('import.ndjson', 'ndjson');
    const counts = rows.flatMap((row) =>
      row.ok && row.record.kind === 'client'
        ? [row.record.fields.providerPartnerUserIds.length]
        : [],
    );
    expect(counts.filter((count) => count === 2).length).toBeGreaterThan(10);
    expect(counts.filter((count) => count === 3).length).toBeGreaterThan(3);
  });

  it('seed existing Upheal providers that are in the import with the same email', async () => {
    const rows = await parseSample('import.ndjson', 'ndjson');
    const emails = new Map(
      rows.flatMap((row) =>
        row.ok && row.record.kind === 'provider'
          ? [[row.record.fields.email, row.record.partnerUserId]]
          : [],
      ),
    );
    const existing = JSON.parse(readFileSync(join(SAMPLES_DIR, 'existing-users.json'), 'utf8')) as {
      userType: string;
      email: string;
      partnerUserId?: string;
    }[];
    expect(existing.map((user) => emails.get(user.email))).toEqual([...EXISTING_PROVIDER_IDS]);
    for (const user of existing) {
      expect(user.userType).toBe('HealthcareProvider');
      if (user.partnerUserId) expect(emails.get(user.email)).toBe(user.partnerUserId);
    }
  });

  it('have valid events, in time order, about users the import or an earlier event creates', async () => {
    const rows = await parseSample('import.ndjson', 'ndjson');
    const known = new Set(rows.flatMap((row) => (row.ok ? [row.record.partnerUserId] : [])));
    const lines = readFileSync(join(SAMPLES_DIR, 'events.ndjson'), 'utf8').trim().split('\n');
    const events = lines.map((line, index) =>
      parsePartnerEvent(JSON.parse(line), `event ${index + 1}`),
    );
    const types = new Set(events.map((event) => event.type));
    expect(types).toEqual(
      new Set([
        'provider.created',
        'provider.updated',
        'client.created',
        'client.updated',
        'client.providers_changed',
        'user.deleted',
      ]),
    );
    let previous = '';
    for (const event of events) {
      expect(event.occurredAt > previous).toBe(true);
      previous = event.occurredAt;
      if (event.type.endsWith('.created')) known.add(event.partnerUserId);
      expect(known.has(event.partnerUserId), event.eventId).toBe(true);
      const providers =
        event.data && 'providerPartnerUserIds' in event.data
          ? event.data.providerPartnerUserIds
          : [];
      for (const provider of providers) expect(known.has(provider), event.eventId).toBe(true);
    }
  });
});
