/**
 * Outbound events: what the partner system learns back — Upheal ids, failures and,
 * when invite sharing is on, a created provider's `inviteUrl`. One JSON message per outcome on
 * the outbound FIFO queue, deduplicated on the outcome (type, user, cause), not on the delivery,
 * so a redelivered cause does not announce its outcome twice.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { sqsDigestDeduplicationId, sqsGroupId } from '#lib/sqs/message-ids.ts';

/** Outbound event types. */
export const OUTBOUND_TYPES = {
  linked: 'user.linked',
  created: 'user.created',
  updated: 'user.updated',
  deleted: 'user.deleted',
  failed: 'user.failed',
  providersAssigned: 'client.providers_assigned',
  importCompleted: 'import.completed',
} as const;

/** Fields every outbound event has. */
interface OutboundBase {
  /** The partner event that caused it, when one did. */
  readonly eventId?: string | undefined;
  /** The import job that caused it, when one did. */
  readonly jobId?: string | undefined;
  /** When the outcome happened (ISO-8601). */
  readonly occurredAt: string;
}

/** One outbound event. `inviteUrl` is a credential: sent to the partner, never logged or stored. */
export type OutboundEvent = OutboundBase &
  (
    | {
        readonly type: 'user.linked';
        readonly partnerUserId: string;
        readonly uphealUserId: string;
        /** Partner fields that did not reach the linked account (see `user.updated`). */
        readonly unappliedFields?: readonly string[] | undefined;
      }
    | {
        readonly type: 'user.created';
        readonly partnerUserId: string;
        readonly uphealUserId: string;
        readonly inviteUrl?: string | undefined;
        /** Partner fields that did not reach Upheal with the create (see `user.updated`). */
        readonly unappliedFields?: readonly string[] | undefined;
      }
    | {
        readonly type: 'user.updated';
        readonly partnerUserId: string;
        readonly uphealUserId: string;
        readonly changed: boolean;
        /**
         * Partner fields that did not reach Upheal: ones its endpoints cannot change (e.g.
         * `email`) that differ, and optional ones the partner cleared (Upheal cannot clear them).
         */
        readonly unappliedFields: readonly string[];
      }
    | {
        readonly type: 'user.deleted';
        readonly partnerUserId: string;
        readonly uphealUserId?: string | undefined;
      }
    | {
        readonly type: 'user.failed';
        readonly partnerUserId?: string | undefined;
        readonly operation: string;
        readonly status?: number | undefined;
        readonly reason: string;
      }
    | {
        readonly type: 'client.providers_assigned';
        readonly partnerUserId: string;
        readonly uphealUserId: string;
        readonly providerUserIds: readonly string[];
      }
    | { readonly type: 'import.completed'; readonly counts: Readonly<Record<string, number>> }
  );

/** Publishes outbound events. */
export interface OutboundPublisher {
  publish(event: OutboundEvent): Promise<void>;
}

/** Publishes nothing: for deployments without an outbound queue. */
export class NoOutbound implements OutboundPublisher {
  async publish(): Promise<void> {}
}

/** Publishes every event to each of several publishers (the queue, and the webhook's queue). */
export class FanOutPublisher implements OutboundPublisher {
  readonly #targets: readonly OutboundPublisher[];

  constructor(targets: readonly OutboundPublisher[]) {
    this.#targets = targets;
  }

  async publish(event: OutboundEvent): Promise<void> {
    await Promise.all(this.#targets.map((target) => target.publish(event)));
  }
}

/** Publishes to the outbound FIFO queue. */
export class SqsOutboundPublisher implements OutboundPublisher {
  readonly #sqs: SQSClient;
  readonly #queueUrl: string;

  constructor(sqs: SQSClient, queueUrl: string) {
    this.#sqs = sqs;
    this.#queueUrl = queueUrl;
  }

  async publish(event: OutboundEvent): Promise<void> {
    const subject =
      'partnerUserId' in event && event.partnerUserId
        ? event.partnerUserId
        : (event.jobId ?? 'product');
    await this.#sqs.send(
      new SendMessageCommand({
        QueueUrl: this.#queueUrl,
        MessageBody: JSON.stringify(event),
        // One partner user's outcomes in order.
        MessageGroupId: sqsGroupId(subject),
        MessageDeduplicationId: outcomeKey(event, subject),
      }),
    );
  }
}

/** The identity of an outcome: its type, its user (or job) and its cause. */
export function outcomeKey(event: OutboundEvent, subject: string): string {
  return sqsDigestDeduplicationId([event.type, subject, event.eventId ?? '', event.jobId ?? '']);
}
