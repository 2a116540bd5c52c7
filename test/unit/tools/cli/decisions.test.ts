/**
 * The CLI's pure decisions: when a sent event is settled, what verify makes of Upheal's answer,
 * which users a sample takes, how an import location is read, and the export's CSV lines.
 */
import { describe, expect, it } from 'vitest';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import { deleted, providerEvent, providersChanged } from '#test/helpers/events.ts';
import { locationOf } from '#tools/cli/dry-run.ts';
import { mappingCsvLine, mappingRow } from '#tools/cli/mappings.ts';
import { type SettleFacts, settlementOf } from '#tools/cli/settle.ts';
import { type Candidate, findingOf, sampleOf } from '#tools/cli/verify.ts';

const mapping = (overrides: Partial<UserMapping> = {}): UserMapping => ({
  partnerUserId: 'p-1',
  kind: 'provider',
  state: 'active',
  uphealUserId: 'u-1',
  rev: 1,
  updatedAt: '2026-11-01T00:00:00.000Z',
  ...overrides,
});

const facts = (overrides: Partial<SettleFacts> = {}): SettleFacts => ({
  mappings: new Map(),
  failed: new Set(),
  staged: new Set(),
  ...overrides,
});

describe('settlementOf', () => {
  const event = providerEvent('p-1', 5);

  it('is pending until the mapping holds its version or a newer one', () => {
    expect(settlementOf(event, facts())).toBe('pending');
    const older = { ms: Date.parse(event.occurredAt) - 1, eventId: 'e-0' };
    const applied = { ms: Date.parse(event.occurredAt), eventId: event.eventId };
    const newer = { ms: Date.parse(event.occurredAt) + 1, eventId: 'e-9' };
    const withVersion = (version: typeof older) =>
      facts({ mappings: new Map([['p-1', mapping({ version })]]) });
    expect(settlementOf(event, withVersion(older))).toBe('pending');
    expect(settlementOf(event, withVersion(applied))).toBe('applied');
    expect(settlementOf(event, withVersion(newer))).toBe('applied');
  });

  it('reads the providers version for a provider list, and failures and staged deletes first', () => {
    const list = providersChanged('c-1', ['p-1'], 5);
    const version = { ms: Date.parse(list.occurredAt), eventId: list.eventId };
    expect(settlementOf(list, facts({ mappings: new Map([['c-1', mapping({ version })]]) }))).toBe(
      'pending',
    );
    expect(
      settlementOf(
        list,
        facts({ mappings: new Map([['c-1', mapping({ providersVersion: version })]]) }),
      ),
    ).toBe('applied');
    expect(settlementOf(event, facts({ failed: new Set([event.eventId]) }))).toBe('failed');
    const deletion = deleted('p-1', 6);
    expect(settlementOf(deletion, facts({ staged: new Set([deletion.eventId]) }))).toBe('staged');
  });
});

describe('findingOf', () => {
  it('tells gone, owned by another id, deactivated, and nothing', () => {
    expect(findingOf(mapping(), { exists: false })).toBe('gone');
    expect(findingOf(mapping(), { exists: true, userId: 'u-2', isActive: true })).toBe(
      'emailOwnedByOther',
    );
    expect(findingOf(mapping(), { exists: true, userId: 'u-1', isActive: false })).toBe(
      'deactivated',
    );
    expect(findingOf(mapping(), { exists: true, userId: 'u-1', isActive: undefined })).toBe(
      undefined,
    );
  });
});

describe('sampleOf', () => {
  const candidates: Candidate[] = Array.from({ length: 20 }, (_, index) => ({
    mapping: mapping({ partnerUserId: `p-${index}` }),
    email: `user${index}@example.com`,
  }));

  it('takes the same users whatever the order, and all when the sample is larger', () => {
    const ids = (list: Candidate[]) => list.map((candidate) => candidate.mapping.partnerUserId);
    const sample = sampleOf(candidates, 5);
    expect(sample).toHaveLength(5);
    expect(ids(sampleOf([...candidates].reverse(), 5))).toEqual(ids(sample));
    expect(sampleOf(candidates, 50)).toHaveLength(20);
    expect(sampleOf(candidates, undefined)).toHaveLength(20);
  });
});

describe('locationOf and the export line', () => {
  it('reads s3://bucket/key as an object and anything else as a path', () => {
    expect(locationOf('s3://b/dir/export.csv')).toEqual({ bucket: 'b', key: 'dir/export.csv' });
    expect(locationOf('exports/x.ndjson')).toEqual({ path: 'exports/x.ndjson' });
    expect(() => locationOf('s3://bucket-only')).toThrow('FILE: an S3 location is s3://BUCKET/KEY');
  });

  it('exports a deleted user with the Upheal id it had, quoted when needed', () => {
    const row = mappingRow({
      ...mapping({ partnerUserId: 'p,1', state: 'deleted', uphealUserId: undefined }),
      deletedUphealUserId: 'u-9',
      version: { ms: Date.parse('2026-11-02T00:00:00.000Z'), eventId: 'e-7' },
    });
    expect(mappingCsvLine(row)).toBe('"p,1",provider,u-9,deleted,2026-11-02T00:00:00.000Z,e-7\r\n');
  });
});
