/**
 * `upheal-sync send-events FILE [--wait]`: publishes partner events (NDJSON, one per line) to the
 * user-events queue exactly as ingest does (FIFO group and deduplication ids derived from the
 * partner user id and the event id by `#lib/sqs/message-ids.ts`). Every line is validated first; a
 * bad line is reported with its number and nothing is sent. `--wait` returns once the events sent
 * are settled (tools/cli/settle.ts).
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { ValidationError } from '#lib/errors.ts';
import {
  type EventClock,
  type PartnerEvent,
  parsePartnerEventJson,
} from '#lib/events/partner-event.ts';
import { sqsEventDeduplicationId, sqsGroupId } from '#lib/sqs/message-ids.ts';
import { MS_PER_SECOND } from '#lib/time.ts';
import { booleanFlag, parseFlags, positiveIntFlag } from '#tools/cli/args.ts';
import { type CliCommand, EXIT, processContext } from '#tools/cli/command.ts';
import { type SettleReport, settleReport } from '#tools/cli/settle.ts';
import { type Target, targetFromEnv } from '#tools/cli/target.ts';

/** Longest --wait waits unless --timeout says otherwise. */
const DEFAULT_TIMEOUT_SECONDS = 300;
/** How often --wait looks, and how often it says what it waits for. */
const POLL_MS = 500;
const REPORT_EVERY_MS = 5_000;

const USAGE = `Usage: upheal-sync send-events FILE [--wait [--timeout SECONDS]] [--json]

Publishes partner events (NDJSON: one event per line, see docs/events.md) to the user-events
queue. Every line is validated first; if any is invalid, nothing is sent and the bad lines are
listed (an eventId used twice, an occurredAt more than EVENT_MAX_FUTURE_SKEW_SECONDS — default
300 — in the future, or text a queue cannot carry is a bad line). With --wait, returns when the
events sent (only those: other traffic does not matter) are settled: applied or skipped as stale,
failed, or staged by the delete guard. Exits 1 if any failed or was not settled within the
timeout (\`upheal-sync failures --live\` shows why).

Options:
  --wait               wait until the sent events are settled, then report them
  --timeout SECONDS    longest --wait waits (default ${DEFAULT_TIMEOUT_SECONDS})
  --json               print {"sent":n} (with --wait also "applied","staged",
                       "failed":[eventIds],"pending":[eventIds])
  -h, --help           show this help
`;

/** SendMessageBatch takes at most 10 entries. */
const SEND_BATCH = 10;

/**
 * Reads and validates every event of an NDJSON file; throws one ValidationError for all bad lines.
 * An eventId used on two lines is an error on both (FIFO deduplication would drop the second).
 */
export async function readEvents(path: string, clock: EventClock = {}): Promise<PartnerEvent[]> {
  const events: PartnerEvent[] = [];
  const issues: { field: string; reason: string }[] = [];
  const linesOf = new Map<string, number[]>();
  let line = 0;
  for await (const text of createInterface({
    input: createReadStream(path),
    crlfDelay: Number.POSITIVE_INFINITY,
  })) {
    line += 1;
    if (text.trim() === '') continue;
    try {
      const event = parsePartnerEventJson(text, `line ${line}`, clock);
      events.push(event);
      linesOf.set(event.eventId, [...(linesOf.get(event.eventId) ?? []), line]);
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
  for (const lines of linesOf.values()) {
    if (lines.length < 2) continue;
    const reason = `is used on more than one line (lines ${lines.join(', ')})`;
    issues.push(...lines.map((at) => ({ field: `line ${at}: eventId`, reason })));
  }
  if (issues.length > 0) {
    const lineOf = (field: string) => Number(/^line (\d+)/.exec(field)?.[1]);
    throw new ValidationError(
      issues.sort((a, b) => lineOf(a.field) - lineOf(b.field)),
      path,
    );
  }
  return events;
}

/** `EVENT_MAX_FUTURE_SKEW_SECONDS` of the environment in ms, when set; the contract's default otherwise. */
export function futureSkewMsFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const text = env.EVENT_MAX_FUTURE_SKEW_SECONDS;
  if (text === undefined || text === '') return undefined;
  const seconds = Number(text);
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new ValidationError([
      { field: 'EVENT_MAX_FUTURE_SKEW_SECONDS', reason: 'must be a whole number of seconds' },
    ]);
  }
  return seconds * MS_PER_SECOND;
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
          MessageGroupId: sqsGroupId(event.partnerUserId),
          MessageDeduplicationId: sqsEventDeduplicationId(event.eventId),
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
    const events = await readEvents(file, { maxFutureSkewMs: futureSkewMsFromEnv(env) });
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
