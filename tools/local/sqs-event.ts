/**
 * Lambda's SQS event source mapping contract, as pure functions: how received messages become an
 * `SQSEvent`, and which records a function's answer lets the mapping delete. Kept apart from the
 * polling loop so the contract is readable (and testable) on its own.
 */
import type { Message, MessageAttributeValue } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSMessageAttribute, SQSRecord, SQSRecordAttributes } from 'aws-lambda';
import { z } from 'zod';

/** `eventSource` of every SQS record Lambda delivers. */
export const SQS_EVENT_SOURCE = 'aws:sqs';

/** The system attributes Lambda copies into `record.attributes` (all that SQS returned). */
function recordAttributes(message: Message): SQSRecordAttributes {
  const attributes = message.Attributes ?? {};
  return {
    ...attributes,
    ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? '1',
    SentTimestamp: attributes.SentTimestamp ?? '',
    SenderId: attributes.SenderId ?? '',
    ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? '',
  };
}

/** SQS's attribute value (SDK casing, bytes) as Lambda spells it (camelCase, base64). */
function messageAttribute(value: MessageAttributeValue): SQSMessageAttribute {
  const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
  return {
    ...(value.StringValue === undefined ? {} : { stringValue: value.StringValue }),
    ...(value.BinaryValue === undefined ? {} : { binaryValue: base64(value.BinaryValue) }),
    stringListValues: value.StringListValues ?? [],
    binaryListValues: (value.BinaryListValues ?? []).map(base64),
    dataType: value.DataType ?? 'String',
  };
}

/** Builds the event Lambda passes for one received batch. */
export function toSqsEvent(
  messages: readonly Message[],
  queueArn: string,
  region: string,
): SQSEvent {
  return {
    Records: messages.map(
      (message): SQSRecord => ({
        messageId: message.MessageId ?? '',
        receiptHandle: message.ReceiptHandle ?? '',
        body: message.Body ?? '',
        attributes: recordAttributes(message),
        messageAttributes: Object.fromEntries(
          Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
            name,
            messageAttribute(value),
          ]),
        ),
        md5OfBody: message.MD5OfBody ?? '',
        ...(message.MD5OfMessageAttributes === undefined
          ? {}
          : { md5OfMessageAttributes: message.MD5OfMessageAttributes }),
        eventSource: SQS_EVENT_SOURCE,
        eventSourceARN: queueArn,
        awsRegion: region,
      }),
    ),
  };
}

/** A partial batch response, or nothing (`null`/`{}`: every record succeeded). */
const BatchResponseSchema = z
  .object({
    batchItemFailures: z.array(z.object({ itemIdentifier: z.string().min(1) })).nullish(),
  })
  .nullish();

/**
 * The records the mapping deletes after an invocation that returned `response`
 * (`ReportBatchItemFailures` semantics, AWS docs "Reporting batch item failures"):
 * no response, `null` or an empty `batchItemFailures` list → every record succeeded; a list of
 * ids from the batch → every other record succeeded; anything else (malformed, empty or unknown
 * `itemIdentifier`) → the whole batch failed and nothing is deleted.
 */
export function recordsToDelete(event: SQSEvent, response: unknown): SQSRecord[] {
  const parsed = BatchResponseSchema.safeParse(response);
  if (!parsed.success) return [];
  const failures = parsed.data?.batchItemFailures ?? [];
  const ids = new Set(event.Records.map((record) => record.messageId));
  if (failures.some((failure) => !ids.has(failure.itemIdentifier))) return [];
  const failed = new Set(failures.map((failure) => failure.itemIdentifier));
  return event.Records.filter((record) => !failed.has(record.messageId));
}
