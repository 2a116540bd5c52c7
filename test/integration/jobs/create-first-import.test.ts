/**
 * Imports in create-first mode end to end on the local stack (the bundles of initial-sync,
 * sync-user and assign-providers in worker processes, the simulator over HTTP): without faults a
 * new user costs its create alone and a user Upheal has three calls (the refused create, the
 * check, the link); under the simulator's created-but-answered-500 faults every partner user ends
 * with exactly one Upheal account and Upheal holds no account of ours that nobody maps.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callsByMode, type ImportPlan } from '#lib/import/plan.ts';
import type { Job } from '#lib/jobs/job.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { waitFor } from '#test/helpers/local-stack.ts';
import { client, exportOf, type FlatRecord, toNdjson } from '#test/unit/jobs/import-data.ts';
import { createImportCommand } from '#tools/cli/commands/import.ts';
import { jobsOf } from '#tools/cli/commands/status.ts';
import { targetFromEnv } from '#tools/cli/target.ts';
import { bundleImportHandlers, type ImportStack, startImportStack } from './import-stack.ts';

const EXPORTED = ['--exported-at', '2026-11-20T08:00:00Z'] as const;
/** How long the Upheal call count must stay still to count as settled. */
const QUIET_MS = 1_500;

let bundles: { dir: string; remove(): Promise<void> };
let files: string;
beforeAll(async () => {
  bundles = await bundleImportHandlers();
  files = await mkdtemp(join(tmpdir(), 'upheal-sync-create-first-'));
});
afterAll(async () => {
  await bundles?.remove();
  if (files) await rm(files, { recursive: true, force: true });
});

/** Runs `import` with `args`; resolves with its exit status and output. */
async function importCli(env: Record<string, string>, args: string[]) {
  let out = '';
  const command = createImportCommand({
    env,
    output: { stdout: (text) => (out += text), stderr: (text) => (out += text) },
    isTty: false,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 200))),
  });
  return { status: await command.run(args), out };
}

/** Waits until the queues are empty and Upheal saw no new call for QUIET_MS. */
async function settledCalls(run: ImportStack): Promise<number> {
  let last = -1;
  let since = Date.now();
  return waitFor(
    async () => {
      const calls = run.stack.simulator!.stats().totalCalls;
      if (calls !== last) {
        last = calls;
        since = Date.now();
        return false;
      }
      return Date.now() - since >= QUIET_MS && (await run.queuesIdle()) && calls;
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  ).catch(() => last);
}

/** Seeds the users of `records` into Upheal as if created there before (no partner id). */
function seed(run: ImportStack, records: readonly FlatRecord[]): void {
  for (const record of records) {
    run.stack.simulator!.seedUsers({
      userType: record.kind === 'provider' ? 'HealthcareProvider' : 'Client',
      email: String(record.email),
      firstName: String(record.firstName),
      lastName: String(record.lastName),
    } as never);
  }
}

/** Writes `records` as an NDJSON export and imports it in `mode`, waiting for the end. */
async function importIn(run: ImportStack, mode: string, records: readonly FlatRecord[]) {
  const file = join(files, `export-${mode}-${Date.now()}.ndjson`);
  await writeFile(file, toNdjson(records));
  const planned = await importCli(run.env, [file, '--dry-run', '--json', ...EXPORTED]);
  const { plan } = JSON.parse(planned.out) as { plan: ImportPlan };
  const done = await importCli(run.env, [file, '--wait', '--mode', mode, ...EXPORTED]);
  const jobId = /^job (\S+):/m.exec(done.out)?.[1];
  const target = targetFromEnv(run.env);
  try {
    const job = (await jobsOf(target).get(String(jobId))) as Job;
    return { plan, job, out: done.out };
  } finally {
    target.close();
  }
}

describe('create-first imports on the local stack', () => {
  it('makes one call per new user and three per user Upheal has, as the plan says', async () => {
    const records = exportOf(5, 20);
    const run = await startImportStack(bundles.dir);
    try {
      // One provider and two clients are in Upheal already (clients of two providers: their list
      // goes out in one call whether they are created or linked).
      const existing = [records[1]!, records[8]!, records[12]!];
      seed(run, existing);
      const { plan, job } = await importIn(run, 'create-first', records);
      expect(job).toMatchObject({
        phase: 'completed',
        mode: 'create-first',
        counts: { created: 22, linked: 3, failed: 0 },
      });
      const calls = await settledCalls(run);
      const share = existing.length / plan.toCheck;
      expect(calls).toBe(callsByMode(plan, share)['create-first']);
      expect(calls).toBeLessThan(callsByMode(plan, share)['check-first']);
      const routes = run.stack.simulator!.stats().byRoute;
      // A check only after a duplicate answer.
      expect(Object.values(routes.check ?? {}).reduce((a, b) => a + b, 0)).toBe(3);
    } finally {
      await run.stop();
    }
  });

  it('leaves one Upheal account per partner user under created-but-answered-500 faults', async () => {
    const records = [
      ...exportOf(4, 16),
      // A family: two partner clients with one email; planning refuses the second row.
      { ...client(90, [1]), email: 'family.90@example.com' },
      { ...client(91, [2]), email: 'family.90@example.com' },
    ];
    const run = await startImportStack(bundles.dir, {
      simulator: {
        rateLimit: { limit: 300, windowMs: 10_000 },
        faults: { createdButFailed: 0.2, seed: 7 },
      },
    });
    const target = targetFromEnv(run.env);
    try {
      seed(run, [records[2]!, records[9]!]);
      const { job } = await importIn(run, 'create-first', records);
      await settledCalls(run);
      expect(job.phase).toBe('completed');
      const partnerIds = records.map((record) => String(record.partnerUserId));
      // Every user is in Upheal but the family's second member (updated: a retry after the
      // first delivery had saved the mapping).
      const { created, linked, updated, failed } = job.counts;
      expect(job.invalid).toBe(1);
      expect(failed).toBe(0);
      expect(created + linked + updated).toBe(partnerIds.length - 1);

      const users = run.stack.simulator!.users();
      const mappings = await new DynamoMappingStore({
        client: target.documents,
        tableName: target.tableName,
      }).getMany(partnerIds);
      const mapped = [...mappings.values()].filter((m) => m.state === 'active');
      expect(mapped).toHaveLength(partnerIds.length - 1);
      // One account per partner user, and the reverse: distinct Upheal ids, each carrying its
      // mapping's partner id.
      expect(new Set(mapped.map((m) => m.uphealUserId)).size).toBe(mapped.length);
      for (const mapping of mapped) {
        const user = users.find((u) => u.userId === mapping.uphealUserId);
        expect(user?.partnerUserId, mapping.partnerUserId).toBe(mapping.partnerUserId);
      }
      // No orphan: every Upheal account with one of our partner ids is the mapped one.
      const ours = users.filter((u) => u.partnerUserId !== undefined);
      expect(ours).toHaveLength(mapped.length);
      expect(users.filter((u) => u.email === 'family.90@example.com')).toHaveLength(1);
      // The faults did happen: some creates answered 500 after taking effect.
      const routes = run.stack.simulator!.stats().byRoute;
      const created500 =
        (routes.createProvider?.['500'] ?? 0) + (routes.createClient?.['500'] ?? 0);
      expect(created500).toBeGreaterThan(0);
    } finally {
      target.close();
      await run.stop();
    }
  }, 240_000);
});
