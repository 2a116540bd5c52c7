/**
 * The command line of `bin/upheal-simulator.ts`, parsed with `node:util` parseArgs into
 * simulator options (validated afterwards by startSimulator). Kept apart from the bin so tests can
 * call it without starting a process.
 */
import { parseArgs } from 'node:util';
import { ConfigError } from '#lib/errors.ts';
import { MS_PER_SECOND } from '#lib/time.ts';
import type { SimulatorOptionsInput } from '#tools/simulator/options.ts';

/** Usage text printed by `--help`. */
export const USAGE = `Usage: upheal-simulator [options]

Serves a simulated Upheal user API on 127.0.0.1 until SIGINT/SIGTERM (see docs/simulator.md).

  --port N                  port to listen on (default 0 = random; the URL is printed)
  --host HOST               interface (default 127.0.0.1)
  --api-key KEY             accepted Bearer key; repeatable (default local-dev-key)
  --limit N                 requests per window per key (default 300)
  --window-seconds S        window length in seconds, fractions allowed (default 60)
  --mode M                  sliding | fixed | token-bucket (default sliding)
  --retry-after F           none | seconds | http-date (default none)
  --count-429s              rejected requests count against the limit
  --foreign-share X         share 0..1 of the budget taken by a foreign client of the key
  --duplicate-provider-status 400|409   status for a duplicate provider (default 400)
  --not-found-status 404|403|400        status for an unknown user id (default 404)
  --error-body F            json | empty | text: body of error answers (default json)
  --seed N                  fault PRNG seed (default 1)
  --server-error P          probability of a 500 without effect
  --created-but-failed P    probability of a write that takes effect but answers 500
  --hang P                  probability of never answering
  --reset P                 probability of a reset connection
  --latency-min MS          added latency, lower bound (default 0)
  --latency-max MS          added latency, upper bound (default = --latency-min)
  --webhook-url URL         POST a signed user-created webhook there for every created user; the
                            secret comes from UPHEAL_WEBHOOK_SECRET in the environment
  --webhook-scheme S        body | timestamp-body: what the signature covers (default body)
  --webhook-retries N       retries of a failed delivery (default 5)
  --webhook-backoff-ms MS   first retry delay, doubling after (default 1000)
  --webhook-duplicates P    probability of delivering an event twice
  --webhook-reorder-ms MS   random delay up to MS before each first attempt (reorders events)
  --help                    print this text
`;

/** Parses a numeric flag, naming it when the value is not a number. */
function numberFlag(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number)) {
    throw new ConfigError(`--${name}: expected a number`);
  }
  return number;
}

/** Turns command-line arguments into simulator options (validated later by startSimulator). */
export function optionsFromArgs(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): SimulatorOptionsInput | 'help' {
  const { values } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: false,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'api-key': { type: 'string', multiple: true },
      limit: { type: 'string' },
      'window-seconds': { type: 'string' },
      mode: { type: 'string' },
      'retry-after': { type: 'string' },
      'count-429s': { type: 'boolean' },
      'foreign-share': { type: 'string' },
      'duplicate-provider-status': { type: 'string' },
      'not-found-status': { type: 'string' },
      'error-body': { type: 'string' },
      seed: { type: 'string' },
      'server-error': { type: 'string' },
      'created-but-failed': { type: 'string' },
      hang: { type: 'string' },
      reset: { type: 'string' },
      'latency-min': { type: 'string' },
      'latency-max': { type: 'string' },
      'webhook-url': { type: 'string' },
      'webhook-scheme': { type: 'string' },
      'webhook-retries': { type: 'string' },
      'webhook-backoff-ms': { type: 'string' },
      'webhook-duplicates': { type: 'string' },
      'webhook-reorder-ms': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) return 'help';
  const windowSeconds = numberFlag('window-seconds', values['window-seconds']);
  const latencyMin = numberFlag('latency-min', values['latency-min']);
  const latencyMax = numberFlag('latency-max', values['latency-max']) ?? latencyMin;
  const defined = <T extends object>(object: T): T =>
    Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as T;
  return defined({
    port: numberFlag('port', values.port),
    host: values.host,
    apiKeys: values['api-key'],
    duplicateProviderStatus: numberFlag(
      'duplicate-provider-status',
      values['duplicate-provider-status'],
    ) as 400 | 409 | undefined,
    notFoundStatus: numberFlag('not-found-status', values['not-found-status']) as
      | 404
      | 403
      | 400
      | undefined,
    errorBody: values['error-body'] as 'json' | undefined,
    rateLimit: defined({
      limit: numberFlag('limit', values.limit),
      windowMs: windowSeconds === undefined ? undefined : windowSeconds * MS_PER_SECOND,
      mode: values.mode as 'sliding' | undefined,
      retryAfter: values['retry-after'] as 'none' | undefined,
      count429s: values['count-429s'],
      foreignShare: numberFlag('foreign-share', values['foreign-share']),
    }),
    faults: defined({
      seed: numberFlag('seed', values.seed),
      serverError: numberFlag('server-error', values['server-error']),
      createdButFailed: numberFlag('created-but-failed', values['created-but-failed']),
      hang: numberFlag('hang', values.hang),
      reset: numberFlag('reset', values.reset),
      latencyMs:
        latencyMin === undefined && latencyMax === undefined
          ? undefined
          : { min: latencyMin ?? 0, max: latencyMax ?? latencyMin ?? 0 },
    }),
    webhooks: defined({
      url: values['webhook-url'],
      // Secrets never on the command line (visible to every user of the machine).
      secret: values['webhook-url'] ? env.UPHEAL_WEBHOOK_SECRET : undefined,
      scheme: values['webhook-scheme'] as 'body' | undefined,
      retries: numberFlag('webhook-retries', values['webhook-retries']),
      backoffMs: numberFlag('webhook-backoff-ms', values['webhook-backoff-ms']),
      duplicates: numberFlag('webhook-duplicates', values['webhook-duplicates']),
      reorderMaxMs: numberFlag('webhook-reorder-ms', values['webhook-reorder-ms']),
    }),
  });
}
