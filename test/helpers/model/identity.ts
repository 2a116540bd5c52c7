/**
 * The identity rules of the oracle: no Upheal account ever carries another partner user's
 * changes, accounts and partner users are one to one, a deactivated account is never touched,
 * and a partner user whose email another account holds fails for a reason naming the other
 * partner id (never the email). Also the refusal of far-future events.
 */
import type { SimUser } from '#tools/simulator/user-store.ts';
import type { CaseEvidence } from './oracle.ts';
import type { FinalUser, PartnerHistory } from './partner-history.ts';

/**
 * Partner users present in the final state but not in Upheal because another account holds
 * their current email: another partner user's, or a deactivated account that existed before.
 */
export function blockedUsers(
  evidence: CaseEvidence,
  byPartnerId: ReadonlyMap<string, readonly SimUser[]>,
): Set<string> {
  const blocked = new Set<string>();
  for (const [id, expected] of evidence.history.final) {
    if (!expected.present || !expected.fields?.email || byPartnerId.has(id)) continue;
    const holder = evidence.simUsers.find(
      (user) => user.email === expected.fields!.email && user.partnerUserId !== id,
    );
    if (holder) blocked.add(id);
  }
  return blocked;
}

/**
 * True when a failure of `partnerUserId` is the one the identity rules demand: its email is
 * another partner user's (and the reason names that partner id) or a deactivated account's; the
 * reason never carries an email.
 */
export function conflictFailure(
  evidence: CaseEvidence,
  partnerUserId: string,
  reason: string,
): boolean {
  if (reason.includes('@')) return false;
  const mine = evidence.history.final.get(partnerUserId)?.emails ?? [];
  if (evidence.seeded.some((account) => account.email && mine.includes(account.email))) {
    return true;
  }
  return [...evidence.history.final.values()].some(
    (other) =>
      other.partnerUserId !== partnerUserId &&
      other.emails.some((email) => mine.includes(email)) &&
      new RegExp(`\\b${other.partnerUserId}\\b`).test(reason),
  );
}

/** True when the message carries an event the sync must refuse and the reason names the field. */
export function refusedForTime(
  history: PartnerHistory,
  eventId: string | undefined,
  reason: string,
): boolean {
  return eventId !== undefined && history.refused.has(eventId) && reason.includes('occurredAt');
}

/**
 * Every way an Upheal account carries another partner user's changes: a deactivated account
 * changed or mapped; a user with names or an email its partner user never had; a mapping on an
 * account of another partner user; two mappings on one account.
 */
export function identityBreaches(evidence: CaseEvidence): string[] {
  const breaches: string[] = [];
  const { history, simUsers, mappings, seeded } = evidence;
  const seeds = new Map(seeded.map((user) => [user.userId, user]));
  const whose = (has: (user: FinalUser) => boolean) =>
    [...history.final.values()]
      .filter(has)
      .map((user) => user.partnerUserId)
      .join(', ') || 'nobody';
  for (const user of simUsers) {
    const seed = seeds.get(user.userId);
    if (seed) {
      const changed: string[] = (
        ['firstName', 'lastName', 'email', 'isActive', 'partnerUserId'] as const
      ).filter((field) => user[field] !== seed[field]);
      if ((user.providerUserIds?.length ?? 0) > 0) changed.push('providerUserIds');
      if (changed.length > 0) {
        breaches.push(`deactivated account ${user.userId} was changed: ${changed.join(', ')}`);
      }
      continue;
    }
    const owner = user.partnerUserId ? history.final.get(user.partnerUserId) : undefined;
    if (!owner) continue;
    if (!owner.names.first.includes(user.firstName)) {
      breaches.push(
        `Upheal user ${user.userId} of ${owner.partnerUserId} has a first name ${owner.partnerUserId} never had (had by: ${whose((u) => u.names.first.includes(user.firstName))})`,
      );
    }
    if (!owner.names.last.includes(user.lastName)) {
      breaches.push(
        `Upheal user ${user.userId} of ${owner.partnerUserId} has a last name ${owner.partnerUserId} never had (had by: ${whose((u) => u.names.last.includes(user.lastName))})`,
      );
    }
    if (user.email && !owner.emails.includes(user.email)) {
      breaches.push(
        `Upheal user ${user.userId} of ${owner.partnerUserId} has an email ${owner.partnerUserId} never had (had by: ${whose((u) => u.emails.includes(user.email!))})`,
      );
    }
  }
  const mappedTo = new Map<string, string[]>();
  for (const [id, mapping] of mappings) {
    if (mapping.state !== 'active' || !mapping.uphealUserId) continue;
    mappedTo.set(mapping.uphealUserId, [...(mappedTo.get(mapping.uphealUserId) ?? []), id]);
    const target = simUsers.find((user) => user.userId === mapping.uphealUserId);
    if (seeds.has(mapping.uphealUserId)) {
      breaches.push(`${id}'s mapping links the deactivated account ${mapping.uphealUserId}`);
    } else if (target && target.partnerUserId !== id) {
      breaches.push(
        `${id}'s mapping is on Upheal user ${target.userId}, which belongs to ${target.partnerUserId ?? 'no partner user'}`,
      );
    }
  }
  for (const [uphealUserId, ids] of mappedTo) {
    if (ids.length > 1)
      breaches.push(`Upheal user ${uphealUserId} is mapped to ${ids.join(' and ')}`);
  }
  return breaches;
}
