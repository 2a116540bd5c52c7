/**
 * The one validated configuration of every function and of the CLI. Parsed once from
 * the environment with zod; a missing or malformed variable stops start-up with a ConfigError
 * naming it. AWS endpoints are not configured here: the AWS SDK reads `AWS_ENDPOINT_URL`,
 * `AWS_ENDPOINT_URL_SQS` and `AWS_ENDPOINT_URL_DYNAMODB` itself, so the same code runs against
 * AWS and against the local stack.
 */
import * as z from 'zod';
import { ConfigError } from '#lib/errors.ts';
import { MIN_JITTER_MS } from '#lib/limiter/gcra.ts';

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().nonnegative();
const flag = z
  .enum(['true', 'false', '1', '0'])
  .transform((value) => value === 'true' || value === '1');

/** The environment variables this product reads, with their defaults. */
const EnvSchema = z
  .object({
    UPHEAL_BASE_URL: z.url().default('https://api.upheal.io'),
    /** The API key itself: for local runs only. */
    UPHEAL_API_KEY: z.string().min(1).optional(),
    /** Name of the SSM SecureString parameter holding the API key: for deployed runs. */
    UPHEAL_API_KEY_PARAMETER: z.string().min(1).optional(),
    UPHEAL_RATE_LIMIT: positiveInt.default(300),
    UPHEAL_RATE_WINDOW_SECONDS: z.coerce.number().positive().default(60),
    /** Safety margin for arrival-time spread (latency, clock skew, timers); see docs/limits.md. */
    UPHEAL_RATE_JITTER_MS: z.coerce.number().int().min(MIN_JITTER_MS).default(1000),
    /** Longest a worker waits in-process for a slot before deferring the message in SQS. */
    UPHEAL_RATE_HORIZON_MS: nonNegativeInt.default(3000),
    UPHEAL_TIMEOUT_MS: positiveInt.default(10_000),
    /** Upheal faults (5xx, timeouts, resets, 403s) within the error window that quarantine the sync. */
    QUARANTINE_ERROR_THRESHOLD: positiveInt.default(20),
    /** The window Upheal's faults are counted in. */
    QUARANTINE_ERROR_WINDOW_SECONDS: z.coerce.number().positive().default(60),
    /** Time between probes of Upheal while the sync is quarantined. */
    QUARANTINE_PROBE_SECONDS: z.coerce.number().positive().default(30),
    TABLE_NAME: z.string().min(1),
    USER_EVENTS_QUEUE_URL: z.url(),
    IMPORT_QUEUE_URL: z.url(),
    ASSIGNMENTS_QUEUE_URL: z.url(),
    IMPORT_CONTROL_QUEUE_URL: z.url(),
    /** The bucket operators upload import files to. */
    IMPORT_BUCKET: z.string().min(1).optional(),
    OUTBOUND_QUEUE_URL: z.url().optional(),
    OUTBOUND_WEBHOOK_QUEUE_URL: z.url().optional(),
    /** The partner's HTTPS endpoint for outbound events; outcomes also go there when set. */
    OUTBOUND_WEBHOOK_URL: z.url().optional(),
    /** Signing secret of webhook requests (local) or its SSM parameter name (deployed). */
    OUTBOUND_WEBHOOK_SECRET: z.string().min(16).optional(),
    OUTBOUND_WEBHOOK_SECRET_PARAMETER: z.string().min(1).optional(),
    /** Real (non-deferral) failed attempts of a message before it is dead-lettered. */
    SYNC_MAX_ATTEMPTS: positiveInt.default(5),
    /** How long an event waits for a user it depends on (e.g. an unmapped provider). */
    DEPENDENCY_WAIT_SECONDS: positiveInt.default(900),
    /** More deletes than this within the window are staged for an operator. */
    DELETE_GUARD_MAX_COUNT: nonNegativeInt.default(20),
    /** ... or more than this share of the mapped users. */
    DELETE_GUARD_MAX_SHARE: z.coerce.number().min(0).max(1).default(0.1),
    DELETE_GUARD_WINDOW_SECONDS: positiveInt.default(3600),
    /** Shared secret for signed ingest requests (local) or its SSM parameter name (deployed). */
    INGEST_SECRET: z.string().min(16).optional(),
    INGEST_SECRET_PARAMETER: z.string().min(1).optional(),
    INGEST_REPLAY_WINDOW_SECONDS: positiveInt.default(300),
    INGEST_MAX_BODY_BYTES: positiveInt.default(1_048_576),
    /** How far in the future an event's `occurredAt` may be before it is refused (clock skew). */
    EVENT_MAX_FUTURE_SKEW_SECONDS: nonNegativeInt.default(300),
    /** Secret(s) of Upheal's webhook signatures (local) or their SSM parameter name (deployed). */
    UPHEAL_WEBHOOK_SECRET: z.string().min(16).optional(),
    UPHEAL_WEBHOOK_SECRET_PARAMETER: z.string().min(1).optional(),
    /** What Upheal's webhook signature covers: the raw body, or `timestamp.body`. */
    UPHEAL_WEBHOOK_SIGNATURE_SCHEME: z.enum(['body', 'timestamp-body']).default('body'),
    /** How far a webhook's `x-upheal-timestamp` may be from now, either way. */
    UPHEAL_WEBHOOK_TOLERANCE_SECONDS: positiveInt.default(300),
    UPHEAL_WEBHOOK_MAX_BODY_BYTES: positiveInt.default(65_536),
    /** How long a create answered 409 for a client without email waits for Upheal's webhook. */
    UPHEAL_WEBHOOK_WAIT_SECONDS: nonNegativeInt.default(600),
    /** How old a webhook must be before its claimed but unmapped user is healed (see docs). */
    UPHEAL_WEBHOOK_SETTLE_SECONDS: positiveInt.default(45),
    /** The queue of heal commands from Upheal's webhooks (`apply-upheal-webhook`). */
    UPHEAL_WEBHOOKS_QUEUE_URL: z.url().optional(),
    /** Whether a created provider's `inviteUrl` goes to the partner in `user.created`. */
    SHARE_INVITE_URL: flag.default(false),
  })
  .refine((env) => env.UPHEAL_API_KEY || env.UPHEAL_API_KEY_PARAMETER, {
    path: ['UPHEAL_API_KEY'],
    message: 'set UPHEAL_API_KEY (local) or UPHEAL_API_KEY_PARAMETER (SSM parameter name)',
  });

/** The validated configuration. */
export type Config = z.infer<typeof EnvSchema>;

/**
 * Parses the environment. Throws ConfigError naming every bad variable (never its value: some
 * are secrets).
 */
export function parseConfig(env: NodeJS.ProcessEnv): Config {
  const result = EnvSchema.safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`,
  );
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

let cached: Config | undefined;

/** The configuration of this process, parsed on first use (Lambda cold start). */
export function loadConfig(): Config {
  cached ??= parseConfig(process.env);
  return cached;
}
