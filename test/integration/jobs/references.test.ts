/**
 * References are checked up front, on the local stack through the operator's commands: a client
 * naming a provider id that is neither in the file nor mapped (a typo) is an invalid row of the
 * dry run's plan, and of the real import's planning — it never waits for a provider that will not
 * come — while the rest of the file is imported.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, provider, toCsv } from '#test/unit/jobs/import-data.ts';
import { EXIT } from '#tools/cli/command.ts';
import { createFailuresCommand } from '#tools/cli/commands/failures.ts';
import { createImportCommand } from '#tools/cli/commands/import.ts';
import { bundleImportHandlers, type ImportStack, startImportStack } from './import-stack.ts';

let bundles: { dir: string; remove(): Promise<void> };
let files: string;
let run: ImportStack;

beforeAll(async () => {
  bundles = await bundleImportHandlers();
  files = await mkdtemp(join(tmpdir(), 'references-'));
  run = await startImportStack(bundles.dir);
}, 120_000);
afterAll(async () => {
  await run?.stop();
  await bundles?.remove();
  if (files) await rm(files, { recursive: true, force: true });
});

/** Runs a CLI command against the stack; resolves with its status and what it printed. */
async function cli(
  make: typeof createImportCommand | typeof createFailuresCommand,
  args: string[],
): Promise<{ status: number; out: string }> {
  let out = '';
  const command = make({
    env: run.env,
    output: { stdout: (text) => (out += text), stderr: (text) => (out += text) },
    isTty: false,
    sleep: (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 200))),
  });
  return { status: await command.run(args), out };
}

describe('a client naming an unknown provider', () => {
  it('is an invalid row of the dry run and of the import, which goes on without waiting', async () => {
    const typo = { ...client(2, [1]), providerPartnerUserIds: ['p-1', 'p-0001'] };
    const file = join(files, 'typo.csv');
    await writeFile(
      file,
      `# exportedAt: 2026-11-30T22:00:00Z\n${toCsv([provider(1), client(1, [1]), typo])}`,
    );

    const dry = await cli(createImportCommand, [file, '--dry-run']);
    expect(dry.status, dry.out).toBe(EXIT.someFailed);
    expect(dry.out).toContain('rows              1 providers, 1 clients, 1 invalid');
    expect(dry.out).toContain('export time       2026-11-30T22:00:00Z');

    const real = await cli(createImportCommand, [file, '--wait']);
    expect(real.status, real.out).toBe(EXIT.someFailed);
    expect(real.out).toMatch(/completed/);
    expect(real.out).toContain('1 providers, 1 clients valid; 1 invalid');
    const jobId = /^job (\S+):/m.exec(real.out)?.[1];
    const failures = await cli(createFailuresCommand, [jobId!]);
    expect(failures.out).toContain(
      'providerPartnerUserIds: p-0001 is neither a provider in this file nor a mapped provider',
    );
    expect(
      run.stack
        .simulator!.users()
        .map((user) => user.email)
        .sort(),
    ).toEqual([String(client(1, [1]).email), String(provider(1).email)]);
  });
});
