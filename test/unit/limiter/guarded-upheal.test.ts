/** The guards around each Upheal call of a record: time left, and what a failure tells. */
import { describe, expect, it } from 'vitest';
import { OutOfTimeError, QuarantinedError, ServerError } from '#lib/errors.ts';
import {
  allGuards,
  type CallGuard,
  deadlineGuard,
  GuardedUpheal,
  invocationDeadlines,
  OUT_OF_TIME_DEFER_MS,
} from '#lib/limiter/guarded-upheal.ts';
import type { UphealPort } from '#lib/sync/ports.ts';

/** A port that records its calls and answers `check` with `answer`. */
function recordingPort(answer: () => Promise<{ exists: false }>) {
  const calls: string[] = [];
  const port = {
    checkUser: async (_email: string, ifNew?: readonly string[]) => {
      calls.push(`check then ${ifNew?.join('+') ?? 'default'}`);
      return answer();
    },
  } as unknown as UphealPort;
  return { port, calls };
}

describe('deadlineGuard', () => {
  it('lets a call start only while the invocation has its whole budget left', async () => {
    let remaining = 13_000;
    const guard = deadlineGuard({ getRemainingTimeInMillis: () => remaining }, 13_000);
    await expect(guard.beforeCall()).resolves.toBeUndefined();
    remaining = 12_999;
    const error = await guard.beforeCall().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OutOfTimeError);
    expect((error as OutOfTimeError).retryAfterMs).toBe(OUT_OF_TIME_DEFER_MS);
  });
});

describe('invocationDeadlines', () => {
  it('gives a call its budget, or half an invocation too short for it, read at its first record', async () => {
    const deadlines = invocationDeadlines(13_000);
    const long = { remaining: 30_000, getRemainingTimeInMillis: () => long.remaining };
    deadlines(long);
    long.remaining = 13_500;
    await expect(deadlines(long).beforeCall()).resolves.toBeUndefined();
    long.remaining = 12_000;
    await expect(deadlines(long).beforeCall()).rejects.toBeInstanceOf(OutOfTimeError);
    // A 3 s invocation: calls may start in its first half only (not never).
    const short = { remaining: 3_000, getRemainingTimeInMillis: () => short.remaining };
    await expect(deadlines(short).beforeCall()).resolves.toBeUndefined();
    short.remaining = 1_600;
    await expect(deadlines(short).beforeCall()).resolves.toBeUndefined();
    short.remaining = 1_400;
    await expect(deadlines(short).beforeCall()).rejects.toBeInstanceOf(OutOfTimeError);
  });
});

describe('GuardedUpheal', () => {
  it('makes no call when a guard defers the record', async () => {
    const { port, calls } = recordingPort(async () => ({ exists: false }));
    const late = deadlineGuard({ getRemainingTimeInMillis: () => 0 }, 1);
    await expect(new GuardedUpheal(port, late).checkUser('a@b.test')).rejects.toBeInstanceOf(
      OutOfTimeError,
    );
    expect(calls).toEqual([]);
  });

  it('passes the answer through, and the calls announced with a check to the pacer', async () => {
    const { port, calls } = recordingPort(async () => ({ exists: false }));
    const guarded = new GuardedUpheal(port, allGuards([]));
    expect(await guarded.checkUser('a@b.test', ['createClient', 'replaceProviders'])).toEqual({
      exists: false,
    });
    expect(calls).toEqual(['check then createClient+replaceProviders']);
  });

  it('tells every guard of a success, and of a failure only the failure', async () => {
    let fail = false;
    const { port } = recordingPort(async () => {
      if (fail) throw new ServerError('upheal check: HTTP 500', 500, undefined, undefined);
      return { exists: false };
    });
    const heard: string[] = [];
    const listener = (name: string): CallGuard => ({
      beforeCall: async () => {},
      afterSuccess: () => heard.push(`${name} success`),
      afterFailure: async () => {
        heard.push(`${name} failure`);
      },
    });
    const guarded = new GuardedUpheal(port, allGuards([listener('a'), listener('b')]));
    await guarded.checkUser('a@b.test');
    fail = true;
    await expect(guarded.checkUser('a@b.test')).rejects.toBeInstanceOf(ServerError);
    expect(heard).toEqual(['a success', 'b success', 'a failure', 'b failure']);
  });

  it('tells the guards of a failure, and throws what a guard throws instead of the failure', async () => {
    const failure = new ServerError('upheal check: HTTP 503', 503, undefined, undefined);
    const { port } = recordingPort(async () => {
      throw failure;
    });
    const heard: unknown[] = [];
    const listening: CallGuard = {
      beforeCall: async () => {},
      afterFailure: async (error) => {
        heard.push(error);
      },
    };
    await expect(new GuardedUpheal(port, listening).checkUser('a@b.test')).rejects.toBe(failure);
    expect(heard).toEqual([failure]);
    const deferring: CallGuard = {
      beforeCall: async () => {},
      afterFailure: async () => {
        throw new QuarantinedError('upheal-failing', 2_000);
      },
    };
    await expect(
      new GuardedUpheal(port, allGuards([listening, deferring])).checkUser('a@b.test'),
    ).rejects.toBeInstanceOf(QuarantinedError);
  });
});
