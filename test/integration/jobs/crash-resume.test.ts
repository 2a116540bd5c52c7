/**
 * Crashes during an import (issue 6): every worker process — initial-sync's and the sync
 * functions' — is killed several times while the job runs. Lambda's semantics bring the batches
 * back after their visibility timeout, initial-sync resumes from its cursor, sync-user re-applies
 * idempotently, and the import finishes with every user in Upheal exactly once.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '#test/helpers/local-stack.ts';
import { exportOf, toNdjson } from '#test/unit/jobs/import-data.ts';
import { EXIT } from '#tools/cli/command.ts';
import { createImportCommand } from '#tools/cli/commands/import.ts';
import { jobsOf } from '#tools/cli/commands/status.ts';
import { targetFromEnv } from '#tools/cli/target.ts';
import { bundleImportHandlers, startImportStack } from './import-stack.ts';

/** 20 providers and 60 clients (15 with two providers). */
const RECORDS = exportOf(20, 60);
/** Short visibility and timeouts so killed batches come back within seconds. */
const VISIBILITY_SECONDS = 4;
const TIMEOUT_SECONDS = 3;
/** Kills, and the pause between them. */
const KILLS = 3;
const KILL_EVERY_MS = 1_200;

let bundles: { dir: string; remove(): Promise<void> };
let files: string;
beforeAll(async () => {
  bundles = await bundleImportHandlers();
  files = await mkdtemp(join(tmpdir(), 'upheal-sync-crash-'));
});
afterAll(async () => {
  await bundles?.remove();
  if (files) await rm(files, { recursive: true, force: true });
});

/** Whether a process is a worker of initial-sync (its bundle path is in its arguments). */
function isInitialSync(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('initial-sync');
  } catch {
    return false;
  }
}

describe('an import survives killed workers', () => {
  it('finishes with every user exactly once and nothing missing', async () => {
    const file = join(files, 'export.ndjson');
    await writeFile(file, toNdjson(RECORDS));
    const run = await startImportStack(bundles.dir, {
      queues: { visibilityTimeoutSeconds: VISIBILITY_SECONDS },
      timeoutSeconds: {
        'sync-user': TIMEOUT_SECONDS,
        'assign-providers': TIMEOUT_SECONDS,
        'initial-sync': TIMEOUT_SECONDS,
      },
      env: { UPHEAL_RATE_HORIZON_MS: '1000' },
    });
    const target = targetFromEnv(run.env);
    const jobs = jobsOf(target);
    try {
      let out = '';
      const started = await createImportCommand({
        env: run.env,
        output: { stdout: (text) => (out += text), stderr: (text) => (out += text) },
      }).run([file, '--exported-at', '2026-11-20T08:00:00Z']);
      expect(started, out).toBe(EXIT.ok);
      const jobId = /^job (\S+):/m.exec(out)?.[1];
      expect(jobId).toBeDefined();

      // Kill every worker as soon as the fan-out has begun, then twice more mid-import.
      await waitFor(async () => ((await jobs.get(jobId!))?.cursor ?? 0) > 0, {
        timeoutMs: 15_000,
        intervalMs: 20,
      });
      let killedInitialSync = 0;
      let killed = 0;
      for (let round = 0; round < KILLS; round += 1) {
        // Workers start on demand: wait for the next ones (warm or busy) before killing them.
        const pids = await waitFor(
          () => run.stack.workerPids().length > 0 && run.stack.workerPids(),
          { timeoutMs: 10_000, intervalMs: 20 },
        );
        for (const pid of pids) {
          if (isInitialSync(pid)) killedInitialSync += 1;
          try {
            process.kill(pid, 'SIGKILL');
            killed += 1;
          } catch {
            // Already gone.
          }
        }
        await new Promise((resolve) => setTimeout(resolve, KILL_EVERY_MS));
      }
      expect(killed).toBeGreaterThanOrEqual(KILLS);
      // The instance that planned and fanned out the job was among them (it stays warm).
      expect(killedInitialSync).toBeGreaterThanOrEqual(1);

      const job = await waitFor(
        async () => {
          const current = await jobs.get(jobId!);
          return current?.phase === 'completed' && (await run.queuesIdle()) && current;
        },
        { timeoutMs: 45_000, intervalMs: 250 },
      );
      expect(job.settled).toBeGreaterThanOrEqual(RECORDS.length);
      expect(job.counts.failed).toBe(0);

      // Upheal: every exported user once, clients with their providers in order.
      const users = run.stack.simulator!.users();
      const emails = users.map((user) => user.email);
      expect(new Set(emails).size).toBe(emails.length);
      expect(new Set(emails)).toEqual(new Set(RECORDS.map((record) => record.email)));
      const emailOf = new Map(users.map((user) => [user.userId, user.email]));
      for (const record of RECORDS.filter((r) => r.kind === 'client')) {
        const user = users.find((candidate) => candidate.email === record.email);
        const expected = (record.providerPartnerUserIds as string[]).map(
          (id) => `provider.${id.slice(2)}@example.com`,
        );
        expect(
          user?.providerUserIds?.map((id) => emailOf.get(id)),
          String(record.email),
        ).toEqual(expected);
      }
      // Nothing was dead-lettered.
      for (const url of Object.values(run.stack.dlqUrls)) {
        const { Attributes } = await run.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: url,
            AttributeNames: ['ApproximateNumberOfMessages'],
          }),
        );
        expect(Number(Attributes?.ApproximateNumberOfMessages)).toBe(0);
      }
    } finally {
      target.close();
      await run.stop();
    }
  }, 60_000);
});
