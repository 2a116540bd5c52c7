/**
 * `upheal-sync send-events FILE [--wait]`: publishes partner events (NDJSON, one per line) to the
 * user-events queue exactly as ingest does (FIFO group and deduplication ids derived from the
 * partner user id and the event id by `#lib/sqs/message-ids.ts`). Every line is validated first; a bad line is reported with its
 * number and nothing is sent. `--wait` returns once the event and assignment queues are drained.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { ValidationError } from '#lib/errors.ts';
import {
  type EventClock,
  type PartnerEvent,
  parsePartnerEventJson,
} from '#lib/events/partner-event.ts';
import { sqsEventDeduplicationId, sqsGroupId } from '#lib/sqs/message-ids.ts';
import { type CliCommand, EXIT } from '#tools/cli/command.ts';
import { waitForDrain } from '#tools/cli/drain.ts';
import { type Target, targetFromEnv } from '#tools/cli/target.ts';

const USAGE = `Usage: upheal-sync send-events FILE [--wait]

Publishes partner events (NDJSON: one event per line, see docs/events.md) to the user-events
queue. Every line is validated first; if any is invalid, nothing is sent and the bad lines are
listed (an eventId used twice, an occurredAt more than EVENT_MAX_FUTURE_SKEW_SECONDS — default
300 — in the future, or text a queue cannot carry is a bad line). With --wait, returns when the events (and the assignments they cause) are settled, and
exits 1 if any of them failed.

Options:
  --wait       wait until the queues are drained, then report failures
  -h, --help   show this help
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
  return seconds * 1000;
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

/** The `send-events` command. */
export const sendEventsCommand: CliCommand = {
  name: 'send-events',
  summary: 'publish partner events (NDJSON) to the event queue; --wait for them to settle',
  usage: USAGE,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { wait: { type: 'boolean', default: false } },
      allowPositionals: true,
    });
    const [file, ...extra] = positionals;
    if (!file || extra.length > 0)
      throw new ValidationError([{ field: 'FILE', reason: 'give exactly one file' }]);
    const events = await readEvents(file, { maxFutureSkewMs: futureSkewMsFromEnv(process.env) });
    const target = targetFromEnv(process.env);
    try {
      const startedAt = new Date().toISOString();
      await publishEvents(target, events);
      process.stdout.write(`sent ${events.length} event(s) to the user-events queue\n`);
      if (!values.wait) return EXIT.ok;
      await waitForDrain(target, ['userEvents', 'assignments'], (line) =>
        process.stderr.write(line),
      );
      const sent = new Set(events.map((event) => event.eventId));
      const failures = (await target.failures.list()).filter(
        (failure) =>
          failure.at >= startedAt && failure.eventId !== undefined && sent.has(failure.eventId),
      );
      for (const failure of failures) {
        process.stdout.write(
          `failed: ${failure.partnerUserId ?? '-'} ${failure.eventId} ${failure.operation}: ${failure.reason}\n`,
        );
      }
      process.stdout.write(
        `settled: ${events.length - failures.length} applied or skipped, ${failures.length} failed\n`,
      );
      return failures.length > 0 ? EXIT.someFailed : EXIT.ok;
    } finally {
      target.close();
    }
  },
};
