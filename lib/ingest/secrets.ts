/**
 * The shared secrets `ingest` verifies signatures with (and `deliver-outbound` signs with), read
 * from one configured secret (`lib/secrets.ts`: `INGEST_SECRET` locally, the SSM parameter named by
 * `INGEST_SECRET_PARAMETER` deployed, read again after a signature miss).
 *
 * A value may hold several secrets separated by commas or newlines (new one first): during a
 * rotation both the old and the new secret are accepted. Secrets therefore never contain commas.
 */
import { ConfigError } from '#lib/errors.ts';
import type { Secret } from '#lib/secrets.ts';

/** Shortest secret accepted (the same floor `lib/config.ts` puts on `INGEST_SECRET`). */
export const MIN_SECRET_LENGTH = 16;

/** The accepted secrets, refreshed when the source allows it. */
export interface SecretSource {
  /** The secrets to verify with now. */
  current(): Promise<readonly string[]>;
  /**
   * Called after a signature did not match: refetches if the last refetch is old enough and
   * returns the fresh secrets, or undefined when nothing new was fetched.
   */
  refreshAfterMiss(): Promise<readonly string[] | undefined>;
}

/** Splits a configured value into its secrets (comma- or newline-separated, blanks dropped). */
export function parseSecretList(value: string): string[] {
  return value
    .split(/[,\n]/)
    .map((secret) => secret.trim())
    .filter((secret) => secret.length > 0);
}

/**
 * The secrets of a configured value, checked: at least one, each at least MIN_SECRET_LENGTH long.
 * `source` names the variable or parameter in the ConfigError (never the value).
 */
export function secretsFrom(value: string, source: string): string[] {
  const secrets = parseSecretList(value);
  if (secrets.length === 0) throw new ConfigError(`${source}: no secret in the value`);
  const short = secrets.findIndex((secret) => secret.length < MIN_SECRET_LENGTH);
  if (short >= 0) {
    throw new ConfigError(
      `${source}: secret ${short + 1} is shorter than ${MIN_SECRET_LENGTH} characters`,
    );
  }
  return secrets;
}

/** Secrets fixed for the life of the process (`INGEST_SECRET`, tests). */
export function staticSecrets(value: string, source = 'INGEST_SECRET'): SecretSource {
  const secrets = secretsFrom(value, source);
  return {
    current: async () => secrets,
    refreshAfterMiss: async () => undefined,
  };
}

/**
 * The secrets held by `secret`, checked on every read (`source` names it in errors). After a
 * signature miss the secret is read again (as often as `secret` allows); the fresh secrets are
 * returned only when they differ from those last served.
 */
export function secretList(secret: Secret, source: string): SecretSource {
  let served: readonly string[] | undefined;
  return {
    async current() {
      served = secretsFrom(await secret.value(), source);
      return served;
    },
    async refreshAfterMiss() {
      const before = served;
      const value = await secret.refresh();
      if (value === undefined) return undefined;
      served = secretsFrom(value, source);
      return sameSecrets(before, served) ? undefined : served;
    },
  };
}

/** Whether two secret lists are the same, in the same order. */
function sameSecrets(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((secret, i) => secret === b[i]);
}
