import { describe, expect, it } from 'vitest';
import { ConfigError } from '#lib/errors.ts';
import {
  MIN_SECRET_LENGTH,
  parseSecretList,
  secretList,
  staticSecrets,
} from '#lib/ingest/secrets.ts';

const S1 = 'first-secret-0123456789';
const S2 = 'second-secret-0123456789';

/** A secret whose value, and whether a refresh reads it, the test controls. */
function parameter(initial: string) {
  const state = { value: initial, refreshes: 0, refreshAllowed: true };
  const source = secretList(
    {
      value: async () => state.value,
      refresh: async () => {
        if (!state.refreshAllowed) return undefined;
        state.refreshes++;
        return state.value;
      },
    },
    'SSM parameter ingest-secret',
  );
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

describe('secretList', () => {
  it('serves the secrets of the current value', async () => {
    const { state, source } = parameter(`${S1},${S2}`);
    expect(await source.current()).toEqual([S1, S2]);
    state.value = S2;
    expect(await source.current()).toEqual([S2]);
  });

  it('after a signature miss returns only secrets that changed', async () => {
    const { state, source } = parameter(S1);
    await source.current();
    expect(await source.refreshAfterMiss()).toBeUndefined();
    expect(state.refreshes).toBe(1);

    state.value = S2;
    expect(await source.refreshAfterMiss()).toEqual([S2]);
    expect(await source.current()).toEqual([S2]);
  });

  it('returns nothing when the secret was not read again', async () => {
    const { state, source } = parameter(S1);
    await source.current();
    state.value = S2;
    state.refreshAllowed = false;
    expect(await source.refreshAfterMiss()).toBeUndefined();
  });

  it('fails with a ConfigError naming the parameter when it holds no secret, and tries again next time', async () => {
    const { state, source } = parameter(' ');
    await expect(source.current()).rejects.toThrow(
      new ConfigError('SSM parameter ingest-secret: no secret in the value'),
    );
    state.value = S1;
    expect(await source.current()).toEqual([S1]);
  });
});
