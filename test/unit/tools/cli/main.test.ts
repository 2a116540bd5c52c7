/**
 * The CLI's conventions, without a stack: every command answers a bad flag with exit status 2 and
 * one line naming the flag and pointing to its help; `--version`, `help <command>`; a missing
 * file or variable is named; `--stage` fills the environment from the stack's outputs while set
 * variables win.
 */
import { describe, expect, it } from 'vitest';
import { EXIT } from '#tools/cli/command.ts';
import { COMMANDS } from '#tools/cli/commands/index.ts';
import { main, splitGlobalFlags, version } from '#tools/cli/main.ts';
import { resolveTarget } from '#tools/cli/stage.ts';

/** Runs the CLI with captured output and an environment naming no stack. */
async function run(args: string[], env: NodeJS.ProcessEnv = {}) {
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
  return { status, stdout, stderr };
}

/** The stderr lines after the stage line of targeted commands. */
const errorLines = (stderr: string) =>
  stderr.split('\n').filter((line) => line !== '' && !line.startsWith('upheal-sync: stage '));

describe('upheal-sync conventions', () => {
  it.each(COMMANDS.map((command) => command.name))(
    '%s: an unknown flag exits 2 with one line naming it and the help',
    async (name) => {
      const { status, stdout, stderr } = await run([name, '--no-such-flag']);
      expect(status).toBe(EXIT.usage);
      expect(stdout).toBe('');
      const lines = errorLines(stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('--no-such-flag');
      expect(lines[0]).toContain(`upheal-sync ${name} --help`);
    },
  );

  it.each(COMMANDS.map((command) => command.name))(
    '%s: help <command> and --help print its usage with status 0',
    async (name) => {
      const help = await run(['help', name]);
      expect(help.status).toBe(EXIT.ok);
      expect(help.stdout).toMatch(new RegExp(`^Usage: upheal-sync ${name}`));
      expect((await run([name, '--help'])).stdout).toBe(help.stdout);
    },
  );

  it('prints the version, and 2 for an unknown command or help topic', async () => {
    expect(await run(['--version'])).toEqual({
      status: EXIT.ok,
      stdout: `upheal-sync ${version()}\n`,
      stderr: '',
    });
    expect(version()).toMatch(/^\d+\.\d+\.\d+/);
    expect((await run(['nope'])).status).toBe(EXIT.usage);
    expect((await run(['help', 'nope'])).status).toBe(EXIT.usage);
    expect((await run([])).status).toBe(EXIT.usage);
  });

  it('names a missing file and a missing variable in one line, without a stack', async () => {
    const file = await run(['send-events', 'no-such.ndjson']);
    expect(file.status).toBe(EXIT.usage);
    expect(errorLines(file.stderr)).toEqual([
      'upheal-sync send-events: no-such.ndjson: no such file (see upheal-sync send-events --help)',
    ]);
    const variable = await run(['mappings', 'export']);
    expect(variable.status).toBe(EXIT.usage);
    expect(errorLines(variable.stderr)).toHaveLength(1);
    expect(variable.stderr).toContain('TABLE_NAME: is required');
  });

  it('refuses --dry-run with --job-id and a redrive queue by its code name', async () => {
    const resume = await run(['import', 'samples/import.ndjson', '--dry-run', '--job-id', 'j1']);
    expect(resume.status).toBe(EXIT.usage);
    expect(resume.stderr).toContain('--job-id: cannot be combined with --dry-run');
    const queue = await run(['redrive', '--queue', 'imports']);
    expect(queue.status).toBe(EXIT.usage);
    expect(queue.stderr).toContain('--queue: must be one of user-events, import-users');
  });

  it('shows the stack only with --debug or UPHEAL_SYNC_DEBUG', async () => {
    const quiet = await run(['redrive', '--bogus']);
    expect(quiet.stderr).not.toContain('    at ');
    const debug = await run(['redrive', '--bogus', '--debug']);
    expect(debug.status).toBe(EXIT.usage);
    expect(debug.stderr).toContain('    at ');
    const byEnv = await run(['redrive', '--bogus'], { UPHEAL_SYNC_DEBUG: '1' });
    expect(byEnv.stderr).toContain('    at ');
  });

  it('takes the global flags anywhere before --', () => {
    expect(splitGlobalFlags(['status', '--stage', 'prod', '--json', '--region=eu-west-1'])).toEqual(
      {
        rest: ['status', '--json'],
        debug: false,
        version: false,
        stage: 'prod',
        region: 'eu-west-1',
      },
    );
    expect(() => splitGlobalFlags(['--stage'])).toThrow('--stage: needs a value');
  });
});

describe('--stage', () => {
  const outputs = {
    TABLE_NAME: 'upheal-sync-prod-state',
    USER_EVENTS_QUEUE_URL:
      'https://sqs.eu-west-1.amazonaws.com/1/upheal-sync-prod-user-events.fifo',
  };

  it('reads the stack upheal-sync-NAME in the region; set variables win', async () => {
    const asked: [string, string | undefined][] = [];
    const resolved = await resolveTarget(
      { stage: 'prod', region: 'eu-west-1' },
      { TABLE_NAME: 'override' },
      async (stackName, region) => {
        asked.push([stackName, region]);
        return outputs;
      },
    );
    expect(asked).toEqual([['upheal-sync-prod', 'eu-west-1']]);
    expect(resolved.stage).toBe('prod');
    expect(resolved.env).toMatchObject({
      TABLE_NAME: 'override',
      USER_EVENTS_QUEUE_URL: outputs.USER_EVENTS_QUEUE_URL,
      AWS_REGION: 'eu-west-1',
    });
  });

  it('names the stage of the table without --stage, and refuses a malformed name', async () => {
    const fromEnv = await resolveTarget({}, { TABLE_NAME: 'upheal-sync-dev-state' });
    expect(fromEnv.stage).toBe('dev');
    await expect(resolveTarget({ stage: 'Prod!' }, {})).rejects.toThrow('--stage');
  });

  it('prints the stage and the Upheal URL first, before the command runs', async () => {
    const { stderr } = await run(['--stage', 'prod', 'status']);
    // The stack is read by CloudFormation by default; without credentials that fails as usage.
    expect(stderr.split('\n')[0]).toMatch(/^upheal-sync status: |^upheal-sync: stage prod/);
  });
});
