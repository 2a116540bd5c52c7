/**
 * The simulator's options, validated with zod (at start, on runtime changes over `/__sim/…`, and
 * from the command line). Defaults encode the assumptions of upheal-api.md §8.
 */
import { z } from 'zod';
import { ConfigError } from '#lib/errors.ts';

/** How the simulated per-key limiter counts requests (research/rate-limiting.md §6.2). */
export const LIMIT_MODES = {
  /** Exact sliding log: never more than `limit` counted arrivals in any `windowMs` span. */
  sliding: 'sliding',
  /** Windows aligned to the clock (multiples of `windowMs`): up to 2× across a boundary. */
  fixed: 'fixed',
  /** Bucket of `limit` tokens refilled continuously at `limit` per `windowMs`. */
  tokenBucket: 'token-bucket',
} as const;

/** One of LIMIT_MODES. */
export type LimitMode = (typeof LIMIT_MODES)[keyof typeof LIMIT_MODES];

/** Whether and how a 429 carries `Retry-After` (Upheal documents none: upheal-api.md §8 row 12). */
export const RETRY_AFTER_FORMS = {
  none: 'none',
  seconds: 'seconds',
  httpDate: 'http-date',
} as const;

/** One of RETRY_AFTER_FORMS. */
export type RetryAfterForm = (typeof RETRY_AFTER_FORMS)[keyof typeof RETRY_AFTER_FORMS];

/** Body of Upheal error answers: undocumented (upheal-api.md §8 row 5), so clients must cope. */
export const ERROR_BODY_FORMS = {
  /** `{"message": "<field>: <reason>"}`. */
  json: 'json',
  /** No body at all. */
  empty: 'empty',
  /** The message as `text/plain`. */
  text: 'text',
} as const;

/** One of ERROR_BODY_FORMS. */
export type ErrorBodyForm = (typeof ERROR_BODY_FORMS)[keyof typeof ERROR_BODY_FORMS];

/** Upheal's documented default: 300 requests per minute per API key. */
export const DEFAULT_LIMIT = 300;
/** One minute. */
export const DEFAULT_WINDOW_MS = 60_000;
/** The key the local stack and tests use unless told otherwise. */
export const DEFAULT_API_KEY = 'local-dev-key';
/** Seed of the fault PRNG when none is given. */
export const DEFAULT_SEED = 1;
/** Loopback only: the simulator is a test double, never a public service. */
export const DEFAULT_HOST = '127.0.0.1';
/** The highest TCP port. */
const MAX_PORT = 65_535;

const probability = z.number().min(0).max(1);

/** The rate-limit options; every field has a default. */
export const RateLimitOptionsSchema = z.object({
  limit: z.number().int().positive().default(DEFAULT_LIMIT),
  windowMs: z.number().positive().default(DEFAULT_WINDOW_MS),
  mode: z
    .enum([LIMIT_MODES.sliding, LIMIT_MODES.fixed, LIMIT_MODES.tokenBucket])
    .default('sliding'),
  count429s: z.boolean().default(false),
  retryAfter: z
    .enum([RETRY_AFTER_FORMS.none, RETRY_AFTER_FORMS.seconds, RETRY_AFTER_FORMS.httpDate])
    .default('none'),
  foreignShare: probability.default(0),
});

/** Validated rate-limit options. */
export type RateLimitOptions = z.infer<typeof RateLimitOptionsSchema>;

/** Added latency per request, uniform in [min, max] ms. */
export const LatencySchema = z
  .object({
    min: z.number().nonnegative().default(0),
    max: z.number().nonnegative().default(0),
  })
  .refine((latency) => latency.max >= latency.min, {
    path: ['max'],
    message: 'must be at least min',
  });

/** The fault options: per-request probabilities (their sum at most 1), latency and the seed. */
export const FaultOptionsSchema = z
  .object({
    seed: z.number().int().default(DEFAULT_SEED),
    serverError: probability.default(0),
    createdButFailed: probability.default(0),
    hang: probability.default(0),
    reset: probability.default(0),
    latencyMs: LatencySchema.default({ min: 0, max: 0 }),
  })
  .refine(
    (faults) => faults.serverError + faults.createdButFailed + faults.hang + faults.reset <= 1,
    { path: ['serverError'], message: 'fault probabilities must sum to at most 1' },
  );

/** Validated fault options. */
export type FaultOptions = z.infer<typeof FaultOptionsSchema>;

/** An outage of Upheal, switched on and off at runtime (`PUT /__sim/outage`). */
export const OUTAGE_MODES = {
  /** Upheal answers as usual. */
  none: 'none',
  /** Every Upheal route answers 503, before the rate limit and without effect. */
  unavailable: 'unavailable',
  /** Every Upheal route answers 401: the API key is refused (revoked). */
  unauthorized: 'unauthorized',
} as const;

/** One of OUTAGE_MODES. */
export type OutageMode = (typeof OUTAGE_MODES)[keyof typeof OUTAGE_MODES];

/** The body of `PUT /__sim/outage`. */
export const OutageOptionsSchema = z.object({
  mode: z.enum([OUTAGE_MODES.none, OUTAGE_MODES.unavailable, OUTAGE_MODES.unauthorized]),
});

/** Upheal's documented webhook retries: up to 5 after the first attempt. */
export const DEFAULT_WEBHOOK_RETRIES = 5;
/** Upheal's answer budget for a webhook delivery. */
export const WEBHOOK_TIMEOUT_MS = 5_000;

/**
 * The webhooks sent when a user is created (upheal-api.md §8 rows 13–16). Off until a URL and a
 * secret are set; signed as the product's `UPHEAL_WEBHOOK_SIGNATURE_SCHEME` expects.
 */
export const WebhookOptionsSchema = z.object({
  url: z.url().optional(),
  secret: z.string().min(1).optional(),
  scheme: z.enum(['body', 'timestamp-body']).default('body'),
  /** Retries after a failed attempt (any answer but 200/204, or none in time). */
  retries: z.number().int().min(0).max(10).default(DEFAULT_WEBHOOK_RETRIES),
  /** First retry delay; each next one doubles. */
  backoffMs: z.number().nonnegative().default(1_000),
  timeoutMs: z.number().positive().default(WEBHOOK_TIMEOUT_MS),
  /** Probability that an event is delivered twice. */
  duplicates: probability.default(0),
  /** Random delay before an event's first attempt, uniform in [0, this]: reorders events. */
  reorderMaxMs: z.number().nonnegative().default(0),
  /** Seed of the duplicate and reorder draws. */
  seed: z.number().int().default(DEFAULT_SEED),
});

/** Validated webhook options. */
export type WebhookOptions = z.infer<typeof WebhookOptionsSchema>;

/** Every option of the simulator, with defaults. */
export const SimulatorOptionsSchema = z.object({
  port: z.number().int().min(0).max(MAX_PORT).default(0),
  host: z.string().min(1).default(DEFAULT_HOST),
  apiKeys: z.array(z.string().min(1)).min(1).default([DEFAULT_API_KEY]),
  rateLimit: RateLimitOptionsSchema.default(RateLimitOptionsSchema.parse({})),
  /** Upheal documents no 409 for provider create, so a duplicate answers 400 unless switched. */
  duplicateProviderStatus: z.union([z.literal(400), z.literal(409)]).default(400),
  /** Status for an unknown user id (upheal-api.md §8 row 9). */
  notFoundStatus: z.union([z.literal(404), z.literal(403), z.literal(400)]).default(404),
  /** Shape of 4xx/5xx bodies on the Upheal routes (the introspection API always answers JSON). */
  errorBody: z
    .enum([ERROR_BODY_FORMS.json, ERROR_BODY_FORMS.empty, ERROR_BODY_FORMS.text])
    .default('json'),
  faults: FaultOptionsSchema.default(FaultOptionsSchema.parse({})),
  /** An outage in force from the start (normally switched at runtime). */
  outage: OutageOptionsSchema.shape.mode.default(OUTAGE_MODES.none),
  webhooks: WebhookOptionsSchema.default(WebhookOptionsSchema.parse({})),
});

/** Validated simulator options. */
export type SimulatorOptions = z.infer<typeof SimulatorOptionsSchema>;

/** Input accepted by `startSimulator`: any subset, nested objects partial too. */
export type SimulatorOptionsInput = z.input<typeof SimulatorOptionsSchema>;

/** Formats zod issues as `field: reason; …` without echoing values. */
export function describeIssues(error: z.ZodError, prefix = ''): string {
  return error.issues
    .map((issue) => {
      const field = [prefix, ...issue.path.map(String)].filter(Boolean).join('.');
      return `${field || '(body)'}: ${issue.message}`;
    })
    .join('; ');
}

/** Parses options with `schema`, throwing ConfigError naming the bad fields (never values). */
export function parseOptions<Schema extends z.ZodType>(
  schema: Schema,
  input: unknown,
  prefix = '',
): z.infer<Schema> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ConfigError(describeIssues(result.error, prefix));
  return result.data;
}
