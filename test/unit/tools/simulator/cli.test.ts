import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '#lib/errors.ts';
import { optionsFromArgs } from '#tools/simulator/cli-options.ts';
import { call } from './http.ts';

const BIN = 'bin/upheal-simulator.ts';

function run(args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
}

async function collect(stream: NodeJS.ReadableStream | null): Promise<string> {
  let text = '';
  for await (const chunk of stream ?? []) text += String(chunk);
  return text;
}

describe('optionsFromArgs', () => {
  it('maps every flag to its option', () => {
    expect(
      optionsFromArgs([
        '--port=0',
        '--api-key',
        'a',
        '--api-key',
        'b',
        '--limit',
        '300',
        '--window-seconds',
        '10',
        '--mode',
        'fixed',
        '--retry-after',
        'seconds',
        '--count-429s',
        '--foreign-share',
        '0.2',
        '--seed',
        '5',
        '--server-error',
        '0.1',
        '--created-but-failed',
        '0.05',
        '--hang',
        '0.01',
        '--reset',
        '0.02',
        '--latency-min',
        '3',
        '--latency-max',
        '9',
        '--duplicate-provider-status',
        '409',
        '--not-found-status',
        '403',
        '--error-body',
        'text',
      ]),
    ).toEqual({
      port: 0,
      apiKeys: ['a', 'b'],
      duplicateProviderStatus: 409,
      notFoundStatus: 403,
      errorBody: 'text',
      rateLimit: {
        limit: 300,
        windowMs: 10_000,
        mode: 'fixed',
        retryAfter: 'seconds',
        count429s: true,
        foreignShare: 0.2,
      },
      faults: {
        seed: 5,
        serverError: 0.1,
        createdButFailed: 0.05,
        hang: 0.01,
        reset: 0.02,
        latencyMs: { min: 3, max: 9 },
      },
      webhooks: {},
    });
  });

  it('maps the webhook flags, taking the secret from the environment only', () => {
    const args = [
      '--webhook-url',
      'http://127.0.0.1:9/hook',
      '--webhook-scheme',
      'timestamp-body',
      '--webhook-retries',
      '2',
      '--webhook-backoff-ms',
      '50',
      '--webhook-duplicates',
      '0.1',
      '--webhook-reorder-ms',
      '200',
    ];
    expect(optionsFromArgs(args, { UPHEAL_WEBHOOK_SECRET: 'from-the-environment' })).toMatchObject({
      webhooks: {
        url: 'http://127.0.0.1:9/hook',
        secret: 'from-the-environment',
        scheme: 'timestamp-body',
        retries: 2,
        backoffMs: 50,
        duplicates: 0.1,
        reorderMaxMs: 200,
      },
    });
    expect(() => optionsFromArgs(['--webhook-secret', 'x'])).toThrow(/webhook-secret/);
  });

  it('answers help for --help and leaves unset options out', () => {
    expect(optionsFromArgs(['--help'])).toBe('help');
    expect(optionsFromArgs([])).toEqual({ rateLimit: {}, faults: {}, webhooks: {} });
  });

  it('rejects unknown flags and non-numeric values', () => {
    expect(() => optionsFromArgs(['--bogus'])).toThrow(/bogus/);
    expect(() => optionsFromArgs(['--limit', 'many'])).toThrow(ConfigError);
    expect(() => optionsFromArgs(['--limit', 'many'])).toThrow(/--limit/);
  });
});

describe('bin/upheal-simulator.ts', () => {
  it('serves the API on the printed URL and exits 0 on SIGTERM', async () => {
    const child = run(['--port', '0', '--api-key', 'cli-key', '--limit', '5']);
    const lines = createInterface({ input: child.stdout! });
    const [line] = (await once(lines, 'line')) as [string];
    const url = /(http:\/\/\S+)/.exec(line)?.[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const answer = await call(
      { url: url! },
      'POST',
      '/users/check',
      { email: 'a@b.test' },
      { key: 'cli-key' },
    );
    expect(answer.status).toBe(200);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    expect((await exited)[0]).toBe(0);
  });

  it('exits 2 with a message naming a bad flag or option', async () => {
    for (const [args, message] of [
      [['--nope'], /nope/],
      [['--mode', 'leaky'], /rateLimit\.mode/],
      [['--foreign-share', '2'], /rateLimit\.foreignShare/],
    ] as const) {
      const child = run([...args]);
      const [stderr, [code]] = await Promise.all([collect(child.stderr), once(child, 'exit')]);
      expect(code).toBe(2);
      expect(stderr).toMatch(message);
    }
  });

  it('prints usage for --help', async () => {
    const child = run(['--help']);
    const [stdout, [code]] = await Promise.all([collect(child.stdout), once(child, 'exit')]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--window-seconds/);
  });
});
