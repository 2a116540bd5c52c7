/**
 * The integrator's settings (serverless.yml `params`) are checked when the template is built: a
 * bad value stops `osls package`/`deploy` naming the param, before anything reaches AWS.
 */
import { describe, expect, it } from 'vitest';
import { DEPLOY_PARAM_NAMES, parseDeploySettings } from '#infra/deploy-settings.ts';

/** What serverless.yml resolves with its defaults, for stage `prod`. */
const DEFAULTS = {
  stage: 'prod',
  region: 'eu-west-1',
  uphealApiKeyParameter: '/upheal-sync/prod/upheal-api-key',
  ingestSecretParameter: '/upheal-sync/prod/ingest-secret',
  outboundWebhookUrl: '',
  outboundWebhookSecretParameter: '/upheal-sync/prod/outbound-webhook-secret',
  uphealWebhookSecretParameter: '/upheal-sync/prod/upheal-webhook-secret',
  uphealWebhookSignatureScheme: 'body',
  uphealBaseUrl: 'https://api.upheal.io',
  uphealRateLimit: '300',
  uphealRateWindowSeconds: '60',
  shareInviteUrl: 'false',
  deleteGuardMaxCount: '20',
  deleteGuardMaxShare: '0.1',
  ingestReservedConcurrency: '10',
  alarmTopicArn: '',
  partnerPrincipalArn: '',
};

describe('parseDeploySettings', () => {
  it('accepts the defaults of serverless.yml: numbers typed, empty optional params unset', () => {
    expect(parseDeploySettings(DEFAULTS)).toEqual({
      ...DEFAULTS,
      uphealRateLimit: 300,
      uphealRateWindowSeconds: 60,
      deleteGuardMaxCount: 20,
      deleteGuardMaxShare: 0.1,
      ingestReservedConcurrency: 10,
      alarmTopicArn: undefined,
      partnerPrincipalArn: undefined,
      outboundWebhookUrl: undefined,
    });
  });

  it('lists every param of serverless.yml (stage and region come from osls itself)', () => {
    expect([...DEPLOY_PARAM_NAMES].sort()).toEqual(
      Object.keys(DEFAULTS)
        .filter((name) => name !== 'stage' && name !== 'region')
        .sort(),
    );
  });

  it('accepts an alarm topic, a partner role or account, and a parameter name without a leading slash', () => {
    const settings = parseDeploySettings({
      ...DEFAULTS,
      alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:on-call',
      partnerPrincipalArn: 'arn:aws:iam::210987654321:root',
      uphealApiKeyParameter: 'upheal-api-key',
    });
    expect(settings.alarmTopicArn).toBe('arn:aws:sns:eu-west-1:123456789012:on-call');
    expect(settings.partnerPrincipalArn).toBe('arn:aws:iam::210987654321:root');
    expect(
      parseDeploySettings({
        ...DEFAULTS,
        partnerPrincipalArn: 'arn:aws:iam::210987654321:role/partner/events',
      }).partnerPrincipalArn,
    ).toBe('arn:aws:iam::210987654321:role/partner/events');
  });

  it.each([
    ['stage', 'Production_1', 'stage'],
    ['stage', 'a-very-long-stage', 'stage'],
    ['region', 'europe', 'region'],
    ['uphealApiKeyParameter', '/aws/reserved', 'uphealApiKeyParameter'],
    ['ingestSecretParameter', 'has spaces', 'ingestSecretParameter'],
    ['uphealBaseUrl', 'http://api.upheal.io', 'uphealBaseUrl'],
    ['uphealRateLimit', '0', 'uphealRateLimit'],
    ['uphealRateLimit', 'many', 'uphealRateLimit'],
    ['uphealRateWindowSeconds', '-60', 'uphealRateWindowSeconds'],
    ['shareInviteUrl', 'yes', 'shareInviteUrl'],
    ['uphealWebhookSecretParameter', 'has spaces', 'uphealWebhookSecretParameter'],
    ['uphealWebhookSignatureScheme', 'hmac', 'uphealWebhookSignatureScheme'],
    ['deleteGuardMaxCount', '2.5', 'deleteGuardMaxCount'],
    ['deleteGuardMaxShare', '1.5', 'deleteGuardMaxShare'],
    ['ingestReservedConcurrency', '0', 'ingestReservedConcurrency'],
    ['ingestReservedConcurrency', '', 'ingestReservedConcurrency'],
    ['alarmTopicArn', 'on-call', 'alarmTopicArn'],
    ['partnerPrincipalArn', '210987654321', 'partnerPrincipalArn'],
  ])('refuses %s = %j, naming the param', (name, value, named) => {
    expect(() => parseDeploySettings({ ...DEFAULTS, [name]: value })).toThrow(
      new RegExp(`param ${named}:`),
    );
  });

  it('names every bad param at once', () => {
    expect(() =>
      parseDeploySettings({ ...DEFAULTS, uphealRateLimit: '0', shareInviteUrl: 'yes' }),
    ).toThrow(/param uphealRateLimit:.*param shareInviteUrl:/);
  });
});
