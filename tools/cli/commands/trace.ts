/**
 * `upheal-sync trace PARTNER_ID`: what the system knows about one partner user, read-only: the
 * mapping (state, Upheal id, versions, last outcome, providers), a create in progress (its claim),
 * failure records of live events and of the latest import, a staged delete, what Upheal's last
 * user-created webhook said about the user and what came of it, and the depth of the
 * queues (SQS cannot list one user's messages without receiving them, which would delay them).
 * Ids, versions, field names and reasons only; never clinical data.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { QUEUES, type QueueKey } from '#infra/resources.ts';
import { ValidationError } from '#lib/errors.ts';
import { DynamoMappingStore } from '#lib/store/dynamo-mapping-store.ts';
import { DynamoFailureStore, type FailureRecord } from '#lib/store/failure-store.ts';
import { claimKey, mappingKey } from '#lib/store/keys.ts';
import { ITEM } from '#lib/store/mapping-item.ts';
import type { UserMapping, Version } from '#lib/store/mapping-store.ts';
import type { StagedDelete } from '#lib/sync/ports.ts';
import { DynamoStagedDeletes } from '#lib/sync/staged-deletes.ts';
import { DynamoHealStore, type WebhookTrace } from '#lib/upheal-webhook/heal-store.ts';
import { booleanFlag, parseFlags } from '#tools/cli/args.ts';
import { type CliCommand, EXIT, processContext } from '#tools/cli/command.ts';
import { jobsOf } from '#tools/cli/commands/status.ts';
import { queueDepth } from '#tools/cli/drain.ts';
import type { Target } from '#tools/cli/target.ts';
import { targetFromEnv } from '#tools/cli/target.ts';

/** Live failures searched for the user (the newest). */
const LIVE_FAILURES_SEARCHED = 1000;

const USAGE = `Usage: upheal-sync trace PARTNER_ID [--json]

Shows, read-only, what the system knows about one partner user: its mapping (kind, state, Upheal
id, version and providers version, last outcome, desired and assigned providers, fields Upheal
cannot change that differ), a create in progress, its failure records (the newest
${LIVE_FAILURES_SEARCHED} live failures and the latest import's), a staged delete, the last
user-created webhook Upheal sent about it (Upheal id, when, what came of it), and how many
messages wait on each queue. Ids only. Exit status 1 when the user has failures or is unknown.

Options:
  --json       print one JSON object {partnerUserId, mapping, createInProgress, failures,
               stagedDelete, webhook, queues}
  -h, --help   show this help
`;

/** A version as shown: the event's time and id. */
const shownVersion = (version: Version | undefined) =>
  version
    ? { occurredAt: new Date(version.ms).toISOString(), eventId: version.eventId }
    : undefined;

/** What trace reports about one user. */
export interface Trace {
  readonly partnerUserId: string;
  readonly mapping?: Record<string, unknown> | undefined;
  /** The claim of a create in progress: its owner (a message id) and lease end. */
  readonly createInProgress?: { owner: string; leaseUntil: string } | undefined;
  readonly failures: readonly FailureRecord[];
  readonly stagedDelete?: StagedDelete | undefined;
  /** Upheal's last user-created webhook naming the user, and what the healer made of it. */
  readonly webhook?: WebhookTrace | undefined;
  /** Messages waiting or in flight per queue (all users). */
  readonly queues: Readonly<Record<string, number>>;
}

/** The mapping as shown: ids, versions and names only (hashes are left out). */
function shownMapping(mapping: UserMapping): Record<string, unknown> {
  return {
    kind: mapping.kind,
    state: mapping.state,
    uphealUserId: mapping.uphealUserId,
    version: shownVersion(mapping.version),
    providersVersion: shownVersion(mapping.providersVersion),
    lastOutcome: mapping.lastOutcome,
    desiredProviders: mapping.desiredProviders,
    assignedProviders: mapping.assignedProviders,
    unappliedFields: mapping.unappliedFields,
    rev: mapping.rev,
    updatedAt: mapping.updatedAt,
  };
}

/** Reads everything trace shows about `partnerUserId`. */
export async function traceUser(target: Target, partnerUserId: string): Promise<Trace> {
  const { documents, tableName } = target;
  const mapping = await new DynamoMappingStore({ client: documents, tableName }).get(partnerUserId);
  // The user's lease and a first create's claim live on its mapping item; a tombstone's claim
  // has an item of its own.
  const { Item: item } = await documents.send(
    new GetCommand({ TableName: tableName, Key: mappingKey(partnerUserId), ConsistentRead: true }),
  );
  const { Item: claim } = await documents.send(
    new GetCommand({ TableName: tableName, Key: claimKey(partnerUserId), ConsistentRead: true }),
  );
  const claimed = item?.[ITEM.claimedAt] !== undefined || claim !== undefined;
  const failureStore = new DynamoFailureStore(documents, tableName);
  const latestJob = await jobsOf(target).latest();
  const failures = [
    ...(await failureStore.list(undefined, LIVE_FAILURES_SEARCHED)),
    ...(latestJob ? await failureStore.list(latestJob.jobId, Number.MAX_SAFE_INTEGER) : []),
  ].filter((failure) => failure.partnerUserId === partnerUserId);
  const staged = await new DynamoStagedDeletes(documents, tableName).list();
  const webhook = await new DynamoHealStore(documents, tableName).traceOf(partnerUserId);
  const queues: Record<string, number> = {};
  for (const key of Object.keys(QUEUES) as QueueKey[]) {
    try {
      queues[QUEUES[key].suffix] = await queueDepth(target, key);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error; // a queue this target does not name
    }
  }
  const leaseUntil = Number(item?.[ITEM.leaseUntil] ?? 0);
  return {
    partnerUserId,
    mapping: mapping ? shownMapping(mapping) : undefined,
    createInProgress:
      claimed && leaseUntil >= Date.now()
        ? { owner: String(item?.[ITEM.leaseOwner]), leaseUntil: new Date(leaseUntil).toISOString() }
        : undefined,
    failures,
    stagedDelete: staged.find((entry) => entry.partnerUserId === partnerUserId),
    webhook: webhook && shownWebhook(webhook),
    queues,
  };
}

/** The webhook trace as shown: its ids, times, outcome and reason, nothing else it may hold. */
function shownWebhook(webhook: WebhookTrace): WebhookTrace {
  const { partnerUserId, uphealUserId, outcome, reason, receivedAt, at } = webhook;
  return { partnerUserId, uphealUserId, outcome, reason, receivedAt, at };
}

/** The webhook line of the text trace. */
function webhookLine(webhook: WebhookTrace | undefined): string {
  if (!webhook) return '  upheal webhook    none';
  const why = webhook.reason ? ` (${webhook.reason})` : '';
  return `  upheal webhook    user created as Upheal ${webhook.uphealUserId}, received ${webhook.receivedAt}: ${webhook.outcome}${why}, applied ${webhook.at}`;
}

/** The trace as text. */
export function traceReport(trace: Trace): string {
  const lines = [`partner user ${trace.partnerUserId}`];
  const mapping = trace.mapping;
  if (!mapping) lines.push('  mapping           none (never synced, or not yet)');
  else {
    const version = (value: unknown) => {
      const shown = value as { occurredAt: string; eventId: string } | undefined;
      return shown ? `${shown.occurredAt} (event ${shown.eventId})` : '-';
    };
    const list = (value: unknown) => ((value as string[] | undefined) ?? []).join(', ') || '-';
    lines.push(
      `  mapping           ${mapping.kind}, ${mapping.state}, Upheal ${mapping.uphealUserId ?? '-'}`,
      `  version           ${version(mapping.version)}`,
      `  providers version ${version(mapping.providersVersion)}`,
      `  last outcome      ${mapping.lastOutcome ?? '-'}`,
      `  providers         desired ${list(mapping.desiredProviders)}; assigned (Upheal) ${list(mapping.assignedProviders)}`,
      `  not applied       ${list(mapping.unappliedFields)}`,
      `  updated           ${mapping.updatedAt} (rev ${mapping.rev})`,
    );
  }
  if (trace.createInProgress) {
    lines.push(
      `  create claimed    by message ${trace.createInProgress.owner} until ${trace.createInProgress.leaseUntil}`,
    );
  }
  lines.push(`  failures          ${trace.failures.length}`);
  for (const failure of trace.failures) {
    const where = failure.jobId
      ? `job ${failure.jobId} line ${failure.line ?? '-'}`
      : `event ${failure.eventId ?? '-'}`;
    lines.push(
      `    ${failure.at} ${where} ${failure.operation}${failure.status ? ` (HTTP ${failure.status})` : ''}: ${failure.reason}`,
    );
  }
  lines.push(
    trace.stagedDelete
      ? `  staged delete     event ${trace.stagedDelete.eventId}, staged ${trace.stagedDelete.stagedAt}${trace.stagedDelete.approved ? ', approved' : ''}`
      : '  staged delete     none',
    webhookLine(trace.webhook),
    `  queues (all users) ${Object.entries(trace.queues)
      .map(([name, depth]) => `${name} ${depth}`)
      .join(', ')}`,
    '',
  );
  return lines.join('\n');
}

/** The `trace` command. */
export const traceCommand: CliCommand = {
  name: 'trace',
  summary: "one partner user's mapping, versions, failures, staged delete (read-only, ids only)",
  usage: USAGE,
  targeted: true,
  async run(args, { env, output } = processContext()) {
    const parsed = parseFlags(args, { json: { type: 'boolean' } });
    const [partnerUserId, ...extra] = parsed.positionals;
    if (!partnerUserId || extra.length > 0) {
      throw new ValidationError([
        { field: 'PARTNER_ID', reason: 'give exactly one partner user id' },
      ]);
    }
    const target = targetFromEnv(env);
    try {
      const trace = await traceUser(target, partnerUserId);
      output.stdout(
        booleanFlag(parsed, 'json') ? `${JSON.stringify(trace)}\n` : traceReport(trace),
      );
      return trace.mapping && trace.failures.length === 0 ? EXIT.ok : EXIT.someFailed;
    } finally {
      target.close();
    }
  },
};
