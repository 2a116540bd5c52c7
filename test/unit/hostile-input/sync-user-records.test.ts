/**
 * Hostile message bodies as `sync-user` receives them from a queue (a producer may publish straight
 * to it): an invalid body fails for good with a ValidationError, and neither that error nor the ids
 * the failure record is filed under carry a planted value.
 */
import type { SQSRecord } from 'aws-lambda';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { parsePartnerEventJson } from '#lib/events/partner-event.ts';
import { type SyncUserWorkDeps, syncUserWork } from '#lib/sync/record-work.ts';
import { hasCanary, hostileEventArbitrary, nastyTextArbitrary } from './hostile.ts';

/** An SQS record of the user-events queue carrying `body`. */
function recordOf(body: string): SQSRecord {
  return {
    messageId: 'm-1',
    receiptHandle: 'r-1',
    body,
    attributes: {} as SQSRecord['attributes'],
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:upheal-sync-test-user-events.fifo',
    awsRegion: 'us-east-1',
  };
}

/** Whether `body` is a valid event (those reach the use case, which other tests cover). */
function isValid(body: string): boolean {
  try {
    parsePartnerEventJson(body);
    return true;
  } catch {
    return false;
  }
}

// Validation runs before any dependency is used: an invalid body never reaches them.
const work = syncUserWork({} as SyncUserWorkDeps);

describe('sync-user under hostile message bodies', () => {
  it('fails an invalid body for good and files it without a planted value', async () => {
    const bodyArbitrary = fc.oneof(
      hostileEventArbitrary.map((event) => JSON.stringify(event)),
      nastyTextArbitrary,
    );
    await fc.assert(
      fc.asyncProperty(bodyArbitrary, async (body) => {
        fc.pre(!isValid(body));
        const record = recordOf(body);
        const error = await work.run(record).then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).retryable).toBe(false);
        expect(hasCanary((error as ValidationError).message)).toBe(false);
        expect(hasCanary(JSON.stringify(work.describe(record)))).toBe(false);
      }),
      { seed: 1306, numRuns: 300 },
    );
  });
});
