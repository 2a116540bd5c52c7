/**
 * The operator commands against a local stack, through the dispatcher as an operator runs them:
 * the `--json` shape and exit status of every command that prints a result, `--stage local`
 * reading the running stack's endpoints file, the offline and the online dry run, `import` of an
 * S3 object in place, and `send-events --wait` waiting only for its own events. No function runs:
 * the state is written with the stores, so each command's answer is known.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { DynamoStagedDeletes } from '#lib/sync/staged-deletes.ts';
import { DynamoHealStore, traceKey } from '#lib/upheal-webhook/heal-store.ts';
import { at, providerEvent } from '#test/helpers/events.ts';
import { useLocalStack } from '#test/helpers/local-stack.ts';
import { EXIT } from '#tools/cli/command.ts';
import { writeLocalEndpoints } from '#tools/cli/commands/local.ts';
import { main } from '#tools/cli/main.ts';
import { s3ClientFrom, type Target, targetFromEnv } from '#tools/cli/target.ts';
import { PROJECT_ROOT } from '#tools/local/stack.ts';

/** When the sample export counts as taken (it does not state it itself). */
const EXPORTED_AT = '2026-11-20T08:00:00Z';
const handle = useLocalStack({ functions: [] });
const SAMPLE = join(PROJECT_ROOT, 'samples', 'import.ndjson');

let target: Target;
let dir: string;
beforeAll(async () => {
  target = targetFromEnv(handle.stack.env);
  dir = await mkdtemp(join(tmpdir(), 'upheal-sync-cli-'));
  const mappings = new DynamoMappingStore({
    client: target.documents,
    tableName: target.tableName,
  });
  await mappings.save(
    {
      partnerUserId: 'p-001',
      kind: 'provider',
      state: 'active',
      uphealUserId: 'u-1',
      version: { ms: Date.parse('2026-11-01T00:00:00.000Z'), eventId: 'e-1' },
      lastOutcome: 'created',
    },
    undefined,
  );
  await mappings.save({ partnerUserId: 'c-pending', kind: 'client', state: 'pending' }, undefined);
  await new DynamoFailureStore(target.documents, target.tableName).record({
    partnerUserId: 'p-001',
    eventId: 'e-2',
    operation: 'update',
    status: 400,
    reason: 'email: refused',
  });
  const heal = new DynamoHealStore(target.documents, target.tableName);
  await heal.recordTrace({
    partnerUserId: 'p-001',
    uphealUserId: 'u-1',
    outcome: 'already-mapped',
    receivedAt: '2026-11-01T00:00:05.000Z',
  });
  await heal.recordTrace({
    partnerUserId: 'c-stranger',
    uphealUserId: 'u-9',
    outcome: 'unknown-partner-user',
    receivedAt: '2026-11-01T00:00:06.000Z',
  });
  // Whatever else the item might hold, trace shows only the webhook's ids, times and outcome.
  await target.documents.send(
    new UpdateCommand({
      TableName: target.tableName,
      Key: traceKey('c-stranger'),
      UpdateExpression: 'SET stray = :stray',
      ExpressionAttributeValues: { ':stray': 'not for the operator' },
    }),
  );
  await new DynamoStagedDeletes(target.documents, target.tableName).stage({
    partnerUserId: 'p-001',
    uphealUserId: 'u-1',
    eventId: 'e-3',
    occurredAt: at(1),
  });
});
afterAll(async () => {
  target?.close();
  await rm(dir, { recursive: true, force: true });
});

/** Runs the CLI against the stack (or `env`); resolves with the status and what it printed. */
async function run(args: string[], env: NodeJS.ProcessEnv = handle.stack.env) {
  let stdout = '';
  let stderr = '';
  const status = await main(
    args,
    undefined,
    {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
    },
    { env },
  );
  return { status, stdout, stderr, json: () => JSON.parse(stdout) as Record<string, unknown> };
}

describe('operator commands on the local stack', () => {
  it('names the stage and the Upheal URL on the first stderr line', async () => {
    const { stderr } = await run(['deletes', 'list']);
    expect(stderr.split('\n')[0]).toBe(
      `upheal-sync: stage local · Upheal ${handle.stack.env.UPHEAL_BASE_URL}`,
    );
  });

  it('mappings export: CSV with a header, NDJSON objects, or a file; ids only', async () => {
    const csv = await run(['mappings', 'export']);
    expect(csv.status).toBe(EXIT.ok);
    const lines = csv.stdout.trimEnd().split('\r\n');
    expect(lines[0]).toBe('partnerUserId,kind,uphealUserId,state,version,versionEventId');
    expect(lines.slice(1).sort()).toEqual([
      'c-pending,client,,pending,,',
      'p-001,provider,u-1,active,2026-11-01T00:00:00.000Z,e-1',
    ]);
    const ndjson = await run(['mappings', 'export', '--format', 'ndjson']);
    const rows = ndjson.stdout
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(rows).toContainEqual({
      partnerUserId: 'p-001',
      kind: 'provider',
      uphealUserId: 'u-1',
      state: 'active',
      version: '2026-11-01T00:00:00.000Z',
      versionEventId: 'e-1',
    });
    const out = join(dir, 'mappings.csv');
    const file = await run(['mappings', 'export', '--out', out]);
    expect(file.stdout).toBe('');
    expect(file.stderr).toContain('exported 2 mapping(s)');
    expect(await readFile(out, 'utf8')).toBe(csv.stdout);
    expect((await run(['mappings', 'export', '--format', 'xml'])).status).toBe(EXIT.usage);
  });

  it('trace: the mapping, failures, staged delete and Upheal webhook of one user (ids only); 1 for an unknown user', async () => {
    const traced = await run(['trace', 'p-001', '--json']);
    expect(traced.status).toBe(EXIT.someFailed); // it has a failure record
    const trace = traced.json();
    expect(trace).toMatchObject({
      partnerUserId: 'p-001',
      mapping: {
        kind: 'provider',
        state: 'active',
        uphealUserId: 'u-1',
        version: { occurredAt: '2026-11-01T00:00:00.000Z', eventId: 'e-1' },
        lastOutcome: 'created',
      },
      failures: [{ eventId: 'e-2', operation: 'update', status: 400 }],
      stagedDelete: { eventId: 'e-3', uphealUserId: 'u-1', approved: false },
      webhook: {
        uphealUserId: 'u-1',
        outcome: 'already-mapped',
        receivedAt: '2026-11-01T00:00:05.000Z',
      },
      queues: { 'user-events': 0, 'import-users': 0 },
    });
    const text = await run(['trace', 'p-001']);
    expect(text.stdout).toContain('provider, active, Upheal u-1');
    expect(text.stdout).toContain(
      'upheal webhook    user created as Upheal u-1, received 2026-11-01T00:00:05.000Z: already-mapped',
    );
    // A partner id we never sent: no mapping, but the webhook that named it.
    const stranger = await run(['trace', 'c-stranger', '--json']);
    expect(stranger.status).toBe(EXIT.someFailed);
    const webhook = stranger.json().webhook as Record<string, unknown>;
    expect(Object.keys(webhook).sort()).toEqual([
      'at',
      'outcome',
      'partnerUserId',
      'receivedAt',
      'uphealUserId',
    ]);
    expect(webhook).toMatchObject({ uphealUserId: 'u-9', outcome: 'unknown-partner-user' });
    expect((await run(['trace', 'c-pending'])).stdout).toContain('upheal webhook    none');
    const unknown = await run(['trace', 'nobody', '--json']);
    expect(unknown.status).toBe(EXIT.someFailed);
    expect(unknown.json()).toMatchObject({ partnerUserId: 'nobody', failures: [] });
  });

  it('deletes, redrive, failures, outbound and status answer --json', async () => {
    const list = await run(['deletes', 'list', '--json']);
    expect(list.status).toBe(EXIT.ok);
    expect(JSON.parse(list.stdout.trim())).toMatchObject({
      partnerUserId: 'p-001',
      eventId: 'e-3',
    });
    const missing = await run(['deletes', 'reject', 'nobody', '--json']);
    expect(missing.status).toBe(EXIT.someFailed);
    expect(missing.json()).toEqual({ action: 'reject', done: [], missing: ['nobody'] });

    const redrive = await run(['redrive', '--dry-run', '--json']);
    expect(redrive.status).toBe(EXIT.ok);
    expect(redrive.json()).toEqual({
      dryRun: true,
      queues: {
        'user-events': 0,
        'import-users': 0,
        assignments: 0,
        'import-control': 0,
        'outbound-webhook': 0,
        'upheal-webhooks': 0,
      },
      total: 0,
    });
    const one = await run(['redrive', '--queue', 'user-events', '--dry-run', '--json']);
    expect(one.json()).toEqual({ dryRun: true, queues: { 'user-events': 0 }, total: 0 });
    const camel = await run(['redrive', '--queue', 'userEvents']);
    expect(camel.status).toBe(EXIT.usage);
    expect(camel.stderr).toContain('--queue: must be one of user-events');

    const failures = await run(['failures', '--live', '--json']);
    expect(failures.status).toBe(EXIT.someFailed);
    expect(JSON.parse(failures.stdout.split('\n')[0]!)).toMatchObject({ eventId: 'e-2' });

    const outbound = await run(['outbound', 'tail', '--count-only', '--json']);
    expect(outbound.json()).toEqual({ queue: 'outbound', messages: 0 });

    const status = await run(['status', '--json']);
    expect(status.status).toBe(EXIT.usage); // no job yet
    expect(status.stderr).toContain('JOB: no import job has been started');
  });

  it('import --dry-run plans offline and, against the stack, counts mapped users', async () => {
    const offline = await run(['import', SAMPLE, '--dry-run', '--json'], {
      PATH: process.env.PATH,
    });
    expect(offline.status).toBe(EXIT.someFailed); // the sample has invalid rows
    const plan = offline.json();
    expect(plan).toMatchObject({
      checkedMappings: false,
      plan: { providers: 40, alreadyMapped: 0 },
    });
    expect((plan.invalidRows as { line: number }[]).map((row) => row.line)).toContain(21);
    const online = await run(['import', SAMPLE, '--dry-run', '--json']);
    expect(online.json()).toMatchObject({ checkedMappings: true, plan: { alreadyMapped: 1 } });
    // Nothing was started: the control queue is empty.
    const { Messages = [] } = await handle.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: handle.stack.queueUrls.importControl,
        WaitTimeSeconds: 0,
      }),
    );
    expect(Messages).toEqual([]);
  });

  it('import --json uploads a file, or takes an s3:// object in place, and starts the job', async () => {
    const uploaded = await run(['import', SAMPLE, '--exported-at', EXPORTED_AT, '--json']);
    expect(uploaded.status).toBe(EXIT.ok);
    const started = uploaded.json();
    expect(started).toMatchObject({ resumed: false, format: 'ndjson' });
    expect(started.source).toMatch(new RegExp(`^s3://${handle.stack.bucketName}/imports/`));

    const s3 = s3ClientFrom(handle.stack.env);
    await s3.send(
      new PutObjectCommand({
        Bucket: handle.stack.bucketName,
        Key: 'partner/export.ndjson',
        Body: await readFile(SAMPLE),
      }),
    );
    s3.destroy();
    const inPlace = await run([
      'import',
      `s3://${handle.stack.bucketName}/partner/export.ndjson`,
      '--exported-at',
      EXPORTED_AT,
      '--json',
    ]);
    expect(inPlace.json()).toMatchObject({
      source: `s3://${handle.stack.bucketName}/partner/export.ndjson`,
    });
    const planned = await run([
      'import',
      `s3://${handle.stack.bucketName}/partner/export.ndjson`,
      '--dry-run',
      '--json',
    ]);
    expect(planned.json()).toMatchObject({ plan: { providers: 40 } });
  });

  it('send-events --wait waits for the events it sent only, up to --timeout', async () => {
    const file = join(dir, 'events.ndjson');
    const { writeFile } = await import('node:fs/promises');
    const event = providerEvent('p-wait', 1);
    await writeFile(file, `${JSON.stringify(event)}\n`);
    const sent = await run(['send-events', file, '--json']);
    expect(sent.json()).toEqual({ sent: 1 });
    // No function runs here, so the event is never applied: --wait gives up at the timeout.
    const waited = await run(['send-events', file, '--wait', '--timeout', '1', '--json']);
    expect(waited.status).toBe(EXIT.someFailed);
    expect(waited.json()).toEqual({
      sent: 1,
      applied: 0,
      staged: 0,
      failed: [],
      pending: [event.eventId],
    });
  });

  it('doctor: one line per check, 0 when all pass; 1 when Upheal refuses the key', async () => {
    const healthy = await run(['doctor', '--json']);
    expect(healthy.stderr).not.toContain('FAIL');
    const report = healthy.json() as { ok: boolean; checks: { check: string; ok: boolean }[] };
    expect(report.checks.filter((check) => !check.ok)).toEqual([]);
    expect(healthy.status).toBe(EXIT.ok);
    expect(report.checks.map((check) => check.check).sort()).toEqual(
      [
        'configuration',
        `table ${handle.stack.tableName}`,
        `bucket ${handle.stack.bucketName}`,
        'queue user-events',
        'queue import-users',
        'queue assignments',
        'queue import-control',
        'queue outbound',
        'queue outbound-webhook',
        'queue upheal-webhooks',
        `Upheal key at ${handle.stack.env.UPHEAL_BASE_URL}`,
      ].sort(),
    );
    const text = await run(['doctor']);
    expect(text.stdout.trimEnd().split('\n')).toHaveLength(report.checks.length);

    const badKey = await run(['doctor', '--json'], {
      ...handle.stack.env,
      UPHEAL_API_KEY: 'wrong',
    });
    expect(badKey.status).toBe(EXIT.someFailed);
    const refused = (
      badKey.json() as { checks: { check: string; ok: boolean; detail: string }[] }
    ).checks.at(-1);
    expect(refused).toMatchObject({
      ok: false,
      detail: expect.stringContaining('refused (HTTP 401)'),
    });
    expect(badKey.stdout).not.toContain('wrong');
  });

  it('--stage local reads the running local stack from its endpoints file', async () => {
    const path = join(dir, 'local.json');
    const printable = Object.fromEntries(
      Object.entries(handle.stack.env).filter(([name]) => !/SECRET|API_KEY/.test(name)),
    );
    await writeLocalEndpoints({ UPHEAL_SYNC_LOCAL_FILE: path }, printable);
    const env = { UPHEAL_SYNC_LOCAL_FILE: path, PATH: process.env.PATH };
    const exported = await run(
      ['--stage', 'local', 'mappings', 'export', '--format', 'ndjson'],
      env,
    );
    expect(exported.status).toBe(EXIT.ok);
    expect(exported.stderr.split('\n')[0]).toContain('stage local');
    expect(exported.stdout.trimEnd().split('\n')).toHaveLength(2);
    const stopped = await run(['--stage', 'local', 'trace', 'p-001'], {
      UPHEAL_SYNC_LOCAL_FILE: join(dir, 'none.json'),
    });
    expect(stopped.status).toBe(EXIT.usage);
    expect(stopped.stderr).toContain('no local stack is running');
  });

  it('verify: finds users gone, emails owned by another id and deactivated accounts; resumable', async () => {
    const mappings = new DynamoMappingStore({
      client: target.documents,
      tableName: target.tableName,
    });
    const simulator = handle.stack.simulator!;
    const seed = (email: string, isActive = true) =>
      simulator.seedUsers([
        { userType: 'HealthcareProvider', firstName: 'A', lastName: 'B', email, isActive },
      ])[0]!.userId;
    const other = seed('quinn.fauxley.p002@example.com');
    const inactive = seed('parker.testworth.p003@example.com', false);
    const fine = seed('bo.fauxley.p004@example.com');
    const active = (partnerUserId: string, uphealUserId: string) =>
      mappings.save({ partnerUserId, kind: 'provider', state: 'active', uphealUserId }, undefined);
    await active('p-002', 'u-2');
    await active('p-003', inactive);
    await active('p-004', fine);

    const verified = await run(['verify', '--from', SAMPLE, '--json']);
    expect(verified.status).toBe(EXIT.someFailed);
    const report = verified.json() as { checked: number; findings: Record<string, string>[] };
    expect(report.checked).toBe(4); // p-001 (seeded earlier) to p-004
    expect(report.findings).toEqual(
      expect.arrayContaining([
        { partnerUserId: 'p-001', kind: 'provider', uphealUserId: 'u-1', finding: 'gone' },
        {
          partnerUserId: 'p-002',
          kind: 'provider',
          uphealUserId: 'u-2',
          finding: 'emailOwnedByOther',
          otherUphealUserId: other,
        },
        {
          partnerUserId: 'p-003',
          kind: 'provider',
          uphealUserId: inactive,
          finding: 'deactivated',
        },
      ]),
    );
    expect(report.findings).toHaveLength(3);
    expect(verified.stdout + verified.stderr).not.toContain('@example.com');
    expect(verified.stderr).toMatch(/verify: 4\/4 checked, 3 finding\(s\), ETA/);

    const checkpoint = join(dir, 'verify.json');
    const first = await run([
      'verify',
      '--from',
      SAMPLE,
      '--sample',
      '2',
      '--checkpoint',
      checkpoint,
      '--json',
    ]);
    expect(first.json()).toMatchObject({ checked: 2 });
    const again = await run([
      'verify',
      '--from',
      SAMPLE,
      '--sample',
      '2',
      '--checkpoint',
      checkpoint,
      '--json',
    ]);
    expect(again.stderr).toContain('resuming; 2 already checked');
    expect(again.json()).toEqual(first.json());
    expect((await run(['verify'])).status).toBe(EXIT.usage);
  });
});
