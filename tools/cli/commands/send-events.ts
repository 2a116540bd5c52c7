/**
 * `upheal-sync send-events FILE [--wait]`: publishes partner events (NDJSON, one per line) to the
 * user-events queue exactly as a partner producer on AWS would (FIFO group = partner user id,
 * deduplication id = event id). Every line is validated first; a bad line is reported with its
 * number and nothing is sent. `--wait` returns once the events sent are settled (tools/cli/settle.ts).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { ValidationError } from '#lib/errors.ts';
import { type PartnerEvent, parsePartnerEventJson } from '#lib/events/partner-event.ts';
import { booleanFlag, parseFlags, positiveIntFlag } from '#tools/cli/args.ts';
import { type CliCommand, EXIT, processContext } from '#tools/cli/command.ts';
import { type SettleReport, settleReport } from '#tools/cli/settle.ts';
import { type Target, targetFromEnv } from '#tools/cli/target.ts';

/** Longest --wait waits unless --timeout says otherwise. */
const DEFAULT_TIMEOUT_SECONDS = 300;
const MS_PER_SECOND = 1000;
/** How often --wait looks, and how often it says what it waits for. */
const POLL_MS = 500;
const REPORT_EVERY_MS = 5_000;

const USAGE = `Usage: upheal-sync send-events FILE [--wait [--timeout SECONDS]] [--json]

Publishes partner events (NDJSON: one event per line, see docs/events.md) to the user-events
queue. Every line is validated first; if any is invalid, nothing is sent and the bad lines are
listed. With --wait, returns when the events sent (only those: other traffic does not matter)
are settled: applied or skipped as stale, failed, or staged by the delete guard. Exits 1 if any
failed or was not settled within the timeout (\`upheal-sync failures --live\` shows why).

Options:
  --wait               wait until the sent events are settled, then report them
  --timeout SECONDS    longest --wait waits (default ${DEFAULT_TIMEOUT_SECONDS})
  --json               print {"sent":n} (with --wait also "applied","staged",
                       "failed":[eventIds],"pending":[eventIds])
  -h, --help           show this help
`;

/** SendMessageBatch takes at most 10 entries. */
const SEND_BATCH = 10;

/** Reads and validates every event of an NDJSON file; throws one ValidationError for all bad lines. */
export async function readEvents(path: string): Promise<PartnerEvent[]> {
  const events: PartnerEvent[] = [];
  const issues: { field: string; reason: string }[] = [];
  let line = 0;
  for await (const text of createInterface({
    input: createReadStream(path),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    line += 1;
    if (text.trim() === '') continue;
    try {
      events.push(parsePartnerEventJson(text, `line ${line}`));
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(
        ...error.issues.map((issue) => ({
          field: `line ${line}: ${issue.field}`,
          reason: issue.reason,
        })),
      );
    }
  }
  if (issues.length > 0) throw new ValidationError(issues, path);
  return events;
}

/** Publishes events to the user-events queue. */
export async function publishEvents(
  target: Target,
  events: readonly PartnerEvent[],
): Promise<void> {
  const queueUrl = target.queueUrl('userEvents');
  for (let start = 0; start < events.length; start += SEND_BATCH) {
    const chunk = events.slice(start, start + SEND_BATCH);
    const result = await target.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((event, index) => ({
          Id: String(index),
          MessageBody: JSON.stringify(event),
          MessageGroupId: event.partnerUserId,
          MessageDeduplicationId: event.eventId,
        })),
      }),
    );
    if (result.Failed?.length) {
      const ids = result.Failed.map((failure) => chunk[Number(failure.Id)]?.eventId).join(', ');
      throw new Error(`SQS refused events ${ids}`);
    }
  }
}

/** Waits until every sent event is settled or the timeout passes; resolves with the report. */
async function waitForSettled(
  target: Target,
  events: readonly PartnerEvent[],
  since: string,
  timeoutMs: number,
  report: (line: string) => void,
): Promise<SettleReport> {
  const deadline = Date.now() + timeoutMs;
  let lastReport = Date.now();
  for (;;) {
    const settled = await settleReport(target, events, since);
    if (settled.pending.length === 0 || Date.now() >= deadline) return settled;
    if (Date.now() - lastReport >= REPORT_EVERY_MS) {
      lastReport = Date.now();
      report(`waiting: ${settled.pending.length} of ${events.length} event(s) not settled yet\n`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The `send-events` command. */
export const sendEventsCommand: CliCommand = {
  name: 'send-events',
  summary: 'publish partner events (NDJSON) to the event queue; --wait for them to settle',
  usage: USAGE,
  targeted: true,
  async run(args, { env, output } = processContext()) {
    const parsed = parseFlags(args, {
      wait: { type: 'boolean' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    });
    const [file, ...extra] = parsed.positionals;
    if (!file || extra.length > 0)
      throw new ValidationError([{ field: 'FILE', reason: 'give exactly one file' }]);
    const timeoutSeconds = positiveIntFlag(parsed, 'timeout') ?? DEFAULT_TIMEOUT_SECONDS;
    const wait = booleanFlag(parsed, 'wait');
    const json = booleanFlag(parsed, 'json');
    const events = await readEvents(file);
    const target = targetFromEnv(env);
    try {
      const startedAt = new Date().toISOString();
      await publishEvents(target, events);
      if (!wait) {
        output.stdout(
          json
            ? `${JSON.stringify({ sent: events.length })}\n`
            : `sent ${events.length} event(s) to the user-events queue\n`,
        );
        return EXIT.ok;
      }
      output.stderr(`sent ${events.length} event(s) to the user-events queue; waiting for them\n`);
      const settled = await waitForSettled(
        target,
        events,
        startedAt,
        timeoutSeconds * MS_PER_SECOND,
        output.stderr,
      );
      if (json) {
        output.stdout(`${JSON.stringify({ sent: events.length, ...settled })}\n`);
      } else {
        for (const eventId of settled.failed) output.stdout(`failed: ${eventId}\n`);
        for (const eventId of settled.pending) output.stdout(`not settled: ${eventId}\n`);
        output.stdout(
          `settled: ${settled.applied} applied or skipped, ${settled.staged} staged for approval, ${settled.failed.length} failed, ${settled.pending.length} not settled within ${timeoutSeconds} s\n`,
        );
      }
      if (settled.failed.length > 0) return EXIT.someFailed;
      return settled.pending.length > 0 ? EXIT.someFailed : EXIT.ok;
    } finally {
      target.close();
    }
  },
};
