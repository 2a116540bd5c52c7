/**
 * `upheal-sync demo` (`npm start`): the main job end to end on the embedded local stack.
 *   1. starts the local stack with the rate limit scaled to 300 requests per 10 s, and seeds the
 *      Upheal simulator with the sample's users that "already exist in Upheal";
 *   2. imports the bundled sample export with a live progress bar (`upheal-sync import --wait`);
 *   3. sends a burst of ongoing events through the signed HTTPS `ingest` endpoint;
 *   4. waits until everything settled and prints a report: outcomes (from the outbound events the
 *      partner system would receive), Upheal calls, 429s and the achieved rate against the limit.
 * Worker logs go to a file (its path is printed), so the terminal shows progress only.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { PartnerEvent } from '#lib/events/partner-event.ts';
import { sendEvents } from '#lib/ingest/send-events.ts';
import { MS_PER_SECOND } from '#lib/time.ts';
import { parseFlags, stringFlag } from '#tools/cli/args.ts';
import { type CliCommand, EXIT } from '#tools/cli/command.ts';
import { createImportCommand } from '#tools/cli/commands/import.ts';
import { ensureBundles } from '#tools/cli/commands/local.ts';
import { readEvents } from '#tools/cli/commands/send-events.ts';
import { waitForDrain } from '#tools/cli/drain.ts';
import { type Target, targetFromEnv } from '#tools/cli/target.ts';
import { LOCAL_INGEST_SECRET, PROJECT_ROOT, startLocalStack } from '#tools/local/stack.ts';
import type { SeedUser } from '#tools/simulator/schemas.ts';
import type { TrafficStats } from '#tools/simulator/traffic.ts';

const USAGE = `Usage: upheal-sync demo [--import FILE] [--events FILE]

Runs the main job on the embedded local stack: starts it (rate limit scaled to 300 requests per
10 s), imports the sample export with a progress bar, sends a burst of ongoing events through
the signed ingest endpoint, and prints a report. Takes about a minute. \`npm start\` runs it.

Options:
  --import FILE   the export to import (default samples/import.ndjson)
  --events FILE   the ongoing events to send (default samples/events.ndjson), moved in
                  time to start now (after the import, so none is stale)
  -h, --help      show this help
`;

/** The scaled rate limit of the demo: the benchmark's scaling, 6× faster than production. */
const DEMO_LIMIT = 300;
const DEMO_WINDOW_SECONDS = 10;
/** Jitter allowance for loopback (latency spread is a few ms; see docs/limits.md). */
const DEMO_JITTER_MS = 150;
/** Longest the demo waits for the live events to settle. */
const SETTLE_TIMEOUT_MS = 120_000;
const PERCENT = 100;

/** Counts of the outbound events by type. */
type OutboundCounts = Record<string, number>;

/** Reads (and consumes) every outbound event on the queue, counting them by type. */
async function drainOutbound(target: Target): Promise<OutboundCounts> {
  const counts: OutboundCounts = {};
  const queueUrl = target.queueUrl('outbound');
  for (;;) {
    const { Messages = [] } = await target.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (Messages.length === 0) return counts;
    for (const message of Messages) {
      const type = (JSON.parse(message.Body ?? '{}') as { type?: string }).type ?? 'unknown';
      counts[type] = (counts[type] ?? 0) + 1;
      await target.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
      );
    }
  }
}

/** The report printed at the end. */
export function demoReport(
  outbound: OutboundCounts,
  stats: TrafficStats,
  busySeconds: number,
  totalSeconds: number,
): string {
  const count = (type: string) => outbound[type] ?? 0;
  const limitPerSecond = stats.limit / (stats.windowMs / MS_PER_SECOND);
  const achieved = busySeconds > 0 ? stats.admitted / busySeconds : 0;
  const routes = Object.entries(stats.byRoute)
    .map(([route, statuses]) => `${route} ${Object.values(statuses).reduce((a, b) => a + b, 0)}`)
    .join(', ');
  return [
    '',
    'Report',
    `  users       created ${count('user.created')}, linked ${count('user.linked')}, updated ${count('user.updated')}, deleted ${count('user.deleted')}, failed ${count('user.failed')}`,
    `  clients     provider lists assigned ${count('client.providers_assigned')}`,
    `  API calls   ${stats.totalCalls} (${routes})`,
    `  429s        ${stats.rateLimited}`,
    `  rate        ${achieved.toFixed(1)} calls/s while busy, ${((PERCENT * achieved) / limitPerSecond).toFixed(0)} % of the limit (${stats.limit} per ${stats.windowMs / MS_PER_SECOND} s)`,
    `  peak        ${stats.peakOwnInWindow} calls in any ${stats.windowMs / MS_PER_SECOND} s window (limit ${stats.limit})`,
    `  duration    ${totalSeconds.toFixed(0)} s`,
    '',
  ].join('\n');
}

/** The `demo` command. */
export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'run the main job on the local stack: sample import, live events, report (npm start)',
  usage: USAGE,
  async run(args) {
    const parsed = parseFlags(
      args,
      { import: { type: 'string' }, events: { type: 'string' } },
      false,
    );
    const importFile =
      stringFlag(parsed, 'import') ?? join(PROJECT_ROOT, 'samples', 'import.ndjson');
    const eventsFile =
      stringFlag(parsed, 'events') ?? join(PROJECT_ROOT, 'samples', 'events.ndjson');
    const events = await readEvents(eventsFile);
    const started = Date.now();
    const logPath = join(tmpdir(), `upheal-sync-demo-${started}.log`);
    const log = createWriteStream(logPath);
    const out = (text: string) => process.stdout.write(text);

    await ensureBundles();
    out(
      `Starting the local stack (SQS/S3, DynamoDB, Upheal simulator, one worker process per Lambda instance).\n` +
        `The rate limit is scaled to ${DEMO_LIMIT} requests per ${DEMO_WINDOW_SECONDS} s so this takes about a minute; worker logs: ${logPath}\n`,
    );
    const scaled = {
      UPHEAL_RATE_LIMIT: String(DEMO_LIMIT),
      UPHEAL_RATE_WINDOW_SECONDS: String(DEMO_WINDOW_SECONDS),
      UPHEAL_RATE_JITTER_MS: String(DEMO_JITTER_MS),
    };
    const stack = await startLocalStack({
      env: scaled,
      simulator: {
        rateLimit: { limit: DEMO_LIMIT, windowMs: DEMO_WINDOW_SECONDS * MS_PER_SECOND },
      },
      pollWaitSeconds: 1,
      logSink: (entry) => log.write(`${entry.functionName}#${entry.workerId} ${entry.line}\n`),
    });
    const env = { ...process.env, ...stack.env, ...scaled };
    const target = targetFromEnv(env);
    try {
      const simulator = stack.simulator!;
      const existing = JSON.parse(
        readFileSync(join(PROJECT_ROOT, 'samples', 'existing-users.json'), 'utf8'),
      ) as SeedUser[];
      simulator.seedUsers(existing);
      out(
        `Upheal already has ${existing.length} of the sample's users: they will be linked, not created.\n\n`,
      );

      out(`1. Initial sync of ${importFile}\n`);
      // The sample export is as of the demo's start; the events of step 2 come after it.
      const exportedAt = new Date().toISOString();
      await createImportCommand({ env }).run([importFile, '--exported-at', exportedAt, '--wait']);

      out(`\n2. ${events.length} ongoing events through the signed ingest endpoint\n`);
      const ingestUrl = stack.functionUrls.ingest;
      if (!ingestUrl) throw new Error('the ingest function is not running (npm run build)');
      const sent = await sendEvents(
        ingestUrl,
        LOCAL_INGEST_SECRET,
        occurringFrom(events, Date.now()),
      );
      out(
        `   accepted ${sent.accepted.length}, rejected ${sent.rejected.length}, not delivered ${sent.failed.length}\n`,
      );
      await waitForDrain(
        target,
        ['userEvents', 'assignments'],
        (line) => out(`   ${line}`),
        SETTLE_TIMEOUT_MS,
      );
      out('   settled\n');

      const outbound = await drainOutbound(target);
      const stats = simulator.stats();
      const busySeconds =
        stats.firstArrivalAt !== null && stats.lastArrivalAt !== null
          ? (stats.lastArrivalAt - stats.firstArrivalAt) / MS_PER_SECOND
          : 0;
      out(demoReport(outbound, stats, busySeconds, (Date.now() - started) / MS_PER_SECOND));
      out(
        'The invalid rows and failures above are part of the sample (see `upheal-sync failures`).\n',
      );
      return sent.failed.length === 0 ? EXIT.ok : EXIT.someFailed;
    } finally {
      target.close();
      await stack.stop();
      log.end();
    }
  },
};

/**
 * The sample events moved in time so that the first occurred at `now`, the others keeping their
 * spacing: the import that runs before them stamps its rows with its own start, and events older
 * than that would be dropped as stale (the sample file's fixed times lie in the past).
 */
export function occurringFrom(events: readonly PartnerEvent[], now: number): PartnerEvent[] {
  const first = Math.min(...events.map((event) => Date.parse(event.occurredAt)));
  return events.map((event) => ({
    ...event,
    occurredAt: new Date(now + Date.parse(event.occurredAt) - first).toISOString(),
  }));
}
