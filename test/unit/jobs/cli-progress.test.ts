import { describe, expect, it } from 'vitest';
import { emptyCounts, type Job } from '#lib/jobs/job.ts';
import { EXIT } from '#tools/cli/command.ts';
import { createFailuresCommand } from '#tools/cli/commands/failures.ts';
import { createImportCommand, newJobId } from '#tools/cli/commands/import.ts';
import { createStatusCommand } from '#tools/cli/commands/status.ts';
import { main } from '#tools/cli/main.ts';
import {
  formatDuration,
  impliedCalls,
  jobReport,
  ProgressWriter,
  paceOf,
  planReport,
  progressLine,
  sampleOf,
} from '#tools/cli/progress.ts';

const RATE = { limit: 300, windowSeconds: 60, jitterMs: 0 };
const PLAN = {
  providers: 10,
  clients: 90,
  invalid: 2,
  alreadyMapped: 0,
  toCheck: 100,
  creates: 100,
  assignmentCalls: 10,
  totalCalls: 210,
};

/** A job in the client phase, 40 of 100 rows settled. */
function job(overrides: Partial<Job> = {}): Job {
  return {
    jobId: 'imp-1',
    phase: 'clients',
    format: 'ndjson',
    source: { bucket: 'b', key: 'k' },
    dryRun: false,
    mode: 'check-first',
    exportedAt: '2026-11-27T10:00:00.000Z',
    providers: 10,
    clients: 90,
    invalid: 2,
    settled: 40,
    counts: { ...emptyCounts(), created: 38, linked: 1, failed: 1 },
    cursor: 0,
    plan: PLAN,
    startedAt: '2026-11-27T10:00:00.000Z',
    updatedAt: '2026-11-27T10:01:00.000Z',
    ...overrides,
  };
}

describe('progress', () => {
  it('shows phase, bar, per-phase counts, outcomes, rate and ETA on one line', () => {
    const line = progressLine(job(), { callsPerMinute: 294.4, etaSeconds: 125 });
    expect(line).toBe(
      'clients   [##########--------------]  40% | providers 10/10 | clients 30/90 | ' +
        'created 38, linked 1, updated 0, stale 0, skipped 0, failed 1 | invalid 2 | ' +
        '~294 calls/min | ETA 2m05s',
    );
  });

  it('measures the pace between two looks at the job', () => {
    const first = sampleOf(job({ settled: 10, counts: { ...emptyCounts(), created: 10 } }), 0);
    const latest = sampleOf(job(), 60_000);
    const pace = paceOf(job(), first, latest, RATE);
    expect(pace.rowsPerMinute).toBe(30);
    expect(pace.callsPerMinute).toBe(57);
    expect(pace.etaSeconds).toBe(120);
  });

  it("counts the calls each outcome cost in the job's mode, phase by phase", () => {
    const counts = { ...emptyCounts(), created: 38, linked: 2 };
    const providerPhaseCounts = { created: 9, linked: 1 };
    // Check first: check + create per created user, a check per linked one.
    expect(impliedCalls(job({ counts, providerPhaseCounts }))).toBe(38 * 2 + 2);
    // Create first: a create per created user, a create answered duplicate + a check per linked.
    expect(impliedCalls(job({ counts, providerPhaseCounts, mode: 'create-first' }))).toBe(
      38 + 2 * 2,
    );
    // Auto, each phase by what it does now: the providers (10 settled, under the sample auto
    // decides on) create first; the clients, 31 of 60 found in Upheal (over the break-even),
    // have switched to checking first.
    const autoCounts = { ...emptyCounts(), created: 38, linked: 32 };
    const autoJob = job({ counts: autoCounts, providerPhaseCounts, mode: 'auto' });
    expect(impliedCalls(autoJob)).toBe(9 * 1 + 1 * 2 + 29 * 2 + 31 * 1);
  });

  it('estimates from the plan at the configured rate before any row settled', () => {
    const fresh = job({ phase: 'providers', settled: 0, counts: emptyCounts() });
    const sample = sampleOf(fresh, 0);
    // 210 calls at 299 per 60 s.
    expect(paceOf(fresh, sample, sample, RATE).etaSeconds).toBeCloseTo((210 / 299) * 60, 6);
    expect(paceOf(job({ phase: 'completed' }), sample, sample, RATE)).toEqual({ etaSeconds: 0 });
  });

  it('formats durations', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
  });

  it('redraws one line on a terminal and ends it on finish', () => {
    const out: string[] = [];
    const writer = new ProgressWriter((text) => out.push(text), true, 5_000);
    writer.update(job(), {}, 0);
    writer.update(job({ settled: 41 }), {}, 100);
    writer.finish();
    expect(out).toHaveLength(3);
    expect(out[0]?.startsWith('\r\u001b[2K')).toBe(true);
    expect(out[2]).toBe('\n');
  });

  it('prints plain lines only at phase changes and every interval otherwise', () => {
    const out: string[] = [];
    const writer = new ProgressWriter((text) => out.push(text), false, 5_000);
    writer.update(job({ phase: 'providers' }), {}, 0);
    writer.update(job({ phase: 'providers' }), {}, 1_000);
    writer.update(job(), {}, 2_000);
    writer.update(job(), {}, 3_000);
    writer.update(job(), {}, 7_000);
    writer.finish();
    expect(out.map((text) => text.split(' ')[0])).toEqual(['providers', 'clients', 'clients']);
    expect(out.every((text) => text.endsWith('\n') && !text.includes('\r'))).toBe(true);
  });

  it('reports a job and its failures, and a dry run with its estimate', () => {
    const done = job({ phase: 'completed', settled: 100, completedAt: '2026-11-27T10:03:05.000Z' });
    expect(jobReport(done, 0)).toContain('job imp-1: completed after 3m05s');
    expect(jobReport(done, 0)).toContain('failures   upheal-sync failures imp-1');
    const plan = planReport(job({ dryRun: true, phase: 'completed' }), RATE);
    expect(plan).toContain('total calls       210 at most');
    expect(plan).toContain('estimated time    42s at 300 calls per 60 s');
    // 100 unmapped users and 10 assignment calls: create-first halves the users' calls.
    expect(plan).toMatch(/check-first {5}210 calls, 42s/);
    expect(plan).toMatch(/create-first {4}110 calls, 22s/);
    expect(plan).toMatch(/auto {12}110 calls, 22s/);
    expect(plan).toContain('create-first (1 + 2f)·100 + 10');
  });

  it('tells what an auto job does in its current phase, and on what share', () => {
    expect(jobReport(job(), 0)).toContain('mode       check-first');
    const providersFound = { created: 0, linked: 10 };
    const auto = job({ mode: 'auto', providerPhaseCounts: providersFound });
    // The client phase's own counts: 38 created and none linked beyond the providers' 10.
    const mostlyNew = { ...emptyCounts(), created: 38, linked: 10 };
    expect(jobReport({ ...auto, counts: mostlyNew }, 0)).toContain(
      'mode       auto (clients now create-first: 0 % of 38 found in Upheal)',
    );
    const mostlyFound = { ...emptyCounts(), created: 10, linked: 40 };
    expect(jobReport({ ...auto, counts: mostlyFound }, 0)).toContain(
      'mode       auto (clients now check-first: 75 % of 40 found in Upheal)',
    );
  });

  it('makes sortable job ids from the time', () => {
    expect(newJobId(new Date('2026-11-27T10:00:00.123Z'))).toMatch(
      /^imp-20261127T100000-[0-9a-f]{6}$/,
    );
  });
});

describe('job commands: usage errors exit 2 naming the problem', () => {
  /** Runs the CLI with one command and a captured output. */
  async function run(command: ReturnType<typeof createImportCommand>, args: string[]) {
    let err = '';
    const status = await main([command.name, ...args], [command], {
      stdout: () => {},
      stderr: (text) => (err += text),
    });
    return { status, err };
  }

  it('import needs exactly one FILE with a known extension and a target', async () => {
    const env = {};
    expect((await run(createImportCommand({ env }), [])).err).toContain('FILE: is required');
    const extension = await run(createImportCommand({ env: { TABLE_NAME: 't' } }), ['x.xml']);
    expect(extension.status).toBe(EXIT.usage);
    expect(extension.err).toContain('file: has no supported extension');
    const missing = await run(createImportCommand({ env }), ['no-such-export.csv']);
    // The first line names the stage; the second, the one line of the error.
    expect(missing.err.split('\n')[1]).toBe(
      'upheal-sync import: FILE: is not a readable file (see upheal-sync import --help)',
    );
    const noTime = await run(createImportCommand({ env }), ['samples/import.csv']);
    expect(noTime.status).toBe(EXIT.usage);
    expect(noTime.err).toContain(
      "upheal-sync import: exportedAt: is required: pass --exported-at or state it on the file's first line",
    );
    const noTarget = await run(createImportCommand({ env }), [
      'samples/import.csv',
      '--exported-at',
      '2026-11-20T08:00:00Z',
    ]);
    expect(noTarget.status).toBe(EXIT.usage);
    expect(noTarget.err.split('\n')[1]).toContain('TABLE_NAME: is required');
    const badId = await run(createImportCommand({ env }), ['x.csv', '--job-id', 'a/b']);
    expect(badId.err).toContain('--job-id: (root): must use only letters, digits, - and _');
    expect((await run(createImportCommand({ env }), ['x.csv', '--fast'])).status).toBe(EXIT.usage);
  });

  it('status and failures take at most one JOB', async () => {
    expect((await run(createStatusCommand({ env: {} }), ['a', 'b'])).err).toContain(
      'expected at most one JOB',
    );
    expect((await run(createFailuresCommand({ env: {} }), ['x y'])).status).toBe(EXIT.usage);
  });
});
