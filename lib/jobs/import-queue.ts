/**
 * The bulk lane's input: import rows as partner events on the import FIFO queue, consumed by
 * `sync-user` (lib/sync/record-work.ts). Each message is a `provider.created`/`client.created`
 * event with the row's fields, grouped by partner user id, deduplicated on job and line (a resumed
 * fan-out that re-sends a row within five minutes is dropped by SQS), and tagged with the
 * `jobId`/`line` attributes sync-user reports its outcome and any failure under, and the job's
 * `mode` attribute (how sync-user creates the row's user when it has no mapping).
 */
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { EVENT_TYPES, type PartnerEvent } from '#lib/events/partner-event.ts';
import type { ImportMode } from '#lib/import/import-mode.ts';
import type { ImportRecord } from '#lib/import/import-record.ts';
import { sqsDigestDeduplicationId, sqsGroupId } from '#lib/sqs/message-ids.ts';
import { IMPORT_ATTRIBUTES } from '#lib/sync/record-work.ts';

/** SendMessageBatch takes at most 10 entries. */
export const SQS_BATCH_LIMIT = 10;
/** Rounds of re-sending the entries SQS reported as failed before giving up (and retrying later). */
const FAILED_ENTRY_ROUNDS = 3;

/** One valid row to enqueue. */
export interface ImportMessage {
  readonly line: number;
  readonly record: ImportRecord;
}

/** Sends import rows to sync-user. */
export interface ImportQueue {
  /**
   * Sends up to SQS_BATCH_LIMIT rows of `jobId` as events that occurred at `occurredAt`, tagged
   * with the job's `mode` (none: sync-user checks first).
   */
  sendBatch(
    jobId: string,
    occurredAt: string,
    rows: readonly ImportMessage[],
    mode?: ImportMode,
  ): Promise<void>;
}

/** The event id of a job's row: stable, so a re-sent row is the same event. */
export function importEventId(jobId: string, line: number): string {
  return `import-${jobId}-${line}`;
}

/** The partner event an import row becomes (an upsert: `created` of a known user updates it). */
export function importEvent(jobId: string, occurredAt: string, row: ImportMessage): PartnerEvent {
  const base = {
    eventId: importEventId(jobId, row.line),
    occurredAt,
    partnerUserId: row.record.partnerUserId,
  };
  return row.record.kind === 'provider'
    ? { ...base, type: EVENT_TYPES.providerCreated, data: row.record.fields }
    : { ...base, type: EVENT_TYPES.clientCreated, data: row.record.fields };
}

/** The deduplication id of a job's row: a hash of job id and line. */
export function importDeduplicationId(jobId: string, line: number): string {
  return sqsDigestDeduplicationId([jobId, String(line)]);
}

/** The import FIFO queue. */
export class SqsImportQueue implements ImportQueue {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
  }

  async sendBatch(
    jobId: string,
    occurredAt: string,
    rows: readonly ImportMessage[],
    mode?: ImportMode,
  ): Promise<void> {
    if (rows.length > SQS_BATCH_LIMIT) {
      throw new RangeError(`at most ${SQS_BATCH_LIMIT} rows per batch`);
    }
    let entries = rows.map((row) => ({
      Id: String(row.line),
      MessageBody: JSON.stringify(importEvent(jobId, occurredAt, row)),
      MessageGroupId: sqsGroupId(row.record.partnerUserId),
      MessageDeduplicationId: importDeduplicationId(jobId, row.line),
      MessageAttributes: {
        [IMPORT_ATTRIBUTES.jobId]: { DataType: 'String', StringValue: jobId },
        [IMPORT_ATTRIBUTES.line]: { DataType: 'String', StringValue: String(row.line) },
        ...(mode ? { [IMPORT_ATTRIBUTES.mode]: { DataType: 'String', StringValue: mode } } : {}),
      },
    }));
    for (let round = 0; entries.length > 0; round += 1) {
      if (round === FAILED_ENTRY_ROUNDS) {
        // Thrown to the consumer: the control message is retried and resumes from the cursor.
        throw new Error(`import queue refused ${entries.length} entries of job ${jobId}`);
      }
      const { Failed } = await this.#sqs.send(
        new SendMessageBatchCommand({ QueueUrl: this.#queueUrl, Entries: entries }),
      );
      const failedIds = new Set((Failed ?? []).map((failure) => failure.Id));
      entries = entries.filter((entry) => failedIds.has(entry.Id));
    }
  }
}
