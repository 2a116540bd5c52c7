/**
 * SQS adapter of the AssignmentQueue port: one FIFO message per reconciliation request, grouped
 * by the client's partner id so one client's requests are applied in order.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import * as z from 'zod';
import { sqsDigestDeduplicationId, sqsGroupId } from '#lib/sqs/message-ids.ts';
import type { AssignmentQueue, OutcomeCause } from '#lib/sync/ports.ts';

/** The body of an assignment command. */
export const AssignmentCommandSchema = z.strictObject({
  clientPartnerUserId: z.string().min(1),
  eventId: z.string().optional(),
  jobId: z.string().optional(),
});

/** An assignment command. */
export type AssignmentCommand = z.infer<typeof AssignmentCommandSchema>;

/** Sends assignment commands to the assignments queue. */
export class SqsAssignmentQueue implements AssignmentQueue {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
  }

  async enqueue(clientPartnerUserId: string, cause: OutcomeCause): Promise<void> {
    const command: AssignmentCommand = {
      clientPartnerUserId,
      eventId: cause.eventId,
      jobId: cause.jobId,
    };
    // A redelivered cause sends the same deduplication id, so SQS drops the copy (5-minute
    // window); a later copy is harmless: assign-providers makes no call for an equal list.
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: JSON.stringify(command),
        MessageGroupId: sqsGroupId(clientPartnerUserId),
        MessageDeduplicationId: sqsDigestDeduplicationId([
          clientPartnerUserId,
          cause.eventId ?? '',
          cause.jobId ?? '',
        ]),
      }),
    );
  }
}
