import { describe, expect, it } from 'vitest';
import { ConfigError } from '#lib/errors.ts';
import {
  cachedSecrets,
  MIN_SECRET_LENGTH,
  parseSecretList,
  SECRET_CACHE_TTL_MS,
  SECRET_MISS_REFRESH_INTERVAL_MS,
  staticSecrets,
} from '#lib/ingest/secrets.ts';

const S1 = 'first-secret-0123456789';
const S2 = 'second-secret-0123456789';

/** A parameter whose value and read count the test controls, on a clock it controls. */
function parameter(initial: string) {
  const state = { value: initial, reads: 0, clock: 0 };
  const source = cachedSecrets({
    read: async () => {
      state.reads++;
      return state.value;
    },
    now: () => state.clock,
  });
  return { state, source };
}

describe('parseSecretList', () => {
  it('splits on commas and newlines, trimming and dropping blanks', () => {
    expect(parseSecretList(' new-secret ,\nold-secret\n\n')).toEqual(['new-secret', 'old-secret']);
  });
});

describe('staticSecrets', () => {
  it('serves the configured secrets and never refreshes', async () => {
    const source = staticSecrets(`${S1},${S2}`);
    expect(await source.current()).toEqual([S1, S2]);
    expect(await source.refreshAfterMiss()).toBeUndefined();
  });

  it('refuses a value without a secret', () => {
    expect(() => staticSecrets(' , ')).toThrow(ConfigError);
  });

  it('refuses a secret shorter than the minimum, naming its position but not its value', () => {
    const short = 'x'.repeat(MIN_SECRET_LENGTH - 1);
    expect(() => staticSecrets(`${S1},${short}`)).toThrow(
      new ConfigError(`INGEST_SECRET: secret 2 is shorter than ${MIN_SECRET_LENGTH} characters`),
    );
  });
});

describe('cachedSecrets', () => {
  it('reads once and serves from the cache until the TTL passes', async () => {
    const { state, source } = parameter(S1);
    expect(await source.current()).toEqual([S1]);
    state.clock = SECRET_CACHE_TTL_MS - 1;
    await source.current();
    expect(state.reads).toBe(1);

    state.value = S2;
    state.clock = SECRET_CACHE_TTL_MS;
    expect(await source.current()).toEqual([S2]);
    expect(state.reads).toBe(2);
  });

  it('shares one read between concurrent callers', async () => {
    const { state, source } = parameter(S1);
    await Promise.all([source.current(), source.current(), source.current()]);
    expect(state.reads).toBe(1);
  });

  it('refetches after a signature miss at most once per interval, returning only changed secrets', async () => {
    const { state, source } = parameter(S1);
    await source.current();

    state.value = S2;
    state.clock = SECRET_MISS_REFRESH_INTERVAL_MS - 1;
    expect(await source.refreshAfterMiss()).toBeUndefined();
    expect(state.reads).toBe(1);

    state.clock = SECRET_MISS_REFRESH_INTERVAL_MS;
    expect(await source.refreshAfterMiss()).toEqual([S2]);
    expect(state.reads).toBe(2);

    state.clock = 2 * SECRET_MISS_REFRESH_INTERVAL_MS;
    expect(await source.refreshAfterMiss()).toBeUndefined();
    expect(state.reads).toBe(3);
    expect(await source.current()).toEqual([S2]);
  });

  it('fails with a ConfigError when the parameter holds no secret, and tries again next time', async () => {
    const { state, source } = parameter(' ');
    await expect(source.current()).rejects.toBeInstanceOf(ConfigError);
    state.value = S1;
    expect(await source.current()).toEqual([S1]);
  });
});
