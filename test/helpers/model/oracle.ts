/**
 * The model's verdict on one case. The history is delivered with faults; whatever failed in that
 * run (recorded failures and dead-lettered messages) is then re-driven by the operator, with the
 * faults off, as SPEC §3.3 intends ("recorded as failed … for re-drive"). After that, Upheal (the
 * simulator's users) must mirror the partner's final state: nobody twice, nobody missing, the
 * right fields and provider lists, and every event ended applied (stale included) or failed —
 * failed only where the model says it must. In the faulty run: dead-lettered after the faults
 * exhausted the retries, or gave up waiting for a provider (which faults may hold up). In the
 * re-drive: gave up waiting for a dependency that never arrives (a provider absent from the final
 * state, or the ghost provider), and the final state must still be exact.
 *
 * Identity comes first: no Upheal account ever carries another partner user's changes (names
 * carry their user's id, so a name tells whose change it was), one account per partner user and
 * the reverse, and a pre-existing deactivated account is never touched. A partner user whose
 * email another account holds must fail (naming the other partner id, never the email) and
 * stay out of Upheal. An event dated far in the future must be refused with a reason naming
 * `occurredAt`. A field Upheal did not get is accepted only where the sync cannot set it and the
 * mapping lists it as unapplied.
 *
 * Returns the discrepancies found, as sentences with ids only, each prefixed with the rule it
 * breaks; empty means the case passed.
 */

import type { UserMapping } from '#lib/store/mapping-store.ts';
import { USER_TYPES } from '#tools/simulator/schemas.ts';
import type { SimUser } from '#tools/simulator/user-store.ts';
import type { DeliveryReport } from './delivery-model.ts';
import { blockedUsers, conflictFailure, identityBreaches, refusedForTime } from './identity.ts';
import { failuresOf, KNOWN_ISSUES } from './known-issues.ts';
import {
  type FinalUser,
  GHOST_CLIENT,
  GHOST_PROVIDER,
  type PartnerHistory,
  PROVIDERS,
} from './partner-history.ts';
import {
  unhealedUsers,
  WEBHOOK_WAIT_TEXT,
  type WebhookEvidence,
  webhookBreaches,
} from './webhook-rules.ts';

/** How `decide()` words a failure after a dependency wait ran out. */
const GAVE_UP = 'gave up waiting';

/** Everything the verdict looks at. */
export interface CaseEvidence {
  readonly history: PartnerHistory;
  /** The delivery of the history, then the operator's re-drive of what failed in it. */
  readonly report: DeliveryReport;
  readonly redrive: DeliveryReport;
  readonly simUsers: readonly SimUser[];
  /** The Upheal accounts that existed before the sync started (deactivated ones). */
  readonly seeded: readonly SimUser[];
  readonly mappings: ReadonlyMap<string, UserMapping>;
  /** Upheal's webhooks and what they left (feature uphealWebhooks), if on. */
  readonly webhooks?: WebhookEvidence | undefined;
}

/** One way the outcome differs from the model. */
export interface Discrepancy {
  /** The rule broken: a short name used to match known issues. */
  readonly rule:
    | 'ended'
    | 'failure'
    | 'twice'
    | 'absent'
    | 'missing'
    | 'fields'
    | 'mapping'
    | 'providers'
    | 'identity'
    | 'refused'
    | 'unreported'
    | 'heal';
  /** The partner user concerned, if one. */
  readonly user?: string | undefined;
  readonly text: string;
}

/** The verdict: discrepancies, and those explained by known issues. */
export interface Verdict {
  /** Discrepancies no known issue explains: the case fails if any. */
  readonly discrepancies: string[];
  /** Discrepancies explained by a known issue, prefixed with its id. */
  readonly known: string[];
  /** Email-less clients left unmapped, as allowed, because their webhook was lost. */
  readonly unhealed: number;
}

/** What the rules of one case share: the evidence, where discrepancies go, and derived facts. */
interface Judging {
  readonly evidence: CaseEvidence;
  note(rule: Discrepancy['rule'], user: string | undefined, text: string): void;
  /** Upheal users by their partner id. */
  readonly byPartnerId: ReadonlyMap<string, SimUser[]>;
  /** Partner users kept out of Upheal because another account holds their email. */
  readonly blocked: ReadonlySet<string>;
  /** Email-less clients left unmapped because their webhook was lost (`webhook-rules.ts`). */
  readonly unhealed: ReadonlySet<string>;
}

/** Checks one drained case against the partner's final state. */
export function judge(evidence: CaseEvidence): Verdict {
  const found: Discrepancy[] = [];
  const byPartnerId = new Map<string, SimUser[]>();
  for (const user of evidence.simUsers) {
    if (!user.partnerUserId) continue;
    byPartnerId.set(user.partnerUserId, [...(byPartnerId.get(user.partnerUserId) ?? []), user]);
  }
  const facts = {
    final: evidence.history.final,
    report: evidence.report,
    redrive: evidence.redrive,
    mappings: evidence.mappings,
    byPartnerId,
    failuresOf: (id: string) => failuresOf(evidence, id),
  };
  const judging: Judging = {
    evidence,
    note: (rule, user, text) => found.push({ rule, user, text }),
    byPartnerId,
    blocked: blockedUsers(evidence, byPartnerId),
    unhealed: evidence.webhooks ? unhealedUsers(facts, evidence.webhooks) : new Set(),
  };
  messageRules(judging);
  uniquenessRules(judging);
  if (evidence.webhooks) {
    for (const [rule, user, text] of webhookBreaches(facts, evidence.webhooks)) {
      judging.note(rule, user, text);
    }
  }
  for (const [id, expected] of evidence.history.final) finalStateRules(judging, id, expected);
  const discrepancies: string[] = [];
  const known: string[] = [];
  for (const discrepancy of found) {
    const issue = KNOWN_ISSUES.find((candidate) => candidate.matches(discrepancy, evidence));
    if (issue) known.push(`${issue.id}: ${discrepancy.text}`);
    else discrepancies.push(`[${discrepancy.rule}] ${discrepancy.text}`);
  }
  return { discrepancies, known, unhealed: judging.unhealed.size };
}

/** How a message is named in a discrepancy (ids only). */
const where = (message: { messageId: string; queue: string; group: string; eventId?: string }) =>
  `message ${message.messageId} (${message.queue}, group ${message.group}, event ${message.eventId ?? '-'})`;

/**
 * Every message ended; what failed was re-driven, and the re-drive fails only where the model
 * says it must; a far-future event is refused.
 */
function messageRules({ evidence, note, blocked, unhealed }: Judging): void {
  const { history, report } = evidence;
  // A provider that can never be in Upheal (its email is another account's) is a dependency
  // that never arrives, like one the partner deleted.
  const finalAbsent = (id: string) => history.final.get(id)?.present !== true || blocked.has(id);
  const allowedFailure = (message: { group: string; eventId?: string }, reason: string) =>
    refusedForTime(history, message.eventId, reason) ||
    conflictFailure(evidence, message.group, reason) ||
    // A webhook that never came: the create answered 409 waited for it in vain.
    (unhealed.has(message.group) && reason.includes(WEBHOOK_WAIT_TEXT));
  // 1. Every message ended; what failed was re-driven, and the re-drive fails only where the
  // model says it must.
  const { redrive } = evidence;
  for (const message of [...report.undelivered, ...redrive.undelivered]) {
    note(
      'ended',
      message.group,
      `message ${message.messageId} (${message.queue}, group ${message.group}) never left the queue`,
    );
  }
  for (const run of [report, redrive]) {
    for (const [messageId, terminal] of run.terminals) {
      if (terminal.kind !== 'dead-lettered-by-sqs') continue;
      note(
        'ended',
        run.messages.get(messageId)!.group,
        `${where(run.messages.get(messageId)!)} was moved to the DLQ by SQS's redrive policy after ${terminal.receives} receives, with no failure record`,
      );
    }
  }
  // With faults, a message may exhaust its retries, or wait in vain for a provider the faults
  // held up; any other failure (a 4xx, a validation error) is a bug even if the re-drive heals it.
  for (const [messageId, terminal] of report.terminals) {
    if (terminal.kind !== 'failed' || terminal.deadLettered) continue;
    if (terminal.reason.startsWith(GAVE_UP)) continue;
    const message = report.messages.get(messageId)!;
    if (allowedFailure(message, terminal.reason)) continue;
    note('failure', message.group, `${where(message)} failed: ${terminal.reason}`);
  }
  // The re-drive runs without faults: dead-lettering there is never allowed.
  for (const [messageId, terminal] of redrive.terminals) {
    if (terminal.kind !== 'failed') continue;
    const message = redrive.messages.get(messageId)!;
    if (!terminal.deadLettered && allowedFailure(message, terminal.reason)) continue;
    if (
      terminal.deadLettered ||
      !dependencyNeverArrives(terminal.reason, message.group, finalAbsent)
    ) {
      note('failure', message.group, `${where(message)} failed: ${terminal.reason}`);
    }
  }
  const endedEvents = new Set<string>();
  for (const run of [report, redrive]) {
    for (const [messageId] of run.terminals) {
      const message = run.messages.get(messageId)!;
      if (message.queue !== 'assignments' && message.eventId) endedEvents.add(message.eventId);
    }
  }
  for (const event of [...history.events, ...(history.export?.events ?? [])]) {
    if (!endedEvents.has(event.eventId)) {
      note(
        'ended',
        event.partnerUserId,
        `event ${event.eventId} (${event.partnerUserId}) never ended`,
      );
    }
  }

  // A far-future event is refused, never applied (in the run or the re-drive).
  for (const run of [report, redrive]) {
    for (const [messageId, terminal] of run.terminals) {
      const message = run.messages.get(messageId)!;
      if (terminal.kind === 'applied' && message.eventId && history.refused.has(message.eventId)) {
        note(
          'refused',
          message.group,
          `${where(message)} is dated far in the future but was applied (${terminal.outcome}); it must be refused`,
        );
      }
    }
  }
}

/** Nobody twice, nobody unknown, nobody carrying another's changes. */
function uniquenessRules({ evidence, note, byPartnerId }: Judging): void {
  const { history, simUsers } = evidence;
  for (const text of identityBreaches(evidence)) note('identity', undefined, text);
  const seededIds = new Set(evidence.seeded.map((user) => user.userId));
  const byEmail = new Map<string, SimUser[]>();
  for (const user of simUsers) {
    if (seededIds.has(user.userId)) continue;
    if (!user.partnerUserId || !history.final.has(user.partnerUserId)) {
      note('twice', undefined, `Upheal user ${user.userId} belongs to no partner user`);
      continue;
    }
    if (user.email) {
      const key = user.email.trim().toLowerCase();
      byEmail.set(key, [...(byEmail.get(key) ?? []), user]);
    }
  }
  for (const [id, users] of byPartnerId) {
    if (users.length > 1) note('twice', id, `${id} is in Upheal ${users.length} times`);
  }
  for (const [, users] of byEmail) {
    if (users.length > 1) {
      note(
        'twice',
        undefined,
        `one email is on ${users.length} Upheal users (${users.map((u) => u.partnerUserId).join(', ')})`,
      );
    }
  }
}

/** One partner user's final state against Upheal and its mapping. */
function finalStateRules(judging: Judging, id: string, expected: FinalUser): void {
  const { evidence, note, byPartnerId, blocked, unhealed } = judging;
  const { mappings } = evidence;
  // Its webhook was lost: its Upheal account stays unmapped, whatever the partner did since.
  if (unhealed.has(id)) return;
  const [actual] = byPartnerId.get(id) ?? [];
  const mapping = mappings.get(id);
  const reachable = expected.present && id !== GHOST_CLIENT;
  if (!reachable) {
    if (actual) note('absent', id, `${id} should not be in Upheal but is`);
    if (mapping?.state === 'active') note('mapping', id, `${id}'s mapping is active`);
    return;
  }
  const primary = expected.fields?.providers?.[0] ?? '';
  const primaryBlocked = blocked.has(primary);
  // A client waits for its primary provider before its email is checked: when both are blocked,
  // a failure naming the provider it waited for is the reason it gets (the email's comes once the
  // provider is in Upheal).
  const waitedForPrimary =
    primaryBlocked && failuresOf(evidence, id).some((reason) => reason.includes(` ${primary} `));
  if (!actual && blocked.has(id) && !waitedForPrimary) {
    if (!failuresOf(evidence, id).some((reason) => conflictFailure(evidence, id, reason))) {
      note(
        'identity',
        id,
        `${id} is not in Upheal because another account holds its email, but none of its messages failed naming why (the other partner id, or the deactivated account)`,
      );
    }
    return;
  }
  if (!actual && primaryBlocked) return;
  if (!actual) {
    note('missing', id, `${id} is missing from Upheal`);
    return;
  }
  const fields = expected.fields!;
  const userType = expected.kind === 'provider' ? USER_TYPES.provider : USER_TYPES.client;
  if (actual.userType !== userType) note('fields', id, `${id} is a ${actual.userType} in Upheal`);
  if (actual.firstName !== fields.firstName || actual.lastName !== fields.lastName) {
    note(
      'fields',
      id,
      `${id}'s name in Upheal is "${actual.firstName} ${actual.lastName}", the partner has "${fields.firstName} ${fields.lastName}"`,
    );
  }
  const unapplied = (field: string) => mapping?.unappliedFields?.includes(field) ?? false;
  // A licence the partner sets must reach Upheal; a cleared one may stay if it is reported.
  if (
    expected.kind === 'provider' &&
    actual.therapyLicence !== fields.therapyLicence &&
    !(fields.therapyLicence === undefined && unapplied('therapyLicence'))
  ) {
    note(
      fields.therapyLicence === undefined ? 'unreported' : 'fields',
      id,
      `${id}'s licence in Upheal is ${actual.therapyLicence}, the partner has ${fields.therapyLicence ?? 'none (cleared)'}, and the mapping does not list it as unapplied`,
    );
  }
  if (expected.kind === 'provider' && actual.pronoun !== fields.pronoun && !unapplied('pronoun')) {
    note(
      'unreported',
      id,
      `${id}'s pronoun in Upheal is ${actual.pronoun ?? 'none'}, the partner has ${fields.pronoun ?? 'none (cleared)'}, and the mapping does not list it as unapplied`,
    );
  }
  // Upheal cannot change an email: it keeps one the user had, and the mapping
  // says the partner's current one was not applied exactly when they differ.
  // An email-less client (uphealWebhooks) has none in Upheal either.
  const emailKnown =
    expected.emails.length === 0
      ? actual.email === undefined
      : actual.email !== undefined && expected.emails.includes(actual.email);
  if (!emailKnown) {
    note('fields', id, `${id}'s email in Upheal is none the partner ever gave it`);
  }
  if (mapping?.state !== 'active' || mapping.uphealUserId !== actual.userId) {
    note('mapping', id, `${id}'s mapping is not active on Upheal user ${actual.userId}`);
  } else {
    const emailDiffers = actual.email !== fields.email;
    const reported = mapping.unappliedFields?.includes('email') ?? false;
    if (emailDiffers !== reported) {
      note(
        'mapping',
        id,
        `${id}: Upheal's email ${emailDiffers ? 'differs from' : 'equals'} the partner's, but the mapping ${reported ? 'lists' : 'does not list'} email as unapplied`,
      );
    }
  }
  providerListRule(judging, id, expected, actual);
}

/** A client's provider list in Upheal equals the partner's, in order (primary first). */
function providerListRule(
  { evidence, note, byPartnerId, blocked }: Judging,
  id: string,
  expected: FinalUser,
  actual: SimUser,
): void {
  const fields = expected.fields!;
  const uphealIdOf = (partnerId: string) => byPartnerId.get(partnerId)?.[0]?.userId;
  const { simUsers } = evidence;
  if (expected.kind === 'client' && !fields.providers?.some((provider) => blocked.has(provider))) {
    const wanted = (fields.providers ?? []).map(
      (provider) => uphealIdOf(provider) ?? `?${provider}`,
    );
    const have = actual.providerUserIds ?? [];
    if (wanted.join(',') !== have.join(',')) {
      const names = (ids: readonly string[]) =>
        ids.map((uid) => simUsers.find((u) => u.userId === uid)?.partnerUserId ?? uid).join(',');
      note(
        'providers',
        id,
        `${id}'s providers in Upheal are [${names(have)}], the partner wants [${(fields.providers ?? []).join(',')}]`,
      );
    }
  }
}

/**
 * True when a failure is a wait for a dependency that never came: the ghost provider, a provider
 * the partner deleted for good, or one whose own message was dead-lettered (`absent` says which).
 */
function dependencyNeverArrives(
  reason: string,
  group: string,
  absent: (id: string) => boolean,
): boolean {
  if (!reason.startsWith(GAVE_UP)) return false;
  if (group === GHOST_CLIENT && reason.includes(GHOST_PROVIDER)) return true;
  return PROVIDERS.some(
    (provider) => new RegExp(`\\b${provider}\\b`).test(reason) && absent(provider),
  );
}
