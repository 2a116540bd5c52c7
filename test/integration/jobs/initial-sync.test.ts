/**
 * The initial sync end to end on the local stack (issue 6): the operator's `import` command
 * uploads the export and starts the job; initial-sync (bundle, worker process) plans and fans
 * out; sync-user and assign-providers (bundles, worker processes) apply the rows through the
 * shared limiter against the Upheal simulator, at a scaled rate of 300 calls per 10 s.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportPlan } from '#lib/import/plan.ts';
import type { Job } from '#lib/jobs/job.ts';
import { waitFor } from '#test/helpers/local-stack.ts';
import {
  exportOf,
  INVALID_RECORDS,
  provider,
  toCsv,
  toNdjson,
} from '#test/unit/jobs/import-data.ts';
import { EXIT } from '#tools/cli/command.ts';
import { createFailuresCommand } from '#tools/cli/commands/failures.ts';
import { createImportCommand } from '#tools/cli/commands/import.ts';
import { createStatusCommand, jobsOf } from '#tools/cli/commands/status.ts';
import { targetFromEnv } from '#tools/cli/target.ts';
import { bundleImportHandlers, type ImportStack, startImportStack } from './import-stack.ts';

/** 5 providers, 20 clients (5 of them with two providers), 3 invalid rows. */
const RECORDS = [...exportOf(5, 20), ...INVALID_RECORDS];
/** Provider 2 already exists in Upheal (same email, no partner id): it is linked, not created. */
const EXISTING = { userType: 'HealthcareProvider', ...pick(provider(2)) } as const;
/** The export time flag: the test's exports were taken before any of its live changes. */
const EXPORTED = ['--exported-at', '2026-11-20T08:00:00Z'] as const;
/** How long the Upheal call count must stay still to count as settled (assignments lag jobs). */
const QUIET_MS = 1_500;

let bundles: { dir: string; remove(): Promise<void> };
let files: string;
beforeAll(async () => {
  bundles = await bundleImportHandlers();
  files = await mkdtemp(join(tmpdir(), 'upheal-sync-import-'));
});
afterAll(async () => {
  await bundles?.remove();
  if (files) await rm(files, { recursive: true, force: true });
});

function pick(record: Record<string, unknown>) {
  return {
    email: String(record.email),
    firstName: String(record.firstName),
    lastName: String(record.lastName),
  };
}

/** Runs a CLI command against the stack; resolves with its status and what it printed. */
async function cli(
  make: typeof createImportCommand,
  env: Record<string, string>,
  args: string[],
): Promise<{ status: number; out: string }> {
  let out = '';
  const command = make({
    env,
    output: { stdout: (text) => (out += text), stderr: (text) => (out += text) },
    isTty: false,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 200))),
  });
  return { status: await command.run(args), out };
}

/** The job id a CLI run printed first. */
function jobIdOf(out: string): string {
  const match = /^job (\S+):/m.exec(out);
  if (!match?.[1]) throw new Error(`no job id in: ${out}`);
  return match[1];
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
    { timeoutMs: 30_000, intervalMs: 100 },
  ).catch(() => last);
}

/** Upheal's users, comparable across runs: by email, providers as emails (primary first). */
function upheal(run: ImportStack) {
  const users = run.stack.simulator!.users();
  const emailOf = new Map(users.map((user) => [user.userId, user.email]));
  return users
    .map((user) => ({
      userType: user.userType,
      email: user.email,
      firstName: user.firstName,
      lastName: user.lastName,
      providers: (user.providerUserIds ?? []).map((id) => emailOf.get(id)),
    }))
    .sort((a, b) => String(a.email).localeCompare(String(b.email)));
}

/** What one format's scenario observed. */
interface Observed {
  readonly state: ReturnType<typeof upheal>;
}
const observed: Partial<Record<'ndjson' | 'csv', Observed>> = {};

/** Dry run, import, checks, re-run: the scenario of one file format. */
async function scenario(format: 'ndjson' | 'csv', seedExisting: boolean): Promise<Observed> {
  const file = join(files, `export.${format}`);
  await writeFile(file, format === 'csv' ? toCsv(RECORDS) : toNdjson(RECORDS));
  const run = await startImportStack(bundles.dir);
  const target = targetFromEnv(run.env);
  const jobs = jobsOf(target);
  try {
    if (seedExisting) run.stack.simulator!.seedUsers(EXISTING);

    // Dry run: the plan (exit 1: three rows are invalid), no job, not one call to Upheal.
    const dry = await cli(createImportCommand, run.env, [file, '--dry-run', ...EXPORTED]);
    expect(dry.status, dry.out).toBe(EXIT.someFailed);
    expect(dry.out).toContain('total calls       55 at most');
    const planned = await cli(createImportCommand, run.env, [
      file,
      '--dry-run',
      '--json',
      ...EXPORTED,
    ]);
    const { plan } = JSON.parse(planned.out) as { plan: ImportPlan };
    expect(await jobs.latest()).toBeUndefined();
    expect(plan).toEqual({
      providers: 5,
      clients: 20,
      invalid: 3,
      alreadyMapped: 0,
      toCheck: 25,
      creates: 25,
      assignmentCalls: 5,
      totalCalls: 55,
    });
    expect(run.stack.simulator!.stats().totalCalls).toBe(0);

    // The import: exit 1 because of the invalid rows, every valid row settled.
    const first = await cli(createImportCommand, run.env, [file, '--wait', ...EXPORTED]);
    expect(first.status, first.out).toBe(EXIT.someFailed);
    expect(first.out).toMatch(/^completed .*providers 5\/5 \| clients 20\/20/m);
    const job = (await jobs.get(jobIdOf(first.out))) as Job;
    expect(job).toMatchObject({
      phase: 'completed',
      providers: 5,
      clients: 20,
      invalid: 3,
      settled: 25,
      counts: seedExisting
        ? { created: 24, linked: 1, failed: 0 }
        : { created: 25, linked: 0, failed: 0 },
    });
    const calls = await settledCalls(run);
    // The plan is reached: a user the check finds costs as much as a new one (the check, then
    // the update that gives it the row's fields and our partner id instead of the create).
    expect(calls).toBe(plan.totalCalls);

    // Providers first: no client row was applied before the last provider row settled.
    const applied = run
      .entries()
      .filter((entry) => entry.message === 'applied' && entry.jobId === job.jobId);
    const times = (type: string) =>
      applied
        .filter((entry) => entry.eventType === type)
        .map((e) => Date.parse(String(e.timestamp)));
    expect(times('provider.created')).toHaveLength(5);
    expect(times('client.created')).toHaveLength(20);
    expect(Math.max(...times('provider.created'))).toBeLessThanOrEqual(
      Math.min(...times('client.created')),
    );

    // Status and failures of the job: the three invalid rows, by line, with reasons.
    const status = await cli(createStatusCommand, run.env, [job.jobId]);
    expect(status.status).toBe(EXIT.someFailed);
    expect(status.out).toContain(seedExisting ? 'created 24, linked 1' : 'created 25, linked 0');
    const failures = await cli(createFailuresCommand, run.env, []);
    expect(failures.status).toBe(EXIT.someFailed);
    const offset = format === 'csv' ? 1 : 0;
    expect(failures.out).toContain(`job ${job.jobId}: 3 failed records`);
    expect(failures.out).toContain(`line ${26 + offset}`);
    expect(failures.out).toContain('email: is required');
    expect(failures.out).toContain(`repeats the partner id of line ${1 + offset}`);

    // A re-run of the finished import: every row settles as already synced, zero calls. (A
    // linked user still costs one `PUT /users` on its first re-sync: the sync core does not know
    // Upheal's fields after a link. Reported to the sync core's owner; checked without one here.)
    const routesBefore = run.stack.simulator!.stats().byRoute;
    const again = await cli(createImportCommand, run.env, [file, '--wait', ...EXPORTED]);
    expect(again.status, again.out).toBe(EXIT.someFailed);
    const rerun = await jobs.get(jobIdOf(again.out));
    expect(rerun).toMatchObject({
      phase: 'completed',
      settled: 25,
      counts: { created: 0, linked: 0, failed: 0 },
    });
    const after = await settledCalls(run);
    if (seedExisting) {
      const routesAfter = run.stack.simulator!.stats().byRoute;
      for (const route of ['check', 'createProvider', 'createClient', 'replaceProviders']) {
        expect(routesAfter[route], route).toEqual(routesBefore[route]);
      }
    } else {
      expect(after).toBe(calls);
    }

    return { state: upheal(run) };
  } finally {
    target.close();
    await run.stop();
  }
}

describe('initial sync on the local stack', () => {
  it('imports an NDJSON export with an existing user: the plan bounds the calls, providers first', async () => {
    observed.ndjson = await scenario('ndjson', true);
    expect(observed.ndjson.state).toHaveLength(25);
  }, 90_000);

  it('imports the same export as CSV: calls = plan exactly, a re-run makes zero calls', async () => {
    observed.csv = await scenario('csv', false);
  }, 90_000);

  it('gives the same Upheal state for NDJSON and CSV', () => {
    expect(observed.ndjson).toBeDefined();
    expect(observed.csv?.state).toEqual(observed.ndjson?.state);
    const client4 = observed.ndjson?.state.find((user) => user.email === 'client.4@example.com');
    expect(client4?.providers).toEqual(['provider.4@example.com', 'provider.5@example.com']);
  });
});
