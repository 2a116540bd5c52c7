/**
 * One Upheal account per partner user, and the reverse: whether an Upheal account found by email
 * may be linked to a partner user. Pure decisions; the caller makes the calls and acts on them.
 */
import type { UserKind, UserMapping } from '#lib/store/mapping-store.ts';
import type { CheckUserResult } from '#lib/upheal/client.ts';

/** Stable reason codes of an identity refusal (they end up in `user.failed`). */
export const IDENTITY_REASONS = {
  /** The account found by email is mapped to another partner user. */
  ownedByOther: 'email_owned_by_other_partner_user',
  /** The account found by email is deactivated in Upheal: updates to it would be refused. */
  deactivated: 'upheal_account_deactivated',
} as const;

/** One of IDENTITY_REASONS. */
export type IdentityReason = (typeof IDENTITY_REASONS)[keyof typeof IDENTITY_REASONS];

/** What to do with the answer of a check by email. */
export type MatchDecision =
  | { readonly action: 'create' }
  | { readonly action: 'link'; readonly uphealUserId: string }
  | { readonly action: 'refuse'; readonly code: IdentityReason; readonly detail: string };

/** What is known when a check by email has answered. */
export interface MatchInput {
  readonly partnerUserId: string;
  readonly kind: UserKind;
  readonly check: CheckUserResult;
  /** The mapping that holds the found account's Upheal id (the reverse index), if any. */
  readonly owner: UserMapping | undefined;
  /**
   * Partner users whose create was sent with the email the account was found by (their claims),
   * asked only when no mapping holds the account: when only other partner users sent one, one of
   * them made it (or is making it), and its mapping is not written yet.
   */
  readonly claimants?: readonly string[];
  /**
   * The check follows this partner user's own create, answered "duplicate": that create made
   * nothing, so its claim (written right before it, with this email) does not make the account
   * its own.
   */
  readonly afterRefusedCreate?: boolean;
}

/**
 * Decides between create, link and refusal. An account is linked only when no other partner
 * user holds it and it is active. Its kind is known only from a mapping (the check answer does
 * not say it), and an account mapped to another partner user is refused whatever its kind; an
 * account mapped to this partner user has its kind, which the caller has already compared.
 */
export function decideMatch(input: MatchInput): MatchDecision {
  const { check, owner, partnerUserId, kind } = input;
  if (!check.exists) return { action: 'create' };
  const uphealUserId = check.userId;
  if (owner && owner.partnerUserId !== partnerUserId) {
    return {
      action: 'refuse',
      code: IDENTITY_REASONS.ownedByOther,
      detail:
        `Upheal user ${uphealUserId}, found by the email of ${kind} ${partnerUserId}, ` +
        `belongs to ${owner.kind} ${owner.partnerUserId}`,
    };
  }
  // When this partner user's own create went out with the email too, the account may be its own
  // (a create whose answer was lost): it is not refused, and the reverse index keeps the second
  // of two such users out once the first is mapped. A create of its own that Upheal just refused
  // as a duplicate made nothing, so then only the others' claims count.
  const claimants = owner ? [] : (input.claimants ?? []);
  const mayBeOwn = claimants.includes(partnerUserId) && input.afterRefusedCreate !== true;
  const creator = mayBeOwn ? undefined : claimants.find((id) => id !== partnerUserId);
  if (creator !== undefined) {
    return {
      action: 'refuse',
      code: IDENTITY_REASONS.ownedByOther,
      detail:
        `Upheal user ${uphealUserId}, found by the email of ${kind} ${partnerUserId}, ` +
        `was created for partner user ${creator}`,
    };
  }
  if (check.isActive === false) {
    return {
      action: 'refuse',
      code: IDENTITY_REASONS.deactivated,
      detail: `Upheal user ${uphealUserId}, found by the email of ${kind} ${partnerUserId}, is deactivated`,
    };
  }
  return { action: 'link', uphealUserId };
}
