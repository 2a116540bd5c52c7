/**
 * The oracle's rules for Upheal's webhooks (feature uphealWebhooks). A client without email
 * whose create took effect in Upheal while its answer was lost cannot be found by any check: only
 * the user-created webhook names it. So:
 *
 * - when a delivery of the webhook of its Upheal user reached the healer, the client ends mapped
 *   to that user (the final-state rules check the mapping) with no failure left that waited for
 *   the webhook (the healer clears it);
 * - when every delivery of it was lost, the client is "unhealed": it fails naming the webhook
 *   wait (the first run and the re-drive may both), and its Upheal account stays unmapped, which
 *   the final-state rules then accept;
 * - every heal command ends applied (it makes no Upheal call: faults cannot excuse a failure).
 */
import type { FailureRecord } from '#lib/store/failure-store.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import type { SimUser } from '#tools/simulator/user-store.ts';
import type { DeliveryReport } from './delivery-model.ts';
import type { FinalUser } from './partner-history.ts';

/** What a failure that waited for the webhook says (`AwaitingWebhookError`). */
export const WEBHOOK_WAIT_TEXT = "waiting for Upheal's user-created webhook";

/** What the webhook rules look at. */
export interface WebhookEvidence {
  /** Upheal user ids of which at least one heal command was queued. */
  readonly queued: ReadonlySet<string>;
  /** Failure records left after the re-drive. */
  readonly failureRecords: readonly FailureRecord[];
}

/** The facts of a case the rules need besides the webhook evidence. */
interface Facts {
  readonly final: ReadonlyMap<string, FinalUser>;
  readonly report: DeliveryReport;
  readonly redrive: DeliveryReport;
  readonly mappings: ReadonlyMap<string, UserMapping>;
  readonly byPartnerId: ReadonlyMap<string, readonly SimUser[]>;
  /** Failure reasons of a partner user's messages, both runs. */
  readonly failuresOf: (partnerUserId: string) => string[];
}

/** Whether a client of the final state never had an email (and so only a webhook heals it). */
const emailless = (user: FinalUser | undefined) =>
  user?.kind === 'client' && user.emails.length === 0;

/** The Upheal user of a partner id that its mapping does not hold, if any. */
function unmappedAccount(facts: Facts, id: string): SimUser | undefined {
  const [account] = facts.byPartnerId.get(id) ?? [];
  const mapping = facts.mappings.get(id);
  if (!account) return undefined;
  return mapping?.state === 'active' && mapping.uphealUserId === account.userId
    ? undefined
    : account;
}

/**
 * Email-less clients whose Upheal account is unmapped because its webhook never reached the
 * healer, and which failed naming the wait for it: the outcome the product promises then.
 */
export function unhealedUsers(facts: Facts, webhooks: WebhookEvidence): Set<string> {
  const unhealed = new Set<string>();
  for (const [id, user] of facts.final) {
    if (!emailless(user)) continue;
    const account = unmappedAccount(facts, id);
    if (!account || webhooks.queued.has(account.userId)) continue;
    if (facts.failuresOf(id).some((reason) => reason.includes(WEBHOOK_WAIT_TEXT))) {
      unhealed.add(id);
    }
  }
  return unhealed;
}

/** The webhook rules' discrepancies, as `[rule, user, text]`. */
export function webhookBreaches(
  facts: Facts,
  webhooks: WebhookEvidence,
): [rule: 'heal', user: string | undefined, text: string][] {
  const breaches: [rule: 'heal', user: string | undefined, text: string][] = [];
  for (const run of [facts.report, facts.redrive]) {
    for (const [messageId, terminal] of run.terminals) {
      const message = run.messages.get(messageId)!;
      if (message.queue !== 'upheal-webhooks' || terminal.kind === 'applied') continue;
      breaches.push([
        'heal',
        message.group,
        `heal command ${messageId} of ${message.group} did not apply: ${terminal.kind === 'failed' ? terminal.reason : 'moved to the DLQ by SQS'}`,
      ]);
    }
  }
  for (const [id, user] of facts.final) {
    if (!emailless(user)) continue;
    const [account] = facts.byPartnerId.get(id) ?? [];
    if (!account || !webhooks.queued.has(account.userId)) continue;
    if (unmappedAccount(facts, id) && user.present) {
      breaches.push([
        'heal',
        id,
        `${id}'s create took effect (Upheal user ${account.userId}) and its webhook reached the healer, but ${id} is not mapped to it`,
      ]);
    }
    const left = webhooks.failureRecords.filter(
      (record) => record.partnerUserId === id && record.reason.includes(WEBHOOK_WAIT_TEXT),
    );
    if (left.length > 0) {
      breaches.push([
        'heal',
        id,
        `${id}'s webhook (Upheal user ${account.userId}) reached the healer, but ${left.length} failure record(s) waiting for it are left: ${left[0]!.reason}`,
      ]);
    }
  }
  return breaches;
}
