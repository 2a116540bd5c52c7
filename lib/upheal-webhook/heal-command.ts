/**
 * The message the webhook function puts on the Upheal-webhooks queue for each user-created event
 * that names a partner user: ids only, so nothing clinical rests in SQS. Grouped by partner user
 * id (one user's webhooks are applied in order), deduplicated on the digest of the webhook body.
 */
import * as z from 'zod';
import { parseWith } from '#lib/events/validation.ts';
import { USER_KINDS } from '#lib/store/mapping-store.ts';

/** A user created in Upheal, as the healer receives it. */
export const HealCommandSchema = z.strictObject({
  type: z.literal('user.created'),
  partnerUserId: z.string().min(1),
  uphealUserId: z.string().min(1),
  userKind: z.enum([USER_KINDS.provider, USER_KINDS.client]).optional(),
  /** When the webhook reached us (ISO-8601). */
  receivedAt: z.iso.datetime(),
});

/** One heal command. */
export type HealCommand = z.infer<typeof HealCommandSchema>;

/** Parses a queue message body, naming the field at fault. */
export function parseHealCommand(body: string, location: string): HealCommand {
  let decoded: unknown;
  try {
    decoded = JSON.parse(body);
  } catch {
    decoded = body;
  }
  return parseWith(HealCommandSchema, decoded, location);
}
