/**
 * The one way the functions load a secret (the Upheal API key, the ingest secret, the webhook
 * signing secret). Locally the value comes from its environment variable; deployed, from the SSM
 * SecureString parameter the matching `…_PARAMETER` variable names, read with Powertools
 * Parameters: decrypted, cached per Lambda instance for SECRET_CACHE_SECONDS, and read again at
 * once when the secret was refused (Upheal answered 401, a signature matched none), at most once
 * per SECRET_REFRESH_INTERVAL_MS, so a rotated secret is picked up without a redeploy and a flood
 * of refusals cannot flood SSM.
 */
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { ConfigError } from '#lib/errors.ts';

/** How long a value read from SSM is served from the cache. */
export const SECRET_CACHE_SECONDS = 300;

/** Least time between two forced reads after a refusal. */
export const SECRET_REFRESH_INTERVAL_MS = 60_000;

/** A secret's current value, and a way to read it again after it was refused. */
export interface Secret {
  /** The value to use now. */
  value(): Promise<string>;
  /**
   * Reads the value again, ignoring the cache, unless the last such read is more recent than
   * SECRET_REFRESH_INTERVAL_MS. Resolves with the value read, or undefined when nothing was read.
   */
  refresh(): Promise<string | undefined>;
}

/** Where a secret is configured: its value (local runs, tests), or its SSM parameter's name. */
export interface SecretSetting {
  /** The variable holding the value, named in errors (never the value). */
  readonly variable: string;
  readonly value?: string | undefined;
  /** The name of the SSM SecureString parameter holding the value. */
  readonly parameter?: string | undefined;
}

/** Reads SSM parameters: Powertools' SSMProvider, or a stand-in in tests. */
export interface ParameterReader {
  get(
    name: string,
    options: { decrypt: true; maxAge: number; forceFetch?: boolean },
  ): Promise<string | undefined>;
}

/** How `configuredSecret` reads parameters and keeps time (tests inject both). */
export interface SecretOptions {
  readonly parameters?: ParameterReader;
  readonly now?: () => number;
}

/** Built on first use, so a process with only local values never creates an SSM client. */
let defaultReader: ParameterReader | undefined;

/**
 * The secret of `setting`: its value as given, or its SSM parameter (decrypted, cached, refreshed
 * after a refusal). Undefined when neither is set; the caller decides whether that is an error.
 */
export function configuredSecret(
  setting: SecretSetting,
  options: SecretOptions = {},
): Secret | undefined {
  const { value, parameter } = setting;
  if (value !== undefined) return { value: async () => value, refresh: async () => undefined };
  if (parameter === undefined) return undefined;
  const now = options.now ?? Date.now;
  let lastForcedAt: number | undefined;
  const read = async (forceFetch: boolean): Promise<string> => {
    defaultReader ??= options.parameters ? undefined : new SSMProvider();
    const reader = options.parameters ?? defaultReader!;
    const value = await reader.get(parameter, {
      decrypt: true,
      maxAge: SECRET_CACHE_SECONDS,
      forceFetch,
    });
    if (value === undefined) throw new ConfigError(`SSM parameter ${parameter} has no value`);
    return value;
  };
  // Concurrent first callers (the records of a batch) share one read.
  let reading: Promise<string> | undefined;
  return {
    value: () => {
      reading ??= read(false).finally(() => {
        reading = undefined;
      });
      return reading;
    },
    async refresh() {
      const at = now();
      if (lastForcedAt !== undefined && at - lastForcedAt < SECRET_REFRESH_INTERVAL_MS) {
        return undefined;
      }
      lastForcedAt = at;
      return read(true);
    },
  };
}

/** Like `configuredSecret`, but a secret that is not configured stops start-up, naming it. */
export function requiredSecret(setting: SecretSetting, options?: SecretOptions): Secret {
  const secret = configuredSecret(setting, options);
  if (!secret) {
    throw new ConfigError(
      `set ${setting.variable} (local) or ${setting.variable}_PARAMETER (SSM parameter name)`,
    );
  }
  return secret;
}
