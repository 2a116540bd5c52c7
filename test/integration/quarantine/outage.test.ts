/**
 * An Upheal outage on the local stack, scaled: the rate window is 10 s (300 calls), so an outage
 * of one window stands for ten minutes at Upheal's 60 s window. During an import and live events,
 * Upheal answers 503 to everything: the quarantine stops the calls, records wait in SQS, a probe
 * finds Upheal back, and every event is applied with nothing dead-lettered.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueueKey } from '#infra/resources.ts';
import { readQuarantine } from '#lib/quarantine/dynamo-quarantine.ts';
import { QUARANTINE_REASONS } from '#lib/quarantine/quarantine-rules.ts';
import { DynamoFailureStore } from '#lib/store/failure-store.ts';
import { clientEvent, providerEvent } from '#test/helpers/events.ts';
import { waitFor } from '#test/helpers/local-stack.ts';
import { exportOf, toNdjson } from '#test/unit/jobs/import-data.ts';
import { createImportCommand } from '#tools/cli/commands/import.ts';
import { createStatusCommand, jobsOf } from '#tools/cli/commands/status.ts';
import { targetFromEnv } from '#tools/cli/target.ts';
import {
  bundleImportHandlers,
  type ImportStack,
  RATE_ENV,
  startImportStack,
} from '../jobs/import-stack.ts';

/** One scaled rate window: the outage lasts this long. */
const OUTAGE_MS = Number(RATE_ENV.UPHEAL_RATE_WINDOW_SECONDS) * 1000;
/** The quarantine, scaled with the window: 5 faults in a window, a probe every 2 s. */
const QUARANTINE_ENV = {
  QUARANTINE_ERROR_THRESHOLD: '5',
  QUARANTINE_ERROR_WINDOW_SECONDS: RATE_ENV.UPHEAL_RATE_WINDOW_SECONDS,
  QUARANTINE_PROBE_SECONDS: '2',
} as const;
/** Live events sent during the outage: providers, and clients of them. */
const LIVE_PROVIDERS = 5;
/** The import: 5 providers and 20 clients. */
const IMPORT = exportOf(5, 20);
/** The queues whose DLQs must stay empty. */
const CONSUMED: readonly QueueKey[] = ['userEvents', 'imports', 'assignments'];

let bundles: { dir: string; remove(): Promise<void> };
let files: string;
let run: ImportStack;

beforeAll(async () => {
  bundles = await bundleImportHandlers();
  files = await mkdtemp(join(tmpdir(), 'upheal-sync-outage-'));
  run = await startImportStack(bundles.dir, { env: QUARANTINE_ENV });
});

afterAll(async () => {
  await run?.stop();
  await bundles?.remove();
  if (files) await rm(files, { recursive: true, force: true });
});

/** Runs a CLI command against the stack; resolves with what it printed. */
async function cli(make: typeof createImportCommand, args: string[]): Promise<string> {
  let out = '';
  const command = make({
    env: run.env,
    output: { stdout: (text) => (out += text), stderr: (text) => (out += text) },
    isTty: false,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 200))),
  });
  await command.run(args);
  return out;
}

/** Messages in the DLQs of the consumed queues. */
async function deadLettered(): Promise<number> {
  let total = 0;
  for (const key of CONSUMED) {
    const { Attributes = {} } = await run.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: run.stack.dlqUrls[key],
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    total +=
      Number(Attributes.ApproximateNumberOfMessages) +
      Number(Attributes.ApproximateNumberOfMessagesNotVisible);
  }
  return total;
}

/** Sends partner events to the user-events queue, grouped by partner id. */
async function sendLive(events: { partnerUserId: string; eventId: string }[]): Promise<void> {
  for (const event of events) {
    await run.sqs.send(
      new SendMessageCommand({
        QueueUrl: run.stack.queueUrls.userEvents,
        MessageBody: JSON.stringify(event),
        MessageGroupId: event.partnerUserId,
        MessageDeduplicationId: event.eventId,
      }),
    );
  }
}

describe('an Upheal outage during an import and live events', () => {
  it('quarantines the sync, dead-letters nothing, and applies every event after recovery', async () => {
    const simulator = run.stack.simulator!;
    const target = targetFromEnv(run.env);
    try {
      const file = join(files, 'export.ndjson');
      await writeFile(file, toNdjson(IMPORT));
      // Taken a minute ago: the live events sent during the outage are newer.
      const exportedAt = new Date(Date.now() - 60_000).toISOString();
      const startedImport = await cli(createImportCommand, [file, '--exported-at', exportedAt]);
      const jobId = /^job (\S+):/m.exec(startedImport)?.[1];
      expect(jobId, startedImport).toBeDefined();

      // Upheal goes down as the import starts calling it.
      await waitFor(() => simulator.stats().totalCalls > 0, { timeoutMs: 20_000, intervalMs: 20 });
      simulator.setOutage('unavailable');
      const outageStart = Date.now();
      const callsBefore = simulator.stats().totalCalls;
      const live = [
        ...Array.from({ length: LIVE_PROVIDERS }, (_, i) => providerEvent(`p-live-${i + 1}`, 0)),
        ...Array.from({ length: LIVE_PROVIDERS }, (_, i) =>
          clientEvent(`c-live-${i + 1}`, [`p-live-${i + 1}`], 1),
        ),
      ];
      await sendLive(live);

      // Every instance stops calling: the quarantine is in force, and status says so.
      await waitFor(
        async () => (await readQuarantine(target.documents, target.tableName)).quarantined,
        {
          timeoutMs: OUTAGE_MS,
        },
      );
      const status = await cli(createStatusCommand, [jobId!]);
      expect(status).toContain('sync: QUARANTINED since');
      await new Promise((resolve) => setTimeout(resolve, outageStart + OUTAGE_MS - Date.now()));
      const callsDuringOutage = simulator.stats().totalCalls - callsBefore;
      simulator.setOutage('none');
      const outageEnd = Date.now();
      const outageMs = outageEnd - outageStart;

      // After recovery: the import completes and every live event is applied.
      const jobs = jobsOf(target);
      const job = await waitFor(
        async () => {
          const current = await jobs.get(jobId!);
          return current?.phase === 'completed' && current;
        },
        { timeoutMs: 40_000, intervalMs: 200 },
      );
      const mapped = await waitFor(
        async () => {
          const users = simulator.users();
          const ids = new Set(users.map((user) => user.partnerUserId));
          return live.every((event) => ids.has(event.partnerUserId)) && users;
        },
        { timeoutMs: 40_000, intervalMs: 200 },
      );
      const allAppliedMs = Date.now() - outageEnd;
      await waitFor(() => run.queuesIdle(), { timeoutMs: 20_000, intervalMs: 200 });

      const quarantine = await readQuarantine(target.documents, target.tableName);
      const figures = {
        outageMs,
        allAppliedMs,
        deadLettered: await deadLettered(),
        importApplied: job.settled,
        liveApplied: live.filter((event) =>
          mapped.some((user) => user.partnerUserId === event.partnerUserId),
        ).length,
        callsDuringOutage,
        probes: quarantine.probes,
      };
      // The figures of the run, for the record.
      console.info(`outage figures: ${JSON.stringify(figures)}`);

      expect(figures.deadLettered).toBe(0);
      expect(job).toMatchObject({ settled: IMPORT.length, counts: { failed: 0 } });
      expect(figures.liveApplied).toBe(live.length);
      expect(mapped).toHaveLength(IMPORT.length + live.length);
      expect(quarantine).toMatchObject({
        quarantined: false,
        last: { reason: QUARANTINE_REASONS.failing },
      });
      // The calls that went out before the quarantine reached every instance, and the probes:
      // a handful, not one per message per receive.
      expect(callsDuringOutage).toBeLessThan(IMPORT.length + live.length);
      // Nothing failed for good: no failure record at all.
      expect(await new DynamoFailureStore(target.documents, target.tableName).list()).toEqual([]);
    } finally {
      target.close();
    }
  }, 120_000);

  it('waits out a refused API key (401) the same way: nothing dead-lettered, every event applied', async () => {
    const simulator = run.stack.simulator!;
    const target = targetFromEnv(run.env);
    try {
      simulator.setOutage('unauthorized');
      const live = Array.from({ length: LIVE_PROVIDERS }, (_, i) =>
        providerEvent(`p-key-${i + 1}`, 0),
      );
      await sendLive(live);
      await waitFor(
        async () => (await readQuarantine(target.documents, target.tableName)).quarantined,
        { timeoutMs: OUTAGE_MS },
      );
      expect((await readQuarantine(target.documents, target.tableName)).reason).toBe(
        QUARANTINE_REASONS.unauthorized,
      );
      // The key is fixed (a rotation picked up): the next probe resumes the sync.
      simulator.setOutage('none');
      await waitFor(
        () => {
          const ids = new Set(simulator.users().map((user) => user.partnerUserId));
          return live.every((event) => ids.has(event.partnerUserId));
        },
        { timeoutMs: 40_000, intervalMs: 200 },
      );
      expect(await deadLettered()).toBe(0);
      expect(await new DynamoFailureStore(target.documents, target.tableName).list()).toEqual([]);
    } finally {
      target.close();
    }
  }, 90_000);
});
