/**
 * Secrets: a value as configured, or an SSM SecureString parameter read with Powertools
 * Parameters (here through the real SDK client against a local stand-in of SSM's HTTP API).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '#lib/errors.ts';
import { configuredSecret, requiredSecret, SECRET_REFRESH_INTERVAL_MS } from '#lib/secrets.ts';

/** What the stand-in holds and what it was asked. */
const ssm = {
  values: new Map<string, string>(),
  requests: [] as { name: string; withDecryption: boolean }[],
};
let server: Server;
let endpoint: string;

beforeAll(async () => {
  // SSM's JSON protocol: POST / with `X-Amz-Target: AmazonSSM.GetParameter`.
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const { Name, WithDecryption } = JSON.parse(body) as {
        Name: string;
        WithDecryption: boolean;
      };
      ssm.requests.push({ name: Name, withDecryption: WithDecryption });
      const value = ssm.values.get(Name);
      response.setHeader('content-type', 'application/x-amz-json-1.1');
      if (value === undefined) {
        response.statusCode = 400;
        response.end(JSON.stringify({ __type: 'ParameterNotFound', message: 'not found' }));
        return;
      }
      response.end(JSON.stringify({ Parameter: { Name, Type: 'SecureString', Value: value } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** A Powertools provider of its own (its own cache) on the stand-in, and a clock. */
function provider() {
  const client = new SSMClient({
    endpoint,
    region: 'eu-west-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const clock = { now: 0 };
  return { parameters: new SSMProvider({ awsSdkV3Client: client }), clock };
}

describe('configuredSecret', () => {
  it('serves a configured value as it is, and never reads it again', async () => {
    const secret = configuredSecret({ variable: 'UPHEAL_API_KEY', value: 'local-key' });
    expect(await secret?.value()).toBe('local-key');
    expect(await secret?.refresh()).toBeUndefined();
  });

  it('is undefined when neither the value nor a parameter is set', () => {
    expect(configuredSecret({ variable: 'OUTBOUND_WEBHOOK_SECRET' })).toBeUndefined();
  });

  it('reads the parameter decrypted, once, and serves the cache after', async () => {
    ssm.values.set('/sync/key-a', 'key-1');
    const { parameters, clock } = provider();
    const secret = configuredSecret(
      { variable: 'UPHEAL_API_KEY', parameter: '/sync/key-a' },
      { parameters, now: () => clock.now },
    );
    expect(await Promise.all([secret!.value(), secret!.value()])).toEqual(['key-1', 'key-1']);
    ssm.values.set('/sync/key-a', 'key-2');
    expect(await secret!.value()).toBe('key-1');
    const asked = ssm.requests.filter((request) => request.name === '/sync/key-a');
    expect(asked).toEqual([{ name: '/sync/key-a', withDecryption: true }]);
  });

  it('reads again after a refusal, at most once per interval', async () => {
    ssm.values.set('/sync/key-b', 'key-1');
    const { parameters, clock } = provider();
    const secret = configuredSecret(
      { variable: 'UPHEAL_API_KEY', parameter: '/sync/key-b' },
      { parameters, now: () => clock.now },
    );
    await secret!.value();
    ssm.values.set('/sync/key-b', 'key-2');
    expect(await secret!.refresh()).toBe('key-2');
    expect(await secret!.value()).toBe('key-2');

    ssm.values.set('/sync/key-b', 'key-3');
    clock.now = SECRET_REFRESH_INTERVAL_MS - 1;
    expect(await secret!.refresh()).toBeUndefined();
    clock.now = SECRET_REFRESH_INTERVAL_MS;
    expect(await secret!.refresh()).toBe('key-3');
  });
});

describe('requiredSecret', () => {
  it('stops start-up naming both variables when the secret is not configured', () => {
    expect(() => requiredSecret({ variable: 'INGEST_SECRET' })).toThrow(
      new ConfigError('set INGEST_SECRET (local) or INGEST_SECRET_PARAMETER (SSM parameter name)'),
    );
  });

  it('fails with a ConfigError naming a parameter that has no value', async () => {
    const secret = requiredSecret(
      { variable: 'INGEST_SECRET', parameter: '/sync/empty' },
      { parameters: { get: async () => undefined } },
    );
    await expect(secret.value()).rejects.toThrow(
      new ConfigError('SSM parameter /sync/empty has no value'),
    );
  });
});
