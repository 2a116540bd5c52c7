/**
 * The documentation stays in step with the CLI and stands alone: every command is in the README's
 * command table and in docs/cli.md, every alarm has a runbook entry, and no page points outside
 * the repository.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { alarmShortNames } from '#infra/monitoring.ts';
import { OUTBOUND_TYPES } from '#lib/outbound/outbound-events.ts';
import { COMMANDS } from '#tools/cli/commands/index.ts';
import { PROJECT_ROOT } from '#tools/local/stack.ts';

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), 'utf8');
const pages = [
  'README.md',
  ...readdirSync(join(PROJECT_ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

describe('docs', () => {
  it('list every command in the README table and in docs/cli.md', () => {
    const readme = read('README.md');
    const reference = read('docs/cli.md');
    for (const { name } of COMMANDS) {
      expect(readme).toMatch(new RegExp(`^\\| \`${name}[ \`]`, 'm'));
      expect(reference).toMatch(new RegExp(`^\\| \`${name}[ \`]`, 'm'));
    }
  });

  it('have a runbook entry naming every alarm', () => {
    const runbook = read('docs/operations.md');
    for (const name of alarmShortNames()) {
      const queueOrFunction = name.replace(/-dlq-not-empty$|-errors$/, '');
      const named = runbook.includes(`\`${name}\``) || runbook.includes(`\`${queueOrFunction}\``);
      expect(named, name).toBe(true);
    }
  });

  it('describe every outbound event type', () => {
    const contract = read('docs/outbound-events.md');
    for (const type of Object.values(OUTBOUND_TYPES)) expect(contract).toContain(`### \`${type}\``);
  });

  it('point nowhere outside the repository', () => {
    for (const page of pages) {
      expect(read(page), page).not.toMatch(/SPEC §|\.\.\/shared|upheal-api\.md/);
    }
  });
});
