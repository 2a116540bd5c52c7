import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SQS_ID_LIMITS,
  SQS_ID_PATTERN,
  sqsDigestDeduplicationId,
  sqsEventDeduplicationId,
  sqsGroupId,
} from '#lib/sqs/message-ids.ts';

describe('sqsGroupId', () => {
  it('keeps short plain ASCII ids as they are', () => {
    expect(sqsGroupId('7d1c-4e2a_c:1001')).toBe('7d1c-4e2a_c:1001');
    expect(sqsGroupId('a'.repeat(SQS_ID_LIMITS.maxLength))).toBe(
      'a'.repeat(SQS_ID_LIMITS.maxLength),
    );
  });

  it('replaces ids with spaces, letters beyond ASCII or too many characters by a marked digest, stably', () => {
    for (const id of [
      'a'.repeat(SQS_ID_LIMITS.maxLength + 1),
      'c 1001',
      'ü-1',
      'café',
      'tab\there',
    ]) {
      const groupId = sqsGroupId(id);
      expect(groupId).toMatch(/^~h[0-9a-f]{64}$/);
      expect(sqsGroupId(id)).toBe(groupId);
    }
    expect(sqsGroupId('c 1001')).not.toBe(sqsGroupId('c 1002'));
  });

  it('never gives two different ids the same group, even an id that looks like a digest', () => {
    const digest = sqsGroupId('c 1001');
    expect(sqsGroupId(digest)).not.toBe(digest);
    fc.assert(
      fc.property(fc.string({ maxLength: 140 }), fc.string({ maxLength: 140 }), (a, b) => {
        fc.pre(a !== b && a.length > 0 && b.length > 0);
        expect(sqsGroupId(a)).not.toBe(sqsGroupId(b));
      }),
      { seed: 13, numRuns: 500 },
    );
  });

  it('always yields an id SQS accepts', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }), (id) => {
        expect(sqsGroupId(id)).toMatch(SQS_ID_PATTERN);
        expect(sqsEventDeduplicationId(id)).toMatch(SQS_ID_PATTERN);
      }),
      { seed: 13 },
    );
  });
});

describe('sqsDigestDeduplicationId', () => {
  it('is a hex digest that tells its parts apart', () => {
    const id = sqsDigestDeduplicationId(['job-1', '12']);
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    expect(sqsDigestDeduplicationId(['job-1', '12'])).toBe(id);
    expect(sqsDigestDeduplicationId(['job-11', '2'])).not.toBe(id);
  });
});
