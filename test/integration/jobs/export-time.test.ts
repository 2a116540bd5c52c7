/**
 * An import never overwrites newer data: on the local stack, live events made after the export
 * (an update of one provider, the delete of another) are applied first; the import of the older
 * export then leaves both as they are — the update's fields stay and the delete's tombstone holds —
 * while a user only the export knows is created.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartnerEvent } from '#lib/events/partner-event.ts';
import { waitFor } from '#test/helpers/local-stack.ts';
import { provider, toNdjson } from '#test/unit/jobs/import-data.ts';
import { EXIT } from '#tools/cli/command.ts';
import { createImportCommand } from '#tools/cli/commands/import.ts';
import { jobsOf } from '#tools/cli/commands/status.ts';
import { targetFromEnv } from '#tools/cli/target.ts';
import { bundleImportHandlers, type ImportStack, startImportStack } from './import-stack.ts';

/** When the partner took the export; the live changes below come an hour later. */
const EXPORTED_AT = new Date(Date.now() - 2 * 3_600_000).toISOString();
const BEFORE_EXPORT = new Date(Date.now() - 3 * 3_600_000).toISOString();
const AFTER_EXPORT = new Date(Date.now() - 3_600_000).toISOString();

let bundles: { dir: string; remove(): Promise<void> };
let files: string;
let run: ImportStack;

beforeAll(async () => {
  bundles = await bundleImportHandlers();
  files = await mkdtemp(join(tmpdir(), 'export-time-'));
  // One delete among two users is half of them: let the guard pass it (it is not under test).
  run = await startImportStack(bundles.dir, { env: { DELETE_GUARD_MAX_SHARE: '1' } });
}, 120_000);
afterAll(async () => {
  await run?.stop();
  await bundles?.remove();
  if (files) await rm(files, { recursive: true, force: true });
});

/** Sends one live event to sync-user's live queue. */
async function sendLive(event: PartnerEvent): Promise<void> {
  await run.sqs.send(
    new SendMessageCommand({
      QueueUrl: run.stack.queueUrls.userEvents,
      MessageBody: JSON.stringify(event),
      MessageGroupId: event.partnerUserId,
      MessageDeduplicationId: event.eventId,
    }),
  );
}

/** The simulator's user with `partnerUserId` or `email`, if any. */
function uphealUser(email: string) {
  return run.stack.simulator!.users().find((user) => user.email === email);
}

describe('an import of an older export', () => {
  it('keeps a live update and a live delete made after the export', async () => {
    const { kind: _k1, partnerUserId: _p1, ...one } = provider(1);
    const { kind: _k2, partnerUserId: _p2, ...two } = provider(2);
    for (const [id, data] of [
      ['p-1', one],
      ['p-2', two],
    ] as const) {
      await sendLive({
        eventId: `live-create-${id}`,
        type: 'provider.created',
        occurredAt: BEFORE_EXPORT,
        partnerUserId: id,
        data,
      } as PartnerEvent);
    }
    await waitFor(() => Boolean(uphealUser(String(one.email)) && uphealUser(String(two.email))), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    // After the export: p-1 changes its name, p-2 is deleted.
    await sendLive({
      eventId: 'live-update-p-1',
      type: 'provider.updated',
      occurredAt: AFTER_EXPORT,
      partnerUserId: 'p-1',
      data: { ...one, lastName: 'Renamed' },
    } as PartnerEvent);
    await sendLive({
      eventId: 'live-delete-p-2',
      type: 'user.deleted',
      occurredAt: AFTER_EXPORT,
      partnerUserId: 'p-2',
    } as PartnerEvent);
    await waitFor(
      () => uphealUser(String(one.email))?.lastName === 'Renamed' && !uphealUser(String(two.email)),
      { timeoutMs: 30_000, intervalMs: 100 },
    );

    // The export still has p-1's old name and p-2; p-3 is new.
    const file = join(files, 'older.ndjson');
    await writeFile(file, toNdjson([provider(1), provider(2), provider(3)]));
    let out = '';
    const status = await createImportCommand({
      env: run.env,
      output: { stdout: (text) => (out += text), stderr: (text) => (out += text) },
      isTty: false,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 200))),
    }).run([file, '--exported-at', EXPORTED_AT, '--wait']);
    expect(status, out).toBe(EXIT.ok);
    expect(out).toContain(`exported   ${EXPORTED_AT}`);

    const jobId = /^job (\S+):/m.exec(out)?.[1];
    const target = targetFromEnv(run.env);
    try {
      const job = await jobsOf(target).get(jobId!);
      expect(job).toMatchObject({ phase: 'completed', exportedAt: EXPORTED_AT });
      expect(job?.counts).toMatchObject({ created: 1, stale: 2, failed: 0 });
    } finally {
      target.close();
    }
    expect(uphealUser(String(one.email))?.lastName).toBe('Renamed');
    expect(uphealUser(String(two.email))).toBeUndefined();
    expect(uphealUser(String(provider(3).email))).toBeDefined();
  });
});
