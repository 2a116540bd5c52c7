import { describe, expect, it } from 'vitest';
import { ConfigError } from '#lib/errors.ts';
import {
  cachedSecrets,
  parseSecretList,
  SECRET_CACHE_TTL_MS,
  SECRET_MISS_REFRESH_INTERVAL_MS,
  staticSecrets,
} from '#lib/ingest/secrets.ts';

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
    const source = staticSecrets('a-secret,b-secret');
    expect(await source.current()).toEqual(['a-secret', 'b-secret']);
    expect(await source.refreshAfterMiss()).toBeUndefined();
  });

  it('refuses a value without a secret', () => {
    expect(() => staticSecrets(' , ')).toThrow(ConfigError);
  });
});

describe('cachedSecrets', () => {
  it('reads once and serves from the cache until the TTL passes', async () => {
    const { state, source } = parameter('s1');
    expect(await source.current()).toEqual(['s1']);
    state.clock = SECRET_CACHE_TTL_MS - 1;
    await source.current();
    expect(state.reads).toBe(1);

    state.value = 's2';
    state.clock = SECRET_CACHE_TTL_MS;
    expect(await source.current()).toEqual(['s2']);
    expect(state.reads).toBe(2);
  });

  it('shares one read between concurrent callers', async () => {
    const { state, source } = parameter('s1');
    await Promise.all([source.current(), source.current(), source.current()]);
    expect(state.reads).toBe(1);
  });

  it('refetches after a signature miss at most once per interval, returning only changed secrets', async () => {
    const { state, source } = parameter('s1');
    await source.current();

    state.value = 's2';
    state.clock = SECRET_MISS_REFRESH_INTERVAL_MS - 1;
    expect(await source.refreshAfterMiss()).toBeUndefined();
    expect(state.reads).toBe(1);

    state.clock = SECRET_MISS_REFRESH_INTERVAL_MS;
    expect(await source.refreshAfterMiss()).toEqual(['s2']);
    expect(state.reads).toBe(2);

    state.clock = 2 * SECRET_MISS_REFRESH_INTERVAL_MS;
    expect(await source.refreshAfterMiss()).toBeUndefined();
    expect(state.reads).toBe(3);
    expect(await source.current()).toEqual(['s2']);
  });

  it('fails with a ConfigError when the parameter holds no secret, and tries again next time', async () => {
    const { state, source } = parameter(' ');
    await expect(source.current()).rejects.toBeInstanceOf(ConfigError);
    state.value = 's1';
    expect(await source.current()).toEqual(['s1']);
  });
});
