/**
 * The control messages of import jobs on the import-control FIFO queue (consumed by
 * `initial-sync`, batch size 1, grouped by job id so one job's steps run in order):
 * - `start`: sent by the CLI (or an operator) to begin a job, or to resume it with the same id;
 * - `continue`: sent by `initial-sync` to itself when an invocation's time runs low mid planning
 *   or mid fan-out;
 * - `start-clients`: sent by the ledger, exactly once, when the last provider has settled.
 */
import { randomUUID } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { ValidationError } from '#lib/errors.ts';
import { parseWith } from '#lib/events/validation.ts';
import { IMPORT_FORMATS } from '#lib/import/format.ts';
import { ImportModeSchema } from '#lib/import/import-mode.ts';
import { JOB_PHASES } from '#lib/jobs/job.ts';
import { sqsDigestDeduplicationId, sqsGroupId } from '#lib/sqs/message-ids.ts';

/** Control message types. */
export const CONTROL_TYPES = {
  start: 'start',
  continue: 'continue',
  startClients: 'start-clients',
} as const;

/** Longest job id: ids become part of event ids (128 characters at most) and S3 keys. */
export const MAX_JOB_ID_LENGTH = 64;

/** A job id: letters, digits, `-` and `_`, so it is safe in event ids, keys and S3 object names. */
export const JobIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]+$/, { message: 'must use only letters, digits, - and _' })
  .min(1)
  .max(MAX_JOB_ID_LENGTH);

/** Where the rows are: an S3 object, or (small imports) the records themselves. */
const SourceSchema = z.union([
  z.strictObject({ bucket: z.string().min(1), key: z.string().min(1) }),
  z.strictObject({ records: z.array(z.record(z.string(), z.unknown())) }),
]);

/** `start`: begin (or resume) job `jobId` over `source` in `format`. */
const StartSchema = z.strictObject({
  type: z.literal(CONTROL_TYPES.start),
  jobId: JobIdSchema,
  source: SourceSchema,
  /** The file's format; default: inline records are NDJSON, an object's key extension decides. */
  format: z.enum([IMPORT_FORMATS.ndjson, IMPORT_FORMATS.csv]).optional(),
  dryRun: z.boolean().optional(),
  /** How new users are created (lib/import/import-mode.ts); default check-first. */
  mode: ImportModeSchema.optional(),
  /**
   * When the partner took the export; every row's event has this `occurredAt`. Absent: the file
   * must state it (lib/import/export-time.ts), or the job fails naming `exportedAt`.
   */
  exportedAt: z.iso.datetime({ offset: true }).optional(),
});

/** `continue`: go on planning, or fanning out `phase`, after line `cursor`. */
const ContinueSchema = z.strictObject({
  type: z.literal(CONTROL_TYPES.continue),
  jobId: JobIdSchema,
  phase: z.enum([JOB_PHASES.planning, JOB_PHASES.providers, JOB_PHASES.clients]),
  cursor: z.number().int().nonnegative(),
});

/** `start-clients`: every provider of the job is settled; fan out its clients. */
const StartClientsSchema = z.strictObject({
  type: z.literal(CONTROL_TYPES.startClients),
  jobId: JobIdSchema,
});

/** Any control message, discriminated on `type`. */
export const ControlMessageSchema = z.discriminatedUnion('type', [
  StartSchema,
  ContinueSchema,
  StartClientsSchema,
]);

/** A validated control message. */
export type ControlMessage = z.output<typeof ControlMessageSchema>;

/** The `start` message. */
export type StartMessage = z.output<typeof StartSchema>;

/** Validates one raw message body; errors name the field (`source.bucket`, `cursor`). */
export function parseControlMessage(body: string, location?: string): ControlMessage {
  let decoded: unknown;
  try {
    decoded = JSON.parse(body);
  } catch {
    throw new ValidationError([{ field: '(body)', reason: 'is not valid JSON' }], location);
  }
  return parseWith(ControlMessageSchema, decoded, location);
}

/** Sends control messages. */
export interface ControlQueue {
  send(message: ControlMessage): Promise<void>;
}

/** The import-control FIFO queue. */
export class SqsControlQueue implements ControlQueue {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
  }

  async send(message: ControlMessage): Promise<void> {
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: JSON.stringify(message),
        MessageGroupId: sqsGroupId(message.jobId),
        MessageDeduplicationId: controlDeduplicationId(message),
      }),
    );
  }
}

/**
 * The deduplication id of a control message: its step, not its delivery. Two workers announcing
 * the same `start-clients`, or a retried `continue` from the same cursor, collapse into one
 * message within SQS's five-minute deduplication interval. Every `start` is an operator's request
 * of its own (a resume must not be swallowed), so it is never deduplicated.
 */
export function controlDeduplicationId(message: ControlMessage): string {
  const step =
    message.type === CONTROL_TYPES.continue
      ? `${message.phase}:${message.cursor}`
      : message.type === CONTROL_TYPES.start
        ? randomUUID()
        : '';
  return sqsDigestDeduplicationId([message.type, message.jobId, step]);
}
