/** Upheal's webhook signatures: both schemes, rotation, tolerance, malformed headers. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  SIGNATURE_SCHEMES,
  signWebhook,
  verifyWebhook,
  WEBHOOK_VERIFY_FAILURES,
} from '#lib/upheal-webhook/signature.ts';

const SECRET = 'upheal-webhook-secret-0001';
const OLD_SECRET = 'upheal-webhook-secret-0000';
const NOW = 1_795_770_000_000;
const TOLERANCE = 300_000;
const BODY = '{"type":"user.created","userId":"u-1","partnerUserId":"c-1"}';

describe('verifyWebhook', () => {
  it('accepts hex HMAC-SHA256 of the raw body by default, with or without a sha256= prefix', () => {
    const digest = createHmac('sha256', SECRET).update(BODY).digest('hex');
    for (const signature of [digest, `sha256=${digest}`, digest.toUpperCase()]) {
      const headers = { 'x-upheal-timestamp': String(NOW), 'x-upheal-signature': signature };
      expect(verifyWebhook('body', [SECRET], headers, BODY, NOW, TOLERANCE)).toEqual({
        ok: true,
        timestamp: NOW,
      });
    }
  });

  it('signs timestamp.body under the timestamp-body scheme, and the schemes do not cross', () => {
    const signed = signWebhook(SIGNATURE_SCHEMES.timestampBody, SECRET, BODY, NOW);
    const expected = createHmac('sha256', SECRET).update(`${NOW}.${BODY}`).digest('hex');
    expect(signed['x-upheal-signature']).toBe(expected);
    expect(verifyWebhook('timestamp-body', [SECRET], signed, BODY, NOW, TOLERANCE).ok).toBe(true);
    expect(verifyWebhook('body', [SECRET], signed, BODY, NOW, TOLERANCE)).toEqual({
      ok: false,
      reason: WEBHOOK_VERIFY_FAILURES.badSignature,
    });
  });

  it('accepts either secret during a rotation, and the old one no more once it is removed', () => {
    const signedOld = signWebhook('body', OLD_SECRET, BODY, NOW);
    expect(verifyWebhook('body', [SECRET, OLD_SECRET], signedOld, BODY, NOW, TOLERANCE).ok).toBe(
      true,
    );
    expect(verifyWebhook('body', [SECRET], signedOld, BODY, NOW, TOLERANCE).ok).toBe(false);
  });

  it('checks the exact bytes: a re-serialised body does not verify', () => {
    const signed = signWebhook('body', SECRET, BODY, NOW);
    const reserialised = JSON.stringify(JSON.parse(BODY), null, 1);
    expect(verifyWebhook('body', [SECRET], signed, reserialised, NOW, TOLERANCE).ok).toBe(false);
    expect(
      verifyWebhook('body', [SECRET], signed, Buffer.from(BODY, 'utf8'), NOW, TOLERANCE).ok,
    ).toBe(true);
  });

  it.each([
    [{}, WEBHOOK_VERIFY_FAILURES.missingTimestamp],
    [{ 'x-upheal-timestamp': '2026-12-02T08:00:00Z' }, WEBHOOK_VERIFY_FAILURES.malformedTimestamp],
    [{ 'x-upheal-timestamp': String(NOW - TOLERANCE - 1) }, WEBHOOK_VERIFY_FAILURES.staleTimestamp],
    [
      { 'x-upheal-timestamp': String(NOW + TOLERANCE + 1) },
      WEBHOOK_VERIFY_FAILURES.futureTimestamp,
    ],
    [{ 'x-upheal-timestamp': String(NOW) }, WEBHOOK_VERIFY_FAILURES.missingSignature],
    [
      { 'x-upheal-timestamp': String(NOW), 'x-upheal-signature': 'v1=zz' },
      WEBHOOK_VERIFY_FAILURES.malformedSignature,
    ],
  ])('refuses %j: %s', (headers, reason) => {
    expect(verifyWebhook('body', [SECRET], headers, BODY, NOW, TOLERANCE)).toEqual({
      ok: false,
      reason,
    });
  });

  it('accepts a timestamp at the tolerance either way', () => {
    for (const at of [NOW - TOLERANCE, NOW + TOLERANCE]) {
      const signed = signWebhook('body', SECRET, BODY, at);
      expect(verifyWebhook('body', [SECRET], signed, BODY, NOW, TOLERANCE).ok).toBe(true);
    }
  });
});
