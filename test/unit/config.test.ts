/** The one validated configuration: defaults, and errors that name the variable (never its value). */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '#lib/config.ts';
import { ConfigError } from '#lib/errors.ts';

const QUEUE = 'http://127.0.0.1:4566/000000000000/q.fifo';
const MINIMAL = {
  TABLE_NAME: 'upheal-sync-test-state',
  USER_EVENTS_QUEUE_URL: QUEUE,
  IMPORT_QUEUE_URL: QUEUE,
  ASSIGNMENTS_QUEUE_URL: QUEUE,
  IMPORT_CONTROL_QUEUE_URL: QUEUE,
  UPHEAL_API_KEY_PARAMETER: '/upheal-sync/test/upheal-api-key',
};

function problemWith(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('fills the documented defaults', () => {
    expect(parseConfig(MINIMAL)).toMatchObject({
      UPHEAL_BASE_URL: 'https://api.upheal.io',
      UPHEAL_RATE_LIMIT: 300,
      UPHEAL_RATE_WINDOW_SECONDS: 60,
      UPHEAL_RATE_JITTER_MS: 1000,
      SYNC_MAX_ATTEMPTS: 5,
      DEPENDENCY_WAIT_SECONDS: 900,
      DELETE_GUARD_MAX_COUNT: 20,
      DELETE_GUARD_MAX_SHARE: 0.1,
      SHARE_INVITE_URL: false,
    });
  });

  it('names a missing variable', () => {
    const { TABLE_NAME: _omitted, ...withoutTable } = MINIMAL;
    expect(problemWith(withoutTable).message).toMatch(/TABLE_NAME/);
  });

  it('requires an API key or the name of its SSM parameter', () => {
    const { UPHEAL_API_KEY_PARAMETER: _omitted, ...withoutKey } = MINIMAL;
    expect(problemWith(withoutKey).message).toMatch(/UPHEAL_API_KEY/);
    expect(parseConfig({ ...withoutKey, UPHEAL_API_KEY: 'local-dev-key' }).UPHEAL_API_KEY).toBe(
      'local-dev-key',
    );
  });

  it('rejects a jitter allowance below what the limiter can keep, naming it', () => {
    expect(problemWith({ ...MINIMAL, UPHEAL_RATE_JITTER_MS: '5' }).message).toMatch(
      /UPHEAL_RATE_JITTER_MS/,
    );
  });

  it('names a malformed value without echoing it', () => {
    const secretLooking = 'not a url with s3cr3t-token-inside';
    const error = problemWith({
      ...MINIMAL,
      UPHEAL_BASE_URL: secretLooking,
      SHARE_INVITE_URL: 'maybe',
    });
    expect(error.message).toMatch(/UPHEAL_BASE_URL/);
    expect(error.message).toMatch(/SHARE_INVITE_URL/);
    expect(error.message).not.toContain('s3cr3t');
  });
});
