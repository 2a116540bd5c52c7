/** Every Upheal call waits for a limiter slot; an event's later calls wait rather than defer. */
import { describe, expect, it } from 'vitest';
import { ConflictError, RateLimitedError, SlotUnavailableError } from '#lib/errors.ts';
import { PacedUpheal, pacedUpheal } from '#lib/limiter/paced-upheal.ts';
import type { AcquireOptions, Lane, RateLimiter } from '#lib/limiter/rate-limiter.ts';
import type { UphealPort } from '#lib/sync/ports.ts';

/** A limiter answering from a script: `true` grants a slot, `false` says "none near". */
function scriptedLimiter(script: boolean[]) {
  const reported: (number | undefined)[] = [];
  const limiter: RateLimiter = {
    acquire: async (_lane: Lane) => {
      if (script.shift() === false) throw new SlotUnavailableError(500);
    },
    awaitTurn: async () => {},
    forgo: () => {},
    rateLimited: async (retryAfterMs) => {
      reported.push(retryAfterMs);
    },
  };
  return { limiter, reported };
}

const client = {
  checkUser: async () => ({ exists: false as const }),
  createProvider: async () => ({ userId: 'u-1', inviteUrl: undefined }),
  updateUser: async () => {},
} as unknown as UphealPort;

const body = { email: 'p@example.com', firstName: 'A', lastName: 'B' };

describe('PacedUpheal', () => {
  it("defers an event's first call when the limiter has no slot near", async () => {
    const { limiter } = scriptedLimiter([false]);
    const waits: number[] = [];
    const paced = new PacedUpheal(client, limiter, 'live', async (ms) => {
      waits.push(ms);
    }).forEvent();
    await expect(paced.checkUser('p@example.com')).rejects.toBeInstanceOf(SlotUnavailableError);
    expect(waits).toEqual([]);
  });

  it('waits out a missing slot for a later call of the same event, instead of repeating the first', async () => {
    const { limiter } = scriptedLimiter([true, false, false, true]);
    const waits: number[] = [];
    const paced = new PacedUpheal(client, limiter, 'bulk', async (ms) => {
      waits.push(ms);
    }).forEvent();
    await paced.checkUser('p@example.com');
    await expect(paced.createProvider(body)).resolves.toEqual({
      userId: 'u-1',
      inviteUrl: undefined,
    });
    expect(waits).toEqual([500, 500]);
  });

  it('waits out a missing slot for a create sent first (its claim is written), boundedly', async () => {
    const { limiter } = scriptedLimiter([false, false, true]);
    const waits: number[] = [];
    const paced = new PacedUpheal(client, limiter, 'bulk', async (ms) => {
      waits.push(ms);
    }).forEvent();
    await expect(paced.createProvider(body, [])).resolves.toMatchObject({ userId: 'u-1' });
    expect(waits).toEqual([500, 500]);
    const missing = scriptedLimiter([false, false, false]);
    await expect(
      new PacedUpheal(client, missing.limiter, 'bulk', async () => {})
        .forEvent()
        .createProvider(body, []),
    ).rejects.toBeInstanceOf(SlotUnavailableError);
    // A create a check announced is not the message's first call; one without either defers.
    await expect(
      new PacedUpheal(client, scriptedLimiter([false]).limiter, 'bulk', async () => {})
        .forEvent()
        .createProvider(body),
    ).rejects.toBeInstanceOf(SlotUnavailableError);
  });

  it('gives up waiting after a bounded number of misses', async () => {
    const { limiter } = scriptedLimiter([true, false, false, false, true]);
    const paced = new PacedUpheal(client, limiter, 'bulk', async () => {}).forEvent();
    await paced.checkUser('p@example.com');
    await expect(paced.createProvider(body)).rejects.toBeInstanceOf(SlotUnavailableError);
  });

  it('starts every event afresh: a new event defers its first call again', async () => {
    const { limiter } = scriptedLimiter([true, false]);
    const shared = new PacedUpheal(client, limiter, 'bulk', async () => {});
    await shared.forEvent().checkUser('p@example.com');
    await expect(shared.forEvent().checkUser('q@example.com')).rejects.toBeInstanceOf(
      SlotUnavailableError,
    );
  });

  it('hands every message a fresh pacer in the lane it asks for', async () => {
    const lanes: Lane[] = [];
    const limiter: RateLimiter = {
      acquire: async (lane: Lane) => {
        lanes.push(lane);
        if (lanes.length === 2) throw new SlotUnavailableError(500);
      },
      awaitTurn: async () => {},
      forgo: () => {},
      rateLimited: async () => {},
    };
    const forMessage = pacedUpheal(client, limiter, async () => {});
    await forMessage('live').checkUser('p@example.com');
    await expect(forMessage('bulk').checkUser('q@example.com')).rejects.toBeInstanceOf(
      SlotUnavailableError,
    );
    expect(lanes).toEqual(['live', 'bulk']);
  });

  it('reports a 429 to the limiter with its Retry-After', async () => {
    const { limiter, reported } = scriptedLimiter([]);
    const limited = {
      checkUser: async () => {
        throw new RateLimitedError('upheal check: HTTP 429', 429, undefined, undefined, 3000);
      },
    } as unknown as UphealPort;
    await expect(
      new PacedUpheal(limited, limiter, 'live').checkUser('x@example.com'),
    ).rejects.toBeInstanceOf(RateLimitedError);
    expect(reported).toEqual([3000]);
  });
});

describe('PacedUpheal and follow-up slots', () => {
  /** A limiter recording what each acquire asked for and which follow-ups were forgone. */
  function recordingLimiter() {
    const asked: AcquireOptions[] = [];
    const forgone: number[] = [];
    const limiter: RateLimiter = {
      acquire: async (_lane: Lane, options: AcquireOptions = {}) => {
        asked.push(options);
      },
      awaitTurn: async () => {},
      forgo: (count) => {
        forgone.push(count);
      },
      rateLimited: async () => {},
    };
    return { limiter, asked, forgone };
  }

  it('books the create with the check, and asks for it as a continuation', async () => {
    const { limiter, asked, forgone } = recordingLimiter();
    const paced = new PacedUpheal(client, limiter, 'bulk').forEvent();
    await paced.checkUser('p@example.com');
    await paced.createProvider(body);
    expect(asked).toEqual([
      { continuation: false, followUps: 1 },
      { continuation: true, followUps: 0 },
    ]);
    expect(forgone).toEqual([]);
  });

  it('books every call announced for a new user with the check, and gives them all back when found', async () => {
    const { limiter, asked, forgone } = recordingLimiter();
    await new PacedUpheal(client, limiter, 'bulk')
      .forEvent()
      .checkUser('p@example.com', ['createClient', 'replaceProviders']);
    expect(asked).toEqual([{ continuation: false, followUps: 2 }]);
    const found = {
      checkUser: async () => ({ exists: true, userId: 'u-9', isActive: true }),
    } as unknown as UphealPort;
    await new PacedUpheal(found, limiter, 'bulk')
      .forEvent()
      .checkUser('p@example.com', ['createClient', 'replaceProviders']);
    expect(forgone).toEqual([2]);
  });

  it('gives the create’s slot back when the check finds the user, or fails', async () => {
    const found = {
      checkUser: async () => ({ exists: true, userId: 'u-9', isActive: true }),
    } as unknown as UphealPort;
    const failing = {
      checkUser: async () => {
        throw new RateLimitedError('upheal check: HTTP 429', 429, undefined, undefined, 1000);
      },
    } as unknown as UphealPort;
    const first = recordingLimiter();
    await new PacedUpheal(found, first.limiter, 'bulk').forEvent().checkUser('p@example.com');
    expect(first.forgone).toEqual([1]);
    const second = recordingLimiter();
    await expect(
      new PacedUpheal(failing, second.limiter, 'bulk').forEvent().checkUser('p@example.com'),
    ).rejects.toBeInstanceOf(RateLimitedError);
    expect(second.forgone).toEqual([1]);
  });

  it('gives nothing back for a check that never got a slot', async () => {
    const forgone: number[] = [];
    const limiter: RateLimiter = {
      acquire: async () => {
        throw new SlotUnavailableError(500);
      },
      awaitTurn: async () => {},
      forgo: (count) => {
        forgone.push(count);
      },
      rateLimited: async () => {},
    };
    await expect(
      new PacedUpheal(client, limiter, 'bulk').forEvent().checkUser('p@example.com'),
    ).rejects.toBeInstanceOf(SlotUnavailableError);
    expect(forgone).toEqual([]);
  });

  it('books the calls a create sent first announces with it, and gives them back when it is refused', async () => {
    const { limiter, asked, forgone } = recordingLimiter();
    const paced = new PacedUpheal(client, limiter, 'bulk').forEvent();
    await paced.createProvider(body, ['updateUser']);
    await paced.updateUser('u-1', {});
    expect(asked).toEqual([
      { continuation: false, followUps: 1 },
      { continuation: true, followUps: 0 },
    ]);
    expect(forgone).toEqual([]);
    const duplicate = {
      createClient: async () => {
        throw new ConflictError('upheal createClient: HTTP 409', 409, undefined, undefined);
      },
    } as unknown as UphealPort;
    const refused = recordingLimiter();
    await expect(
      new PacedUpheal(duplicate, refused.limiter, 'bulk')
        .forEvent()
        .createClient(
          { email: 'c@example.com', firstName: 'C', lastName: 'D', providerUserId: 'u-1' } as never,
          ['replaceProviders'],
        ),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(refused.asked).toEqual([{ continuation: false, followUps: 1 }]);
    expect(refused.forgone).toEqual([1]);
  });

  it('books a create a check announced alone, as before', async () => {
    const { limiter, asked, forgone } = recordingLimiter();
    await new PacedUpheal(client, limiter, 'bulk').forEvent().createProvider(body, []);
    expect(asked).toEqual([{ continuation: false, followUps: 0 }]);
    expect(forgone).toEqual([]);
  });
});
