/**
 * The integrator's choices for one deployment: the `params` of `serverless.yml` (defaults there,
 * override per deploy with `--param="name=value"`; docs/deployment.md lists them). Validated here
 * when the template is built, so a bad value stops `osls package`/`deploy` naming the parameter
 * instead of deploying functions that fail at their first start.
 */
import * as z from 'zod';

/** An SSM parameter name: letters, digits and `_.-/`, hierarchical names start with `/`. */
const SsmParameterName = z
  .string()
  .regex(/^\/?[A-Za-z0-9_.\-/]{1,1011}$/, 'must be an SSM parameter name, e.g. /upheal-sync/prod/x')
  .refine((name) => !/^\/?(aws|ssm)/i.test(name), 'must not start with aws or ssm (reserved)');

/** An ARN of an IAM principal: an account (`…:root`), a role or a user. */
const PrincipalArn = z
  .string()
  .regex(
    /^arn:aws[a-z-]*:iam::\d{12}:(root|role\/.+|user\/.+)$/,
    'must be an IAM role, user or account root ARN',
  );

/** `''` means "not set" (osls resolves a missing optional param to the empty default). */
const optional = <T extends z.ZodType>(schema: T) =>
  z.union([z.literal('').transform(() => undefined), schema]);

const numberParam = z.coerce.number();

/** The params, as serverless.yml resolves them (strings), checked and typed. */
const DeploySettingsSchema = z.object({
  /** Short: the bucket name (≤ 63) is `upheal-sync-<stage>-imports-<account>-<region>`. */
  stage: z.string().regex(/^[a-z0-9-]{1,12}$/, 'must be 1-12 lower-case letters, digits or -'),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region, e.g. eu-west-1'),
  /** SSM SecureString holding the Upheal API key. */
  uphealApiKeyParameter: SsmParameterName,
  /** SSM SecureString holding the ingest signing secret(s), comma-separated during a rotation. */
  ingestSecretParameter: SsmParameterName,
  /** The partner's HTTPS endpoint for outbound events; none when empty. */
  outboundWebhookUrl: optional(z.url({ protocol: /^https$/, message: 'must be an https URL' })),
  /** SSM SecureString holding the secret outbound webhook requests are signed with. */
  outboundWebhookSecretParameter: SsmParameterName,
  /** SSM SecureString holding the secret(s) of Upheal's webhook signatures, comma-separated during a rotation. */
  uphealWebhookSecretParameter: SsmParameterName,
  /** What Upheal's webhook signature covers (to be confirmed with Upheal): `body` or `timestamp-body`. */
  uphealWebhookSignatureScheme: z.enum(['body', 'timestamp-body']),
  uphealBaseUrl: z.url({ protocol: /^https$/, message: 'must be an https URL' }),
  uphealRateLimit: numberParam.pipe(z.number().int().positive()),
  uphealRateWindowSeconds: numberParam.pipe(z.number().positive()),
  /** Whether a created provider's single-use invite URL goes to the partner. */
  shareInviteUrl: z.enum(['true', 'false']),
  deleteGuardMaxCount: numberParam.pipe(z.number().int().nonnegative()),
  deleteGuardMaxShare: numberParam.pipe(z.number().min(0).max(1)),
  /**
   * Concurrent instances the internet-facing `ingest` function may run at most (reserved
   * concurrency): a flood of requests is throttled there instead of taking the account's
   * concurrency from the sync functions. Lambda accepts 1–1000 (within the account's quota).
   */
  ingestReservedConcurrency: numberParam.pipe(z.number().int().min(1).max(1000)),
  /** SNS topic every alarm notifies (on alarm and back to OK); none when empty. */
  alarmTopicArn: optional(
    z.string().regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$/, 'must be an SNS ARN'),
  ),
  /**
   * The partner's IAM principal for direct SQS access (another account, or a role in this one):
   * it may send to the user-events queue and consume the outbound queue. None when empty.
   */
  partnerPrincipalArn: optional(PrincipalArn),
});

/** One deployment's validated settings. */
export type DeploySettings = z.infer<typeof DeploySettingsSchema>;

/** The names of the serverless.yml params (everything but stage and region). */
export const DEPLOY_PARAM_NAMES = Object.keys(DeploySettingsSchema.shape).filter(
  (name) => name !== 'stage' && name !== 'region',
) as (keyof Omit<DeploySettings, 'stage' | 'region'>)[];

/** Parses resolved params; throws naming every bad param (values are not secrets, names are). */
export function parseDeploySettings(input: Record<string, unknown>): DeploySettings {
  const result = DeploySettingsSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map(
    (issue) => `param ${issue.path.join('.')}: ${issue.message}`,
  );
  throw new Error(`invalid deployment settings: ${problems.join('; ')}`);
}
