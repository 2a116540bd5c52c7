/**
 * The per-record work of `apply-upheal-webhook`: decode a heal command from the Upheal-webhooks
 * queue, apply it, and log what came of it with ids only.
 */
import type { SQSRecord } from 'aws-lambda';
import type { Logger } from '#lib/observability/logger.ts';
import type { RecordWork } from '#lib/sqs/consumer.ts';
import { type HealCommand, parseHealCommand } from '#lib/upheal-webhook/heal-command.ts';
import { type HealDeps, healCreatedUser } from '#lib/upheal-webhook/heal-created-user.ts';

/** The operation name of heal commands in failure records. */
export const HEAL_OPERATION = 'upheal-webhook.user.created';

/** What the heal work needs. */
export interface HealWorkDeps extends HealDeps {
  readonly logger: Logger;
}

/** The record work of the Upheal-webhooks queue. */
export function healWork(deps: HealWorkDeps): RecordWork {
  const decoded = new WeakMap<SQSRecord, HealCommand>();
  return {
    async run(record) {
      const command = parseHealCommand(record.body, `message ${record.messageId}`);
      decoded.set(record, command);
      const result = await healCreatedUser(command, deps);
      deps.logger.info('upheal webhook applied', { ...result });
    },
    describe(record) {
      const command = decoded.get(record);
      return { operation: HEAL_OPERATION, partnerUserId: command?.partnerUserId };
    },
  };
}
