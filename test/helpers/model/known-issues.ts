/**
 * Bugs of the sync core the model has found (docs/testing.md, "Bugs found by the model"), each
 * recognised by the discrepancies it leaves. Strict runs (the default) fail on them like on any
 * discrepancy; `MODEL_STRICT=0` only counts them and prints the first case of each.
 */
import type { CaseEvidence, Discrepancy } from './oracle.ts';
import { PROVIDERS } from './partner-history.ts';

/**
 * A bug of the sync core the model has found and that is not fixed yet: its discrepancies are
 * reported (and counted) but do not fail the run unless MODEL_STRICT is set. Each is described
 * in docs/testing.md with a seed that shows it.
 */
export interface KnownIssue {
  readonly id: string;
  readonly summary: string;
  matches(discrepancy: Discrepancy, evidence: CaseEvidence): boolean;
}

/** The known issues (see docs/testing.md, "Bugs found by the model"). */
export const KNOWN_ISSUES: readonly KnownIssue[] = [
  {
    id: 'concurrent-events-ignore-version',
    summary:
      "two events of one user run at once (the import and the live queue are separate message groups); the one that loses the race on the mapping write re-reads and writes again without re-checking the version, and its Upheal call went out regardless: an older create resurrects a newer delete's tombstone, an older update's fields win in Upheal",
    matches(discrepancy, evidence) {
      const user = discrepancy.user;
      if (!user || !['fields', 'absent', 'mapping'].includes(discrepancy.rule)) return false;
      const queues = new Set(
        [...evidence.report.messages.values()]
          .filter((message) => message.group === user)
          .map((message) => message.queue),
      );
      return (
        evidence.report.concurrentGroups.has(user) &&
        queues.has('imports') &&
        queues.has('user-events')
      );
    },
  },
  {
    id: 'half-done-delete',
    summary:
      'a delete took effect in Upheal but its tombstone is not written yet (the worker died, the answer was a 5xx, or it is still running); meanwhile a client create naming the provider (400) or an assignment naming the provider or client (400/404) fails for good instead of waiting',
    matches(discrepancy, evidence) {
      if (discrepancy.rule !== 'failure') return false;
      const dependent =
        /(createClient|replaceProviders|updateUser|updateProvider): HTTP 40[04]/.test(
          discrepancy.text,
        );
      return dependent && evidence.history.events.some((event) => event.type === 'user.deleted');
    },
  },
  {
    id: 'orphan-blocks-create',
    summary:
      'an Upheal user was created but its mapping never written, and the next event of the user carries another email (or the import and live queues raced): the check by email misses it, the create answers 409/400 for the partner id, and the user can no longer be synced',
    matches(discrepancy, evidence) {
      if (!discrepancy.user) return false;
      return failuresOf(evidence, discrepancy.user).some((reason) =>
        /(createClient: HTTP 409|createProvider: HTTP 400|createProvider: HTTP 409)/.test(reason),
      );
    },
  },
  {
    id: 'link-keeps-stale-fields',
    summary:
      "an attempt created the Upheal user and died before the mapping write (or its event was superseded); a later event finds it by email and links it, taking Upheal's fields as the baseline, so the event's own names are never sent",
    matches(discrepancy, evidence) {
      if (discrepancy.rule !== 'fields' || !discrepancy.user) return false;
      return outcomesOf(evidence, discrepancy.user).includes('linked');
    },
  },
  {
    id: 'orphan-after-delete',
    summary:
      'a create took effect in Upheal but its mapping was never written (the worker died, or the import and live queues ran it beside the delete); the delete found no mapping, deleted nothing, and its tombstone made the retry stale: the user stays in Upheal',
    matches(discrepancy, evidence) {
      if (discrepancy.rule !== 'absent' || !discrepancy.user) return false;
      return evidence.mappings.get(discrepancy.user)?.state === 'deleted';
    },
  },
  {
    id: 'client-create-400-provider-gone',
    summary:
      "a provider's delete took effect in Upheal but was answered 5xx, so its mapping stays active meanwhile; a client created with it as therapist is answered 400 and fails for good",
    matches(discrepancy, evidence) {
      if (discrepancy.rule !== 'failure') return false;
      const providerDeleted = evidence.history.events.some(
        (event) =>
          event.type === 'user.deleted' &&
          (PROVIDERS as readonly string[]).includes(event.partnerUserId),
      );
      return providerDeleted && discrepancy.text.includes('createClient: HTTP 400');
    },
  },
  {
    id: 'assignment-404-after-delete',
    summary:
      "the client's delete took effect in Upheal but was answered 5xx (its mapping still active) while its assignment was in flight; the replace answers 404 and becomes a failure record (and user.failed) instead of client-gone",
    matches(discrepancy, evidence) {
      if (discrepancy.rule !== 'failure' || !discrepancy.user) return false;
      return (
        discrepancy.text.includes('(assignments,') &&
        discrepancy.text.includes('replaceProviders: HTTP 404') &&
        evidence.mappings.get(discrepancy.user)?.state === 'deleted'
      );
    },
  },
  {
    id: 'lost-assignment-after-crash',
    summary:
      'a worker dies after the mapping write and before the assignment command is queued; the redelivery is stale and queues nothing',
    matches(discrepancy, evidence) {
      if (discrepancy.rule !== 'providers' || !discrepancy.user) return false;
      const mapping = evidence.mappings.get(discrepancy.user);
      const wanted = evidence.history.final.get(discrepancy.user)?.fields?.providers ?? [];
      return (
        (evidence.report.crashedGroups.has(discrepancy.user) ||
          evidence.redrive.crashedGroups.has(discrepancy.user)) &&
        mapping?.desiredProviders?.join(',') === wanted.join(',') &&
        mapping.assignedPartnerProviders?.join(',') !== wanted.join(',')
      );
    },
  },
  {
    id: 'recreate-drops-provider-list',
    summary:
      'a re-create over a tombstone whose provider list (from a newer client.providers_changed) is newer than the event ignores both lists: desiredProviders becomes undefined and no assignment is queued',
    matches(discrepancy, evidence) {
      if (discrepancy.rule !== 'providers' || !discrepancy.user) return false;
      const mapping = evidence.mappings.get(discrepancy.user);
      const deletedOnce = evidence.history.events.some(
        (event) => event.type === 'user.deleted' && event.partnerUserId === discrepancy.user,
      );
      return deletedOnce && mapping?.state === 'active' && mapping.desiredProviders === undefined;
    },
  },
  {
    id: 'provider-recreated-assignment-stale',
    summary:
      "a client was assigned a provider's earlier Upheal user, which a delete (applied late) removed; the provider's re-create has a new Upheal id, and nothing re-assigns the client because assignments are compared by partner ids",
    matches(discrepancy, evidence) {
      if (discrepancy.rule !== 'providers' || !discrepancy.user) return false;
      const mapping = evidence.mappings.get(discrepancy.user);
      const wanted = evidence.history.final.get(discrepancy.user)?.fields?.providers ?? [];
      const recreated = wanted.filter((provider) =>
        evidence.history.events.some(
          (event) => event.type === 'user.deleted' && event.partnerUserId === provider,
        ),
      );
      return (
        recreated.length > 0 && mapping?.assignedPartnerProviders?.join(',') === wanted.join(',')
      );
    },
  },
  {
    id: 'failed-replace-not-recorded',
    summary:
      'a provider-list replace took effect in Upheal but was answered 5xx (or timed out); the mapping still holds the previous list, so when the desired list returns to it assign-providers skips the call and Upheal keeps the failed call’s list',
    matches(discrepancy, evidence) {
      if (discrepancy.rule !== 'providers' || !discrepancy.user) return false;
      const mapping = evidence.mappings.get(discrepancy.user);
      const wanted = evidence.history.final.get(discrepancy.user)?.fields?.providers ?? [];
      const replaceFailed = [...evidence.report.messages.values()].some(
        (message) =>
          message.queue === 'assignments' &&
          message.group === discrepancy.user &&
          message.failures > 0,
      );
      return replaceFailed && mapping?.assignedPartnerProviders?.join(',') === wanted.join(',');
    },
  },
  {
    id: 'assignment-race',
    summary:
      'a new provider list is recorded while an assignment of the previous list is in flight; it is compared with the list Upheal had before (equal: nothing queued), then the in-flight assignment writes the previous list',
    matches(discrepancy, evidence) {
      if (discrepancy.rule !== 'providers' || !discrepancy.user) return false;
      const mapping = evidence.mappings.get(discrepancy.user);
      const wanted = evidence.history.final.get(discrepancy.user)?.fields?.providers ?? [];
      return (
        (evidence.report.concurrentGroups.has(discrepancy.user) ||
          evidence.redrive.concurrentGroups.has(discrepancy.user)) &&
        mapping?.desiredProviders?.join(',') === wanted.join(',') &&
        mapping.assignedPartnerProviders?.join(',') !== wanted.join(',')
      );
    },
  },
];

/** The reasons of every failure of a user's messages, in both runs. */
export function failuresOf(evidence: CaseEvidence, partnerUserId: string): string[] {
  return [evidence.report, evidence.redrive].flatMap((run) =>
    [...run.terminals].flatMap(([messageId, terminal]) =>
      terminal.kind === 'failed' && run.messages.get(messageId)?.group === partnerUserId
        ? [terminal.reason]
        : [],
    ),
  );
}

/** The outcomes of every applied delivery of a user's messages, in both runs. */
function outcomesOf(evidence: CaseEvidence, partnerUserId: string): string[] {
  return [evidence.report, evidence.redrive].flatMap((run) =>
    [...run.terminals].flatMap(([messageId, terminal]) =>
      terminal.kind === 'applied' && run.messages.get(messageId)?.group === partnerUserId
        ? [terminal.outcome]
        : [],
    ),
  );
}
