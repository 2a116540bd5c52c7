import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  computeSignature,
  SIGNATURE_HEADERS,
  sign,
  signedContentDigest,
  VERIFY_FAILURES,
  verify,
} from '#lib/signing.ts';

const SECRET = 'current-secret-0123456789';
const OLD_SECRET = 'previous-secret-0123456789';
const NOW = 1_795_770_000_000;
const WINDOW_MS = 300_000;
const BODY = '{"eventId":"e-1","type":"user.deleted"}';

const secretArb = fc.string({ minLength: 16, maxLength: 64 });
const bodyArb = fc.oneof(fc.string(), fc.uint8Array({ maxLength: 512 }));

describe('sign', () => {
  it('signs hex HMAC-SHA256 of "<timestamp>.<raw body>" as v1 with a millisecond timestamp', () => {
    const headers = sign(SECRET, BODY, NOW);
    const expected = createHmac('sha256', SECRET).update(`${NOW}.${BODY}`).digest('hex');
    expect(headers).toEqual({
      [SIGNATURE_HEADERS.timestamp]: String(NOW),
      [SIGNATURE_HEADERS.signature]: `v1=${expected}`,
    });
  });

  it('emits one comma-separated v1 value per secret during a rotation', () => {
    const headers = sign([SECRET, OLD_SECRET], BODY, NOW);
    expect(headers[SIGNATURE_HEADERS.signature]).toBe(
      `v1=${computeSignature(SECRET, String(NOW), BODY)},v1=${computeSignature(OLD_SECRET, String(NOW), BODY)}`,
    );
  });
});

describe('verify', () => {
  it('accepts any body signed with the shared secret (round trip)', () => {
    fc.assert(
      fc.property(
        secretArb,
        bodyArb,
        fc.integer({ min: -WINDOW_MS, max: WINDOW_MS }),
        (secret, body, skew) => {
          const headers = sign(secret, body, NOW + skew);
          expect(verify([secret], headers, body, NOW, WINDOW_MS)).toEqual({
            ok: true,
            timestamp: NOW + skew,
          });
        },
      ),
    );
  });

  it('treats a string body and its UTF-8 bytes as the same raw body', () => {
    const headers = sign(SECRET, 'café', NOW);
    expect(verify([SECRET], headers, Buffer.from('café', 'utf8'), NOW, WINDOW_MS).ok).toBe(true);
  });

  it('rejects a signature made with another secret', () => {
    fc.assert(
      fc.property(secretArb, secretArb, bodyArb, (signer, verifier, body) => {
        fc.pre(signer !== verifier);
        expect(verify([verifier], sign(signer, body, NOW), body, NOW, WINDOW_MS)).toEqual({
          ok: false,
          reason: VERIFY_FAILURES.badSignature,
        });
      }),
    );
  });

  it('rejects a tampered body', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (body, other) => {
        fc.pre(body !== other);
        const result = verify([SECRET], sign(SECRET, body, NOW), other, NOW, WINDOW_MS);
        expect(result).toEqual({ ok: false, reason: VERIFY_FAILURES.badSignature });
      }),
    );
  });

  it('rejects a timestamp changed after signing', () => {
    const headers = {
      ...sign(SECRET, BODY, NOW),
      [SIGNATURE_HEADERS.timestamp]: String(NOW + 1),
    };
    expect(verify([SECRET], headers, BODY, NOW, WINDOW_MS)).toEqual({
      ok: false,
      reason: VERIFY_FAILURES.badSignature,
    });
  });

  describe('secret rotation', () => {
    it('accepts a request signed with the old secret while both are configured', () => {
      const headers = sign(OLD_SECRET, BODY, NOW);
      expect(verify([SECRET, OLD_SECRET], headers, BODY, NOW, WINDOW_MS).ok).toBe(true);
    });

    it('accepts a request carrying both signatures when only the new secret is configured', () => {
      const headers = sign([OLD_SECRET, SECRET], BODY, NOW);
      expect(verify([SECRET], headers, BODY, NOW, WINDOW_MS).ok).toBe(true);
    });

    it('ignores values of other schemes next to a valid v1 value', () => {
      const v1 = sign(SECRET, BODY, NOW)[SIGNATURE_HEADERS.signature];
      const headers = {
        ...sign(SECRET, BODY, NOW),
        [SIGNATURE_HEADERS.signature]: `v2=abc, ${v1}`,
      };
      expect(verify([SECRET], headers, BODY, NOW, WINDOW_MS).ok).toBe(true);
    });

    it('rejects everything when no secret is configured', () => {
      expect(verify([], sign(SECRET, BODY, NOW), BODY, NOW, WINDOW_MS)).toEqual({
        ok: false,
        reason: VERIFY_FAILURES.badSignature,
      });
    });
  });

  describe('replay window', () => {
    it('accepts timestamps exactly at either edge of the window', () => {
      for (const skew of [-WINDOW_MS, WINDOW_MS]) {
        expect(verify([SECRET], sign(SECRET, BODY, NOW + skew), BODY, NOW, WINDOW_MS).ok).toBe(
          true,
        );
      }
    });

    it('rejects a timestamp older than the window as stale', () => {
      fc.assert(
        fc.property(fc.integer({ min: WINDOW_MS + 1, max: 10 * WINDOW_MS }), (age) => {
          expect(verify([SECRET], sign(SECRET, BODY, NOW - age), BODY, NOW, WINDOW_MS)).toEqual({
            ok: false,
            reason: VERIFY_FAILURES.staleTimestamp,
          });
        }),
      );
    });

    it('rejects a timestamp further ahead than the window as in the future', () => {
      fc.assert(
        fc.property(fc.integer({ min: WINDOW_MS + 1, max: 10 * WINDOW_MS }), (lead) => {
          expect(verify([SECRET], sign(SECRET, BODY, NOW + lead), BODY, NOW, WINDOW_MS)).toEqual({
            ok: false,
            reason: VERIFY_FAILURES.futureTimestamp,
          });
        }),
      );
    });

    it('rejects a timestamp in seconds (a common partner mistake) as stale', () => {
      const seconds = String(Math.floor(NOW / 1000));
      const headers = {
        [SIGNATURE_HEADERS.timestamp]: seconds,
        [SIGNATURE_HEADERS.signature]: `v1=${computeSignature(SECRET, seconds, BODY)}`,
      };
      expect(verify([SECRET], headers, BODY, NOW, WINDOW_MS)).toEqual({
        ok: false,
        reason: VERIFY_FAILURES.staleTimestamp,
      });
    });
  });

  describe('malformed headers', () => {
    const valid = sign(SECRET, BODY, NOW);

    it('names a missing timestamp', () => {
      const headers = { [SIGNATURE_HEADERS.signature]: valid[SIGNATURE_HEADERS.signature] };
      expect(verify([SECRET], headers, BODY, NOW, WINDOW_MS)).toEqual({
        ok: false,
        reason: VERIFY_FAILURES.missingTimestamp,
      });
    });

    it.each(['', 'abc', '-1', '1.5e12', '0x1a', String(NOW).padStart(20, '9')])(
      'names a malformed timestamp %j',
      (timestamp) => {
        const headers = { ...valid, [SIGNATURE_HEADERS.timestamp]: timestamp };
        expect(verify([SECRET], headers, BODY, NOW, WINDOW_MS)).toEqual({
          ok: false,
          reason: VERIFY_FAILURES.malformedTimestamp,
        });
      },
    );

    it.each([undefined, '', '   '])('names a missing signature (%j)', (signature) => {
      const headers = {
        [SIGNATURE_HEADERS.timestamp]: String(NOW),
        [SIGNATURE_HEADERS.signature]: signature,
      };
      expect(verify([SECRET], headers, BODY, NOW, WINDOW_MS)).toEqual({
        ok: false,
        reason: VERIFY_FAILURES.missingSignature,
      });
    });

    it.each(['deadbeef', 'v1=', 'v1=xyz', `v1=${'a'.repeat(63)}`, `v2=${'a'.repeat(64)}`, ',,,'])(
      'names a malformed signature %j',
      (signature) => {
        const headers = { ...valid, [SIGNATURE_HEADERS.signature]: signature };
        expect(verify([SECRET], headers, BODY, NOW, WINDOW_MS)).toEqual({
          ok: false,
          reason: VERIFY_FAILURES.malformedSignature,
        });
      },
    );

    it('never throws, whatever the headers hold', () => {
      fc.assert(
        fc.property(
          fc.dictionary(fc.constantFrom(...Object.values(SIGNATURE_HEADERS), 'other'), fc.string()),
          (headers) => {
            const result = verify([SECRET], headers, BODY, NOW, WINDOW_MS);
            if (!result.ok) expect(Object.values(VERIFY_FAILURES)).toContain(result.reason);
          },
        ),
      );
    });

    it('matches header names case-insensitively', () => {
      const headers = {
        'X-Upheal-Sync-Timestamp': valid[SIGNATURE_HEADERS.timestamp],
        'X-UPHEAL-SYNC-SIGNATURE': valid[SIGNATURE_HEADERS.signature],
      };
      expect(verify([SECRET], headers, BODY, NOW, WINDOW_MS).ok).toBe(true);
    });
  });
});

describe('signedContentDigest', () => {
  it('is the same for one signed request whichever secret signed it, and differs otherwise', () => {
    expect(signedContentDigest(NOW, BODY)).toBe(signedContentDigest(NOW, Buffer.from(BODY)));
    expect(signedContentDigest(NOW, BODY)).not.toBe(signedContentDigest(NOW + 1, BODY));
    expect(signedContentDigest(NOW, BODY)).not.toBe(signedContentDigest(NOW, `${BODY} `));
  });
});
