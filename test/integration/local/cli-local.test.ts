/**
 * `upheal-sync local` as an operator runs it: a separate process that prints one JSON line when
 * ready, runs the functions, and on SIGTERM stops with status 0 leaving no child process.
 * Argument errors exit 2 before anything starts.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleHandlers, sendFixtureMessage, waitFor } from '#test/helpers/local-stack.ts';
import { EXIT } from '#tools/cli/command.ts';
import { main } from '#tools/cli/main.ts';
import { PROJECT_ROOT } from '#tools/local/stack.ts';

const CLI = join(PROJECT_ROOT, 'bin', 'upheal-sync.ts');

let bundles: Awaited<ReturnType<typeof bundleHandlers>>;
let cli: ChildProcess | undefined;
beforeAll(async () => {
  bundles = await bundleHandlers({ 'sync-user': 'test/fixtures/handlers/scripted.ts' });
});
afterAll(async () => {
  if (cli && cli.exitCode === null) cli.kill('SIGKILL');
  await bundles?.remove();
});

/** Direct children of a process (ps is part of every Linux/macOS base system). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((line) => Number(line.trim()))
      .filter((child) => child > 0);
  } catch {
    return []; // ps exits 1 when there is none
  }
}

const isRunning = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('upheal-sync local', () => {
  it('prints one JSON line when ready and shuts down cleanly on SIGTERM, leaving no child', async () => {
    const endpointsFile = join(bundles.dir, 'local.json');
    cli = spawn(process.execPath, [CLI, 'local', '--json', '--functions-dir', bundles.dir], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, UPHEAL_SYNC_LOCAL_FILE: endpointsFile },
    });
    const stderr: string[] = [];
    createInterface({ input: cli.stderr! }).on('line', (line) => stderr.push(line));
    const [first] = (await once(createInterface({ input: cli.stdout! }), 'line')) as [string];
    const ready = JSON.parse(first) as {
      status: string;
      endpoints: { sqs: string };
      queueUrls: { userEvents: string };
      functions: string[];
      env: Record<string, string>;
    };
    expect(ready.status).toBe('ready');
    expect(ready.functions).toEqual(['sync-user']);
    expect(Object.keys(ready.env).filter((name) => /SECRET|API_KEY/.test(name))).toEqual([]);

    await sendFixtureMessage(ready.endpoints.sqs, ready.queueUrls.userEvents, 'cli-1', 'cli');
    // Worker output reaches the CLI's stderr, prefixed with function and worker.
    await waitFor(() => stderr.some((line) => line.startsWith('[sync-user#1] fixture-invocation')));
    const workers = childrenOf(cli.pid!);
    expect(workers.length).toBeGreaterThan(0);

    // Another shell reaches the running stack with --stage local, through its endpoints file.
    const written = JSON.parse(readFileSync(endpointsFile, 'utf8')) as {
      pid: number;
      env: Record<string, string>;
    };
    expect(written.pid).toBe(cli.pid);
    expect(Object.keys(written.env).filter((name) => /SECRET|AWS_ACCESS/.test(name))).toEqual([]);
    let exported = '';
    const staged = await main(
      ['--stage', 'local', 'mappings', 'export'],
      undefined,
      {
        stdout: (text) => {
          exported += text;
        },
        stderr: () => {},
      },
      { env: { UPHEAL_SYNC_LOCAL_FILE: endpointsFile, PATH: process.env.PATH } },
    );
    expect(staged).toBe(EXIT.ok);
    expect(exported).toMatch(/^partnerUserId,kind,uphealUserId/);

    cli.kill('SIGTERM');
    const [code] = (await once(cli, 'exit')) as [number | null];
    expect(code).toBe(EXIT.ok);
    expect(existsSync(endpointsFile)).toBe(false);
    expect(workers.filter(isRunning)).toEqual([]);
  });

  it('exits 2 on a bad argument, naming it, before starting anything', async () => {
    const errors: string[] = [];
    const output = { stdout: () => {}, stderr: (text: string) => errors.push(text) };
    expect(await main(['local', '--upheal-url', 'not a url'], undefined, output)).toBe(EXIT.usage);
    expect(errors.join('')).toContain('--upheal-url');
    expect(await main(['local', '--bogus'], undefined, output)).toBe(EXIT.usage);
    expect(await main(['no-such-command'], undefined, output)).toBe(EXIT.usage);
  });

  it('answers --help for the CLI and for the command with status 0', async () => {
    const printed: string[] = [];
    const output = { stdout: (text: string) => printed.push(text), stderr: () => {} };
    expect(await main(['--help'], undefined, output)).toBe(EXIT.ok);
    expect(await main(['local', '--help'], undefined, output)).toBe(EXIT.ok);
    expect(printed[0]).toContain('local');
    expect(printed[1]).toMatch(/^Usage: upheal-sync local/);
  });
});
