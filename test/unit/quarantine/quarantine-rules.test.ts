/** Which answers of Upheal quarantine the sync, and what a probe's answer means. */
import { describe, expect, it } from 'vitest';
import {
  BadRequestError,
  ConflictError,
  ConnectionError,
  ForbiddenError,
  NotFoundError,
  RateLimitedError,
  ServerError,
  SlotUnavailableError,
  TimeoutError,
  UnauthorizedError,
} from '#lib/errors.ts';
import {
  faultOf,
  MIN_FAULT_SHARE,
  PROBE_OUTCOMES,
  probeOutcome,
  QUARANTINE_REASONS,
  RECENT_CALLS,
  RecentCalls,
} from '#lib/quarantine/quarantine-rules.ts';

const upstream = <T>(
  Kind: new (
    message: string,
    status: number | undefined,
    requestId: string | undefined,
    body: string | undefined,
  ) => T,
  status: number | undefined,
): T => new Kind(`upheal check: HTTP ${status}`, status, undefined, undefined);

describe('faultOf', () => {
  it('quarantines at once on a refused key, counts what shows Upheal failing', () => {
    expect(faultOf(upstream(UnauthorizedError, 401))).toBe(QUARANTINE_REASONS.unauthorized);
    for (const error of [
      upstream(ServerError, 503),
      upstream(TimeoutError, undefined),
      upstream(ConnectionError, undefined),
      upstream(ForbiddenError, 403),
    ]) {
      expect(faultOf(error), error.name).toBe(QUARANTINE_REASONS.failing);
    }
  });

  it("leaves a record's own faults, 429s and our own errors to the outcome policy", () => {
    for (const error of [
      upstream(BadRequestError, 400),
      upstream(NotFoundError, 404),
      upstream(ConflictError, 409),
      new RateLimitedError('upheal check: HTTP 429', 429, undefined, undefined, undefined),
      new SlotUnavailableError(1_000),
      new Error('a bug'),
    ]) {
      expect(faultOf(error)).toBeUndefined();
    }
  });
});

describe('probeOutcome', () => {
  it('resumes on any answer that is not a fault, and only then', () => {
    expect(probeOutcome(undefined)).toBe(PROBE_OUTCOMES.up);
    expect(probeOutcome(upstream(NotFoundError, 404))).toBe(PROBE_OUTCOMES.up);
    expect(probeOutcome(upstream(BadRequestError, 400))).toBe(PROBE_OUTCOMES.up);
    expect(probeOutcome(upstream(ServerError, 503))).toBe(PROBE_OUTCOMES.down);
    expect(probeOutcome(upstream(UnauthorizedError, 401))).toBe(PROBE_OUTCOMES.down);
    expect(
      probeOutcome(new RateLimitedError('upheal check: HTTP 429', 429, undefined, undefined, 5)),
    ).toBe(PROBE_OUTCOMES.inconclusive);
    expect(probeOutcome(new SlotUnavailableError(1_000))).toBe(PROBE_OUTCOMES.inconclusive);
    expect(probeOutcome(new Error('DynamoDB throttled'))).toBe(PROBE_OUTCOMES.inconclusive);
  });
});

describe('RecentCalls', () => {
  it('counts a fault only when faults are common among the latest calls', () => {
    const recent = new RecentCalls();
    recent.record(true);
    // An instance's first call failing: nothing says Upheal answers, so it counts.
    expect(recent.faultsAreCommon()).toBe(true);
    for (let call = 0; call < RECENT_CALLS; call += 1) recent.record(false);
    expect(recent.faultShare()).toBe(0);
    const faultsToCount = Math.ceil(MIN_FAULT_SHARE * RECENT_CALLS);
    for (let fault = 1; fault < faultsToCount; fault += 1) {
      recent.record(true);
      expect(recent.faultsAreCommon()).toBe(false);
    }
    recent.record(true);
    expect(recent.faultsAreCommon()).toBe(true);
  });

  it('forgets calls older than the latest RECENT_CALLS', () => {
    const recent = new RecentCalls();
    for (let call = 0; call < RECENT_CALLS; call += 1) recent.record(true);
    for (let call = 0; call < RECENT_CALLS; call += 1) recent.record(false);
    expect(recent.faultShare()).toBe(0);
  });
});
