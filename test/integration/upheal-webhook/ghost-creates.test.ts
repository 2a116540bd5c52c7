/**
 * Creates whose answer was lost, healed by Upheal's webhooks, on the local stack: the simulator
 * answers some creates 500 after creating the user (`createdButFailed`), for clients without an
 * email, which no check can find. Their retries answer 409. With webhooks on, the simulator's
 * user-created webhooks reach `upheal-webhook`, `apply-upheal-webhook` records the mappings and
 * the waiting rows settle: every client mapped, none failed. With webhooks off, the same rows
 * fail after the bounded wait and leave orphan accounts in Upheal. With webhooks on but no wait
 * (a row fails at its first 409, before its webhook is applied), the webhook heals the failed
 * rows afterwards: the job's counts move them from failed to created, and `status` says so.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '#lib/jobs/job.ts';
import { documentClient } from '#lib/store/document-client.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { bundleHandlers, waitFor } from '#test/helpers/local-stack.ts';
import { type FlatRecord, provider, toNdjson } from '#test/unit/jobs/import-data.ts';
import { EXIT } from '#tools/cli/command.ts';
import { createImportCommand } from '#tools/cli/commands/import.ts';
import { createStatusCommand, jobsOf } from '#tools/cli/commands/status.ts';
import { targetFromEnv } from '#tools/cli/target.ts';
import { localClientConfig, PROJECT_ROOT } from '#tools/local/stack.ts';
import { startImportStack } from '../jobs/import-stack.ts';

const PROVIDERS = 3;
const CLIENTS = 16;
/** Share of Upheal calls that take effect but answer 500 (at least one lost answer per run but once in about a thousand). */
const GHOST_RATE = 0.35;
/**
 * How long a 409 without email waits for the webhook: ample with webhooks on (the healer first
 * lets a create that may be in flight finish), short with them off (the run waits it out).
 */
const WAIT_SECONDS = { on: '120', off: '8', late: '0' } as const;
/** How long the healed rows of the `late` run may take to leave the failed count. */
const HEAL_DEADLINE_MS = 120_000;
/** The healer's settle time, short here: sync-user answers within seconds on the local stack. */
const SETTLE_SECONDS = '8';
/**
 * Attempts of a row before it fails: at this fault rate, five 500s in a row (a provider failing,
 * its clients waiting 15 minutes for it) happen once in a few runs; ten, practically never.
 */
const MAX_ATTEMPTS = '10';

/** Client `n` without an email: the check-by-email cannot find it. */
function emaillessClient(n: number): FlatRecord {
  return {
    kind: 'client',
    partnerUserId: `c-${n}`,
    firstName: 'Cam',
    lastName: `Client${n}`,
    providerPartnerUserIds: [`p-${((n - 1) % PROVIDERS) + 1}`],
  };
}

const RECORDS = [
  ...Array.from({ length: PROVIDERS }, (_, i) => provider(i + 1)),
  ...Array.from({ length: CLIENTS }, (_, i) => emaillessClient(i + 1)),
];

let bundles: { dir: string; remove(): Promise<void> };
let files: string;
beforeAll(async () => {
  bundles = await bundleHandlers(
    Object.fromEntries(
      [
        'sync-user',
        'assign-providers',
        'initial-sync',
        'upheal-webhook',
        'apply-upheal-webhook',
      ].map((name) => [name, join(PROJECT_ROOT, `functions/${name}.ts`)]),
    ),
  );
  files = await mkdtemp(join(tmpdir(), 'upheal-sync-ghosts-'));
});
afterAll(async () => {
  await bundles?.remove();
  if (files) await rm(files, { recursive: true, force: true });
});

/** What one run ended with. */
interface RunFigures {
  readonly counts: Job['counts'];
  /** Client creates answered 500 (most took effect: the simulator's `createdButFailed`). */
  readonly createsAnswered500: number;
  readonly mappedClients: number;
  readonly orphans: number;
  /** User-created webhooks the simulator sent (one per user it created). */
  readonly webhookEvents: number;
  /** Of which answered 200/204 (a retry of one answered late is refused as a replay). */
  readonly webhooksDelivered: number;
  /** Rows the webhooks healed after they had failed (the job's `healed`). */
  readonly healed: number;
  /** `status` of the job once settled: exit status and text. */
  readonly status: { readonly exit: number; readonly text: string };
}

/** How Upheal's webhooks are set up for a run. */
type WebhookMode = keyof typeof WAIT_SECONDS;

/**
 * Imports the export on a fresh stack, with Upheal's webhooks on, off, or on while rows do not
 * wait for them (`late`).
 */
async function importWith(mode: WebhookMode): Promise<RunFigures> {
  const webhooks = mode !== 'off';
  const file = join(files, `export-${mode}.ndjson`);
  await writeFile(file, toNdjson(RECORDS));
  const run = await startImportStack(bundles.dir, {
    functions: webhooks
      ? ['sync-user', 'assign-providers', 'initial-sync', 'upheal-webhook', 'apply-upheal-webhook']
      : ['sync-user', 'assign-providers', 'initial-sync'],
    simulator: {
      rateLimit: { limit: 300, windowMs: 10_000 },
      faults: { seed: 7, createdButFailed: GHOST_RATE },
      webhooks: { backoffMs: 200 },
    },
    env: {
      UPHEAL_WEBHOOK_WAIT_SECONDS: WAIT_SECONDS[mode],
      UPHEAL_WEBHOOK_SETTLE_SECONDS: SETTLE_SECONDS,
      SYNC_MAX_ATTEMPTS: MAX_ATTEMPTS,
    },
  });
  const dynamo = new DynamoDBClient(localClientConfig(run.stack.endpoints.dynamodb));
  try {
    let out = '';
    const command = createImportCommand({
      env: run.env,
      output: { stdout: (text) => (out += text), stderr: (text) => (out += text) },
      isTty: false,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 200))),
    });
    // Taken a minute ago: nothing live is newer.
    const exportedAt = new Date(Date.now() - 60_000).toISOString();
    await command.run([file, '--wait', '--exported-at', exportedAt]);
    const jobId = /^job (\S+):/m.exec(out)?.[1];
    expect(jobId, out).toBeDefined();
    const jobs = jobsOf(targetFromEnv(run.env));
    expect((await jobs.get(jobId!))?.phase, out).toBe('completed');

    const simulator = run.stack.simulator!;
    await simulator.webhooksSettled();
    if (mode === 'late') {
      // The failed rows' webhooks are applied once they are settled (a few seconds here).
      await waitFor(async () => (await jobs.get(jobId!))?.counts.failed === 0, {
        timeoutMs: HEAL_DEADLINE_MS,
      }).catch(() => undefined);
    }
    const job = (await jobs.get(jobId!)) as Job;
    let text = '';
    const exit = await createStatusCommand({
      env: run.env,
      output: { stdout: (chunk) => (text += chunk), stderr: () => undefined },
    }).run([jobId!]);
    const mappings = new DynamoMappingStore({
      client: documentClient(dynamo),
      tableName: run.stack.tableName,
    });
    const clientIds = RECORDS.filter((r) => r.kind === 'client').map((r) =>
      String(r.partnerUserId),
    );
    const mapped = await mappings.getMany(clientIds);
    const byUpheal = new Set(
      [...mapped.values()].map((m) => m.state === 'active' && m.uphealUserId),
    );
    const clientsInUpheal = simulator.users().filter((user) => user.userType === 'Client');
    return {
      counts: job.counts,
      createsAnswered500: simulator.stats().byRoute.createClient?.['500'] ?? 0,
      mappedClients: [...mapped.values()].filter((m) => m.state === 'active').length,
      orphans: clientsInUpheal.filter((user) => !byUpheal.has(user.userId)).length,
      webhookEvents: simulator.webhookStats().events,
      webhooksDelivered: simulator.webhookStats().delivered,
      healed: job.healed ?? 0,
      status: { exit, text },
    };
  } finally {
    dynamo.destroy();
    await run.stop();
  }
}

describe("Upheal's webhooks heal email-less creates whose answer was lost", () => {
  it('maps every client and fails none with webhooks on; fails and orphans them with webhooks off', async () => {
    const on = await importWith('on');
    const off = await importWith('off');
    // The figures of both runs, for the record of this change.
    console.info(`webhooks on:  ${JSON.stringify(on)}`);
    console.info(`webhooks off: ${JSON.stringify(off)}`);

    expect(on.createsAnswered500).toBeGreaterThan(0);
    expect(on.counts.failed).toBe(0);
    expect(on.mappedClients).toBe(CLIENTS);
    expect(on.orphans).toBe(0);
    expect(on.webhookEvents).toBe(PROVIDERS + CLIENTS);
    expect(on.webhooksDelivered).toBeGreaterThan(0);

    // Each lost answer: a failed row, and its user left in Upheal unmapped.
    expect(off.orphans).toBeGreaterThan(0);
    expect(off.counts.failed).toBe(off.orphans);
    expect(off.mappedClients).toBe(CLIENTS - off.orphans);
    expect(off.healed).toBe(0);
    expect(off.status.exit).toBe(EXIT.someFailed);
  }, 600_000);

  it('heals rows that failed before their webhook came: counted as created, not failed', async () => {
    const late = await importWith('late');
    console.info(`webhooks late: ${JSON.stringify({ ...late, status: late.status.exit })}`);

    expect(late.createsAnswered500).toBeGreaterThan(0);
    expect(late.healed).toBeGreaterThan(0);
    expect(late.counts.failed).toBe(0);
    expect(late.mappedClients).toBe(CLIENTS);
    expect(late.orphans).toBe(0);
    // Every row settled once: the healed ones moved from failed to created.
    expect(Object.values(late.counts).reduce((sum, n) => sum + n, 0)).toBe(PROVIDERS + CLIENTS);
    expect(late.status.exit).toBe(EXIT.ok);
    expect(late.status.text).toContain(`(${late.healed} healed after failing)`);
    expect(late.status.text).toContain('failed 0');
  }, 600_000);
});
