/**
 * Sending many partner events to `ingest` the way its contract asks (docs/ingest.md): split into
 * requests within the limits, sign each attempt afresh, resend what the endpoint did not accept
 * (503 `notAccepted`, other 5xx, network errors) with capped exponential backoff, and report every
 * event's fate by its position in the input. Safe to retry because the event id is the queue's
 * deduplication id.
 */
import * as z from 'zod';
import type { FieldIssue } from '#lib/errors.ts';
import { MAX_EVENTS_PER_REQUEST } from '#lib/ingest/ingest-events.ts';
import { type PostEventsOptions, postSigned } from '#lib/ingest/send.ts';

/** Defaults of `sendEvents`. */
export const SEND_DEFAULTS = {
  /** `INGEST_MAX_BODY_BYTES`' default. */
  maxBodyBytes: 1_048_576,
  maxAttempts: 5,
  baseDelayMs: 200,
  maxDelayMs: 5_000,
} as const;

/** Bytes of `[` and `]` around a request's events, and of the comma between two. */
const ARRAY_OVERHEAD_BYTES = 2;
const SEPARATOR_BYTES = 1;

/** Statuses after which resending can help. */
const RETRYABLE_STATUS = { min: 500, max: 599 } as const;

/** What an event answer of ingest (202, 400, 503) carries; other fields are ignored. */
const EventsAnswerSchema = z.object({
  accepted: z.array(z.string()),
  rejected: z.array(
    z.object({
      index: z.number().int().nonnegative(),
      eventId: z.string().optional(),
      errors: z.array(z.object({ field: z.string(), reason: z.string() })),
    }),
  ),
  notAccepted: z
    .array(z.object({ index: z.number().int().nonnegative(), eventId: z.string() }))
    .optional(),
});

/** A refusal of a whole request (401, 405, 413, 415…). */
const ErrorAnswerSchema = z.object({ error: z.string() });

/** Where each input event ended up; indexes are positions in the input array. */
export interface SendEventsReport {
  /** Event ids on the queue. */
  readonly accepted: string[];
  /** Invalid events, with the fields at fault: sending them again will not help. */
  readonly rejected: { index: number; eventId?: string; errors: readonly FieldIssue[] }[];
  /** Events not delivered after every attempt (or refused with the whole request). */
  readonly failed: { index: number; reason: string }[];
}

/** Options of `sendEvents`. */
export interface SendEventsOptions extends Omit<PostEventsOptions, 'now'> {
  readonly maxEventsPerRequest?: number;
  readonly maxBodyBytes?: number;
  readonly maxAttempts?: number;
  readonly baseDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
}

/** Sends `events` in as many signed requests as the limits need; never throws for an HTTP answer. */
export async function sendEvents(
  url: string,
  secret: string | readonly string[],
  events: readonly unknown[],
  options: SendEventsOptions = {},
): Promise<SendEventsReport> {
  const report: SendEventsReport = { accepted: [], rejected: [], failed: [] };
  const maxBodyBytes = options.maxBodyBytes ?? SEND_DEFAULTS.maxBodyBytes;
  const serialised = events.map((event) => JSON.stringify(event));
  const repeated = repeatedEventIds(events);
  const sendable: number[] = [];
  serialised.forEach((text, index) => {
    const shared = repeated.get(index);
    if (shared) {
      // Sent in different requests, all but one would be dropped by deduplication unseen.
      const reason = `is used by more than one event (events ${shared.join(', ')})`;
      report.rejected.push({
        index,
        eventId: eventIdOf(events[index]),
        errors: [{ field: 'eventId', reason }],
      });
    } else if (Buffer.byteLength(text) + ARRAY_OVERHEAD_BYTES > maxBodyBytes) {
      // An array of one event is the smallest body that can carry it.
      report.failed.push({ index, reason: 'event larger than the body limit' });
    } else {
      sendable.push(index);
    }
  });
  const chunks = chunkIndexes(
    sendable,
    serialised,
    options.maxEventsPerRequest ?? MAX_EVENTS_PER_REQUEST,
    maxBodyBytes,
  );
  for (const chunk of chunks) await sendChunk(url, secret, chunk, serialised, options, report);
  report.failed.sort((a, b) => a.index - b.index);
  report.rejected.sort((a, b) => a.index - b.index);
  return report;
}

/** The event's `eventId` when it is a string. */
function eventIdOf(event: unknown): string | undefined {
  if (typeof event !== 'object' || event === null || !('eventId' in event)) return undefined;
  return typeof event.eventId === 'string' ? event.eventId : undefined;
}

/** For each event whose string eventId another event shares: the positions of all of them. */
function repeatedEventIds(events: readonly unknown[]): Map<number, number[]> {
  const positions = new Map<string, number[]>();
  events.forEach((event, index) => {
    const eventId = eventIdOf(event);
    if (eventId !== undefined) positions.set(eventId, [...(positions.get(eventId) ?? []), index]);
  });
  const repeated = new Map<number, number[]>();
  for (const shared of positions.values()) {
    if (shared.length > 1) for (const index of shared) repeated.set(index, shared);
  }
  return repeated;
}

/** Sends one chunk, resending what was not accepted until it is or attempts run out. */
async function sendChunk(
  url: string,
  secret: string | readonly string[],
  chunk: readonly number[],
  serialised: readonly string[],
  options: SendEventsOptions,
  report: SendEventsReport,
): Promise<void> {
  const maxAttempts = options.maxAttempts ?? SEND_DEFAULTS.maxAttempts;
  const baseDelayMs = options.baseDelayMs ?? SEND_DEFAULTS.baseDelayMs;
  const sleep = options.sleep ?? ((ms: number) => new Promise((done) => setTimeout(done, ms)));
  let pending = [...chunk];
  let reason = 'not sent';
  for (let attempt = 1; attempt <= maxAttempts && pending.length > 0; attempt++) {
    if (attempt > 1) {
      await sleep(Math.min(baseDelayMs * 2 ** (attempt - 2), SEND_DEFAULTS.maxDelayMs));
    }
    const body = `[${pending.map((index) => serialised[index]).join(',')}]`;
    let status: number;
    let answer: unknown;
    try {
      // Each attempt is signed afresh: the same signed request twice would be refused as a replay.
      const result = await postSigned(url, secret, body, {
        ...options,
        now: (options.now ?? Date.now)(),
      });
      status = result.status;
      answer = result.body;
    } catch (error) {
      // The error's code (ECONNREFUSED, HEADERS_TIMEOUT, …) says more than its class name.
      const code = (error as { code?: unknown } | undefined)?.code;
      const name = error instanceof Error ? error.name : 'unknown error';
      reason = `request failed: ${typeof code === 'string' ? code : name}`;
      continue;
    }
    const events = EventsAnswerSchema.safeParse(answer);
    if (events.success) {
      // Positions in the answer are positions in this attempt's body.
      report.accepted.push(...events.data.accepted);
      for (const rejected of events.data.rejected) {
        const index = pending[rejected.index];
        if (index === undefined) continue;
        report.rejected.push({ ...rejected, index });
      }
      const retry = new Set((events.data.notAccepted ?? []).map((entry) => entry.index));
      pending = pending.filter((_, position) => retry.has(position));
      reason = `status ${status}: not accepted`;
      continue;
    }
    const error = ErrorAnswerSchema.safeParse(answer);
    reason = `status ${status}${error.success ? `: ${error.data.error}` : ''}`;
    if (status < RETRYABLE_STATUS.min || status > RETRYABLE_STATUS.max) break;
  }
  for (const index of pending) report.failed.push({ index, reason });
}

/** Groups indexes, in order, into requests of at most `maxEvents` and `maxBodyBytes` (as an array). */
export function chunkIndexes(
  indexes: readonly number[],
  serialised: readonly string[],
  maxEvents: number,
  maxBodyBytes: number,
): number[][] {
  const chunks: number[][] = [];
  let current: number[] = [];
  let bytes = ARRAY_OVERHEAD_BYTES;
  for (const index of indexes) {
    const eventBytes = Buffer.byteLength(serialised[index]!);
    const full =
      current.length === maxEvents || bytes + SEPARATOR_BYTES + eventBytes > maxBodyBytes;
    if (current.length > 0 && full) {
      chunks.push(current);
      current = [];
      bytes = ARRAY_OVERHEAD_BYTES;
    }
    bytes += eventBytes + (current.length > 0 ? SEPARATOR_BYTES : 0);
    current.push(index);
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
