import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parsePartnerEvent } from '#lib/events/partner-event.ts';
import type { ImportRecord } from '#lib/import/import-record.ts';
import { toImportEvent } from '#lib/import/to-event.ts';
import {
  clientFieldsArbitrary,
  idArbitrary,
  providerFieldsArbitrary,
} from '../events/arbitraries.ts';

/** Any valid import record. */
const recordArbitrary: fc.Arbitrary<ImportRecord> = fc.oneof(
  fc.record({
    kind: fc.constant('provider' as const),
    partnerUserId: idArbitrary,
    fields: providerFieldsArbitrary,
  }),
  fc.record({
    kind: fc.constant('client' as const),
    partnerUserId: idArbitrary,
    fields: clientFieldsArbitrary,
  }),
);

describe('toImportEvent', () => {
  it('makes a provider record a provider.created event with its full state', () => {
    const fields = { email: 'dana.doe@example.com', firstName: 'Dana', lastName: 'Doe' };
    expect(
      toImportEvent(
        { kind: 'provider', partnerUserId: 'p-1', fields },
        'job-1:2',
        '2026-11-27T08:00:00.000Z',
      ),
    ).toEqual({
      eventId: 'job-1:2',
      type: 'provider.created',
      occurredAt: '2026-11-27T08:00:00.000Z',
      partnerUserId: 'p-1',
      data: fields,
    });
  });

  it('makes every valid record a valid partner event of its kind', () => {
    fc.assert(
      fc.property(recordArbitrary, (record) => {
        const event = toImportEvent(record, 'job-1:7', '2026-11-27T08:00:00.000Z');
        expect(parsePartnerEvent(JSON.parse(JSON.stringify(event)))).toEqual(event);
        expect(event.type).toBe(`${record.kind}.created`);
      }),
      { numRuns: 100 },
    );
  });
});
