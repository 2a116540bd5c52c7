/**
 * Where `ingest` gets the shared secrets it verifies signatures with. Locally the secret comes
 * from `INGEST_SECRET`; deployed, from the SSM SecureString parameter named by
 * `INGEST_SECRET_PARAMETER`, cached per Lambda instance and refetched after a signature miss (at
 * most once a minute) so a rotated secret is picked up without a redeploy.
 *
 * A value may hold several secrets separated by commas or newlines (new one first): during a
 * rotation both the old and the new secret are accepted. Secrets therefore never contain commas.
 */
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { ConfigError } from '#lib/errors.ts';

/** How long fetched secrets are trusted before the next request refetches them. */
export const SECRET_CACHE_TTL_MS = 5 * 60_000;

/** Minimum time between two refetches triggered by signature misses (bounds SSM calls under attack). */
export const SECRET_MISS_REFRESH_INTERVAL_MS = 60_000;

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

/** Options of `cachedSecrets`. */
export interface CachedSecretsOptions {
  /** Reads the raw value (e.g. `ssmParameterReader`). */
  readonly read: () => Promise<string>;
  /** Names the value in errors, e.g. the parameter name. */
  readonly source?: string;
  readonly ttlMs?: number;
  readonly missRefreshIntervalMs?: number;
  readonly now?: () => number;
}

/**
 * Secrets read through `read`, cached for `ttlMs`, and refetched on a signature miss at most once
 * per `missRefreshIntervalMs`. Concurrent callers share one fetch.
 */
export function cachedSecrets(options: CachedSecretsOptions): SecretSource {
  const ttlMs = options.ttlMs ?? SECRET_CACHE_TTL_MS;
  const missIntervalMs = options.missRefreshIntervalMs ?? SECRET_MISS_REFRESH_INTERVAL_MS;
  const now = options.now ?? Date.now;
  let cached: { secrets: readonly string[]; fetchedAt: number } | undefined;
  let inFlight: Promise<readonly string[]> | undefined;

  const fetchNow = (): Promise<readonly string[]> => {
    inFlight ??= (async () => {
      try {
        const secrets = secretsFrom(
          await options.read(),
          options.source ?? 'ingest secret parameter',
        );
        cached = { secrets, fetchedAt: now() };
        return secrets;
      } finally {
        inFlight = undefined;
      }
    })();
    return inFlight;
  };

  return {
    async current() {
      if (cached && now() - cached.fetchedAt < ttlMs) return cached.secrets;
      return fetchNow();
    },
    async refreshAfterMiss() {
      if (cached && now() - cached.fetchedAt < missIntervalMs) return undefined;
      const before = cached?.secrets;
      const fresh = await fetchNow();
      return sameSecrets(before, fresh) ? undefined : fresh;
    },
  };
}

/** Reads a SecureString parameter, decrypted (the function's role needs `ssm:GetParameter` and `kms:Decrypt`). */
export function ssmParameterReader(ssm: SSMClient, name: string): () => Promise<string> {
  return async () => {
    const output = await ssm.send(new GetParameterCommand({ Name: name, WithDecryption: true }));
    const value = output.Parameter?.Value;
    if (value === undefined) throw new ConfigError(`SSM parameter ${name} has no value`);
    return value;
  };
}

function sameSecrets(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((secret, i) => secret === b[i]);
}
