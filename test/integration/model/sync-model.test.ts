/**
 * Model-based test of the ongoing sync (SPEC §3.3, §10): fast-check generates random partner
 * histories over a small universe (3 providers, 5 clients and a client whose provider never
 * comes), delivers them out of order, twice, through a model of SQS FIFO delivery with faults
 * and worker crashes, against real dynalite, fauxqs and the Upheal simulator over HTTP, and then
 * checks that Upheal mirrors the partner's final state (`test/helpers/model/oracle.ts`).
 *
 * With the uphealWebhooks feature, some clients have no email and the simulated Upheal's
 * user-created webhooks reach the real healer (`healCreatedUser`) through the real receiver,
 * late, reordered, twice, retried or lost (`test/helpers/model/webhook-channel.ts`), interleaved
 * with the other deliveries on the model's `upheal-webhooks` queue.
 *
 * Strict by default: every discrepancy fails the run, the known issues of `oracle.ts` included
 * (`MODEL_STRICT=0` only reports those). `npm test` runs a fixed, seeded set of cases with the
 * generator features the sync passes (`FAST_SUBSET_FEATURES`: all of them); `npm run test:model`
 * runs 1,000 cases over three seeds with every feature (`MODEL_FEATURES=all`). Each case draws
 * the import queue's mode (check-first, create-first or auto); live providers are created first,
 * as in production. A failing case prints its seed and path for replay.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES } from '#infra/resources.ts';
import { type PartnerEvent, parsePartnerEventJson } from '#lib/events/partner-event.ts';
import type { ImportMode } from '#lib/import/import-mode.ts';
import type { OutboundEvent } from '#lib/outbound/outbound-events.ts';
import type { FailureRecord } from '#lib/store/failure-store.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import { AssignmentCommandSchema } from '#lib/sync/assignment-queue.ts';
import { createsFirst } from '#lib/sync/create-mode.ts';
import { applyAssignment, applyPartnerEvent } from '#lib/sync/record-work.ts';
import { parseHealCommand } from '#lib/upheal-webhook/heal-command.ts';
import { healCreatedUser } from '#lib/upheal-webhook/heal-created-user.ts';
import type { HealStore } from '#lib/upheal-webhook/heal-store.ts';
import { HEAL_OPERATION } from '#lib/upheal-webhook/heal-work.ts';
import { crashingDeps } from '#test/helpers/model/crash.ts';
import {
  type DeliveryOptions,
  type DeliveryReport,
  type DeliveryStats,
  type ModelMessage,
  type Outgoing,
  runDeliveries,
  VirtualClock,
  type Work,
} from '#test/helpers/model/delivery-model.ts';
import { FAST_SUBSET_FEATURES, featuresFrom, MODEL_FEATURES } from '#test/helpers/model/hazards.ts';
import {
  type ModelCase as CaseServices,
  MODEL_WEBHOOK_SECRET,
  type ModelFixture,
  startModelFixture,
} from '#test/helpers/model/model-fixture.ts';
import { judge } from '#test/helpers/model/oracle.ts';
import {
  type HistoryOptions,
  type HistoryStep,
  historyStepsArbitrary,
  type PartnerHistory,
  partnerHistory,
} from '#test/helpers/model/partner-history.ts';
import { type ChannelRates, WebhookChannel } from '#test/helpers/model/webhook-channel.ts';
import { mulberry32 } from '#tools/simulator/prng.ts';

/** Cases in the default run (kept well under a minute on two shared cores). */
const DEFAULT_RUNS = 25;
/** The default run's seed: the same cases every time. */
const DEFAULT_SEED = 20_261_127;
/** Most raw steps of a generated history. */
const MAX_HISTORY_STEPS = 40;
/** SYNC_MAX_ATTEMPTS as production defaults it (lib/config.ts). */
const MAX_ATTEMPTS = 5;
/** How long a record waits for a dependency: DEPENDENCY_WAIT_SECONDS as production defaults it. */
const DEPENDENCY_WAIT_MS = 1_000 * Number(process.env.MODEL_DEPENDENCY_WAIT_SECONDS ?? 900);
/** How long a create answered 409 waits for Upheal's webhook: UPHEAL_WEBHOOK_WAIT_SECONDS' default. */
const WEBHOOK_WAIT_MS = 600_000;
/** Deliveries per case before the model declares the queues stuck. */
const MAX_DELIVERIES = 4_000;

const runs = Number(process.env.MODEL_RUNS ?? DEFAULT_RUNS);
/** MODEL_SEEDS (comma-separated) splits the cases between seeds; MODEL_SEED names one. */
const seeds = (process.env.MODEL_SEEDS ?? process.env.MODEL_SEED ?? String(DEFAULT_SEED))
  .split(',')
  .map((text) => Number(text.trim()));
/** Known issues of the sync core fail the run too, unless MODEL_STRICT=0. */
const strict = process.env.MODEL_STRICT !== '0';
/** The generator's optional behaviours (hazards.ts): MODEL_FEATURES=all|none|a,b,… */
const features = featuresFrom(process.env.MODEL_FEATURES, FAST_SUBSET_FEATURES);
/** Upheal's webhooks and email-less clients (hazards.ts `uphealWebhooks`). */
const webhooksOn = features.has(MODEL_FEATURES.uphealWebhooks);

/** Side effects a delivery has at most (lease, claim, check, create, save, enqueue, release, …). */
const MAX_CRASH_STEP = 8;
/** Virtual time one delivery takes. */
const DELIVERY_MS = 200;
/** The operator re-drives failures an hour later (claims' leases have long expired). */
const REDRIVE_AFTER_MS = 3_600_000;
/** The job id of the events that come through the import queue. */
const IMPORT_JOB_ID = 'model-import';
/** The simulator without faults. */
const NO_FAULTS = { serverError: 0, createdButFailed: 0, reset: 0, hang: 0 } as const;

/** Per-request fault probabilities of the simulator, by level. */
const FAULT_LEVELS = [
  { serverError: 0, createdButFailed: 0, reset: 0, hang: 0 },
  { serverError: 0.04, createdButFailed: 0.03, reset: 0.03, hang: 0.002 },
  { serverError: 0.08, createdButFailed: 0.06, reset: 0.05, hang: 0.004 },
] as const;

/** One generated case. */
interface ModelCase {
  readonly steps: readonly HistoryStep[];
  readonly options: HistoryOptions;
  /** Seed of the delivery schedule (interleaving, reordering, duplicates, crashes). */
  readonly schedule: number;
  /** Seed and level of the simulator's faults. */
  readonly faultSeed: number;
  readonly faultLevel: number;
  /** How far an event may move from its partner-time position when published. */
  readonly reorderWindow: number;
  readonly duplicateRate: number;
  readonly crashRate: number;
  readonly lostAckRate: number;
  /** Probability that two messages are delivered at once. */
  readonly concurrency: number;
  /** Share of the events published on the import queue instead of the live one. */
  readonly importShare: number;
  /** How Upheal delivers its webhooks (uphealWebhooks only). */
  readonly webhooks?: ChannelRates | undefined;
  /** The import's mode (live providers are created first in every case, as in production). */
  readonly importMode: ImportMode;
}

const baseCaseArbitrary: fc.Arbitrary<ModelCase> = fc.record({
  steps: historyStepsArbitrary(MAX_HISTORY_STEPS),
  options: fc
    .record({ providerDeletes: fc.boolean(), ghost: fc.boolean() })
    .map((options) => ({ ...options, features })),
  schedule: fc.integer(),
  faultSeed: fc.integer(),
  faultLevel: fc.nat({ max: FAULT_LEVELS.length - 1 }),
  reorderWindow: fc.constantFrom(0, 2, 5, 1_000),
  duplicateRate: fc.constantFrom(0, 0.1, 0.3),
  crashRate: fc.constantFrom(0, 0.05, 0.15),
  lostAckRate: fc.constantFrom(0, 0.05),
  concurrency: fc.constantFrom(0, 0.5),
  importShare: fc.constantFrom(0, 0, 0.3),
  importMode: fc.constantFrom<ImportMode>('check-first', 'create-first', 'auto'),
});

/** Upheal's delivery of its webhooks: some lost, late, twice, or failing and retried. */
const channelRatesArbitrary: fc.Arbitrary<ChannelRates> = fc.record({
  loss: fc.constantFrom(0, 0.1, 0.3),
  duplicate: fc.constantFrom(0, 0.3),
  attemptFailure: fc.constantFrom(0, 0.2),
  queueFailure: fc.constantFrom(0, 0.1),
  reorderMaxMs: fc.constantFrom(0, 5_000, 30_000),
});

/** The case generator; without webhooks, the same as before they were modelled. */
const caseArbitrary: fc.Arbitrary<ModelCase> = webhooksOn
  ? fc
      .tuple(baseCaseArbitrary, channelRatesArbitrary)
      .map(([modelCase, webhooks]) => ({ ...modelCase, webhooks }))
  : baseCaseArbitrary;

/** Totals of the run, printed at the end. */
const totals = {
  cases: 0,
  events: 0,
  published: 0,
  deliveries: 0,
  concurrent: 0,
  uphealCalls: 0,
  injected: { serverErrors: 0, resets: 0, hangs: 0, crashes: 0, lostAcks: 0 },
  deferrals: 0,
  retries: 0,
  deadLettered: 0,
  dependencyFailures: 0,
  redriven: 0,
  failedAfterRedrive: 0,
  /** Known issues of the sync core (oracle.ts KNOWN_ISSUES) seen: how often, and first where. */
  known: new Map<string, { cases: number; firstPath: string }>(),
  /** Upheal's webhooks (uphealWebhooks): announcements and how their deliveries went. */
  webhooks: {
    announcements: 0,
    lost: 0,
    duplicates: 0,
    attempts: 0,
    failedAttempts: 0,
    replaysRefused: 0,
    abandoned: 0,
  },
  /** Heal commands applied, by outcome (`healed`: a lost create's mapping recorded). */
  heals: new Map<string, number>(),
  /** Email-less clients left unmapped because their webhook was lost (allowed). */
  unhealed: 0,
  /** Failure records a heal cleared. */
  clearedFailures: 0,
};

let fixture: ModelFixture;
let caseNumber = 0;
/** The seed being run, and how many of its cases ran (fast-check's path is that count - 1). */
let current = { seed: DEFAULT_SEED, cases: 0 };

beforeAll(async () => {
  fixture = await startModelFixture({ webhooks: webhooksOn });
});

afterAll(async () => {
  await fixture?.stop();
  console.log(
    `sync model (${strict ? 'strict' : 'known issues reported only'}; features: ${[...features].join(', ') || 'none'}; seeds ${seeds.join(', ')}): ${totals.cases} cases, ${totals.events} partner events (${totals.published} published with duplicates), ` +
      `${totals.deliveries} deliveries (${totals.concurrent} of them two at once), ${totals.uphealCalls} Upheal calls; injected faults: ` +
      `${totals.injected.serverErrors} 5xx (incl. created-but-500), ${totals.injected.resets} resets, ` +
      `${totals.injected.hangs} timeouts, ${totals.injected.crashes} worker crashes, ${totals.injected.lostAcks} lost acks; ` +
      `${totals.deferrals} deferrals, ${totals.retries} retries, ${totals.deadLettered} dead-lettered, ` +
      `${totals.dependencyFailures} gave up waiting; ${totals.redriven} re-driven, ${totals.failedAfterRedrive} failed again; ` +
      `${webhooksOn ? `${webhookFigures()}; ` : ''}known sync-core issues seen: ${
        [...totals.known]
          .map(([id, { cases, firstPath }]) => `${id} ×${cases} (first: ${firstPath})`)
          .join(', ') || 'none'
      }`,
  );
});

/** The order the partner publishes in: reordered within a window, some events twice. */
function publishPlan(
  events: readonly PartnerEvent[],
  modelCase: ModelCase,
  random: () => number,
): Outgoing[] {
  const keyed: { key: number; event: PartnerEvent }[] = [];
  events.forEach((event, index) => {
    keyed.push({ key: index + random() * modelCase.reorderWindow, event });
    if (random() < modelCase.duplicateRate) {
      keyed.push({ key: index + random() * (modelCase.reorderWindow + 3), event });
    }
  });
  keyed.sort((a, b) => a.key - b.key);
  const plan: Outgoing[] = keyed.map(({ event }) => ({
    // Some events come through the initial import's queue, as when an import overlaps live events.
    queue: random() < modelCase.importShare ? 'imports' : 'user-events',
    group: event.partnerUserId,
    body: JSON.stringify(event),
    eventId: event.eventId,
  }));
  return plan;
}

/**
 * The plan with the stale export's rows on the import queue, each sent at a random point after
 * the export was taken: live events newer than the export overtake them.
 */
function withExport(plan: Outgoing[], history: PartnerHistory, random: () => number): Outgoing[] {
  if (!history.export) return plan;
  const keyed = plan.map((outgoing, index) => ({ key: index, outgoing }));
  const { afterEvent, events } = history.export;
  for (const event of events) {
    keyed.push({
      key: afterEvent + random() * (plan.length - afterEvent + 1) - 0.5,
      outgoing: {
        queue: 'imports',
        group: event.partnerUserId,
        body: JSON.stringify(event),
        eventId: event.eventId,
      },
    });
  }
  return keyed.sort((a, b) => a.key - b.key).map(({ outgoing }) => outgoing);
}

/** The heal store's methods that write (the others only read). */
const HEAL_STORE_WRITES: ReadonlySet<string | symbol> = new Set<keyof HealStore>([
  'clearFailures',
  'recordTrace',
]);

/**
 * The work of one delivery: a partner event (live or import queue), an assignment command, or a
 * heal command of Upheal's webhook, each through the entry point its consumer uses.
 */
function caseWork(
  services: CaseServices,
  clock: VirtualClock,
  partnerHears: OutboundEvent[],
  importMode: ImportMode,
): Work {
  const { deps } = services;
  return async (message, crash, gate) => {
    const delivery = crashingDeps(deps, crash, gate);
    if (message.queue === 'upheal-webhooks') {
      const command = parseHealCommand(message.body, `message ${message.messageId}`);
      const result = await healCreatedUser(command, {
        mappings: delivery.deps.mappings,
        store: delivery.port(services.heal, HEAL_STORE_WRITES),
        outbound: delivery.port(
          { publish: async (event: OutboundEvent) => void partnerHears.push(event) },
          new Set(['publish']),
        ),
        assignments: delivery.deps.assignments,
        now: clock.now,
      });
      totals.heals.set(result.outcome, (totals.heals.get(result.outcome) ?? 0) + 1);
      totals.clearedFailures += result.clearedFailures;
      return result.outcome;
    }
    if (message.queue !== 'assignments') {
      const event = parsePartnerEventJson(message.body, `message ${message.messageId}`);
      const jobId = message.queue === 'imports' ? IMPORT_JOB_ID : undefined;
      // Without a job ledger, `auto` creates first throughout.
      const createFirst = await createsFirst(event, jobId, importMode, undefined);
      const outcome = await applyPartnerEvent(
        event,
        { claimOwner: message.messageId, eventId: event.eventId, jobId, createFirst },
        delivery.deps,
        undefined,
        (decorate) => decorate(delivery.deps.upheal),
      );
      return outcome.kind;
    }
    const command = AssignmentCommandSchema.parse(JSON.parse(message.body));
    const outcome = await applyAssignment(
      command.clientPartnerUserId,
      message.messageId,
      delivery.deps,
      undefined,
      (decorate) => decorate(delivery.deps.upheal),
    );
    return outcome.kind;
  };
}

/**
 * The consumer's failure records of a case: a message that fails for good is recorded (an import
 * message under the import job, by its own line), as the consumer records it; a heal may clear it.
 */
function failureRecorder(services: CaseServices) {
  const lines = new Map<string, number>();
  const operationOf = (message: ModelMessage) => {
    if (message.queue === 'assignments') return 'assign-providers';
    if (message.queue === 'upheal-webhooks') return HEAL_OPERATION;
    return (JSON.parse(message.body) as { type?: string }).type ?? 'sync-user';
  };
  return {
    lines,
    async record(message: ModelMessage, reason: string): Promise<void> {
      const row = message.queue === 'imports';
      if (row) lines.set(message.messageId, lines.size + 1);
      await services.failures.record({
        partnerUserId: message.group,
        eventId: message.eventId,
        jobId: row ? IMPORT_JOB_ID : undefined,
        line: lines.get(message.messageId),
        operation: operationOf(message),
        reason,
      });
    },
    /** The failure records left (live ones and the import job's). */
    async left(): Promise<FailureRecord[]> {
      return [
        ...(await services.failures.list(undefined, Number.MAX_SAFE_INTEGER)),
        ...(await services.failures.list(IMPORT_JOB_ID, Number.MAX_SAFE_INTEGER)),
      ];
    },
  };
}

/**
 * What the operator re-drives: the dead-lettered messages, and those whose failure record is
 * still there (a heal clears the records of the user it mapped: nothing to re-drive then).
 */
function redrivePlanOf(
  report: DeliveryReport,
  left: readonly FailureRecord[],
  lines: ReadonlyMap<string, number>,
): Outgoing[] {
  const liveLeft = new Set(
    left.filter((r) => !r.jobId).map((r) => `${r.partnerUserId}\u0000${r.eventId}`),
  );
  const rowsLeft = new Set(left.flatMap((r) => (r.jobId ? [r.line] : [])));
  return [...report.terminals]
    .filter(([messageId, terminal]) => {
      if (terminal.kind === 'applied') return false;
      if (terminal.kind === 'dead-lettered-by-sqs' || terminal.deadLettered) return true;
      const message = report.messages.get(messageId)!;
      return message.queue === 'imports'
        ? rowsLeft.has(lines.get(messageId))
        : liveLeft.has(`${message.group}\u0000${message.eventId}`);
    })
    .map(([messageId]) => report.messages.get(messageId)!)
    .map(({ queue, group, body, eventId }) => ({ queue, group, body, eventId }));
}

/** The history as trace lines (MODEL_TRACE), or none. */
function historyTrace(history: PartnerHistory): string[] {
  if (!process.env.MODEL_TRACE) return [];
  return [...history.events, ...(history.export?.events ?? [])].map((event) => {
    const data = 'data' in event ? JSON.stringify(event.data) : '';
    const mark = history.refused.has(event.eventId) ? ' (must be refused)' : '';
    return `${event.eventId} ${event.occurredAt} ${event.type} ${event.partnerUserId} ${data}${mark}`;
  });
}

/** Runs one case end to end and returns the oracle's discrepancies. */
async function runCase(modelCase: ModelCase): Promise<string[]> {
  caseNumber += 1;
  current.cases += 1;
  const history = partnerHistory(modelCase.steps, modelCase.options, `k${caseNumber}`);
  const random = mulberry32(modelCase.schedule);
  const plan = withExport(publishPlan(history.events, modelCase, random), history, random);
  const trace = historyTrace(history);
  const clock = new VirtualClock(Date.now());
  const services = await fixture.startCase(caseNumber, clock.now);
  const { mappings } = services;
  await fixture.takeWebhooks(); // none of an earlier case's
  // The import job's ledger item: the healer finds the failed rows of recent jobs through it.
  await services.jobs.create({
    jobId: IMPORT_JOB_ID,
    format: 'ndjson',
    source: { records: [] },
    dryRun: false,
  });
  // Upheal accounts that exist before the sync starts (deactivatedAccounts).
  const seeded = history.seeded.length > 0 ? fixture.simulator.seedUsers([...history.seeded]) : [];
  fixture.simulator.setFaults({
    seed: modelCase.faultSeed,
    ...FAULT_LEVELS[modelCase.faultLevel]!,
  });
  const channel = modelCase.webhooks
    ? new WebhookChannel({
        take: () => fixture.takeWebhooks(),
        nonces: services.nonces,
        secret: MODEL_WEBHOOK_SECRET,
        rates: modelCase.webhooks,
        // Its own stream: the schedule's draws stay those of the case.
        random: mulberry32(modelCase.schedule ^ 0x5eed),
      })
    : undefined;
  const partnerHears: OutboundEvent[] = [];
  const failures = failureRecorder(services);
  const work = caseWork(services, clock, partnerHears, modelCase.importMode);
  const followUps = async (): Promise<Outgoing[]> =>
    (await fixture.drainAssignments()).map((command) => ({
      queue: 'assignments',
      group: command.clientPartnerUserId,
      body: JSON.stringify(command),
      eventId: command.eventId,
    }));
  const options: DeliveryOptions = {
    random,
    clock,
    maxAttempts: MAX_ATTEMPTS,
    dependencyWaitMs: DEPENDENCY_WAIT_MS,
    webhookWaitMs: WEBHOOK_WAIT_MS,
    arrivals: channel,
    onFailed: (message, reason) => failures.record(message, reason),
    visibilityTimeoutMs: QUEUES.userEvents.visibilityTimeoutSeconds * 1_000,
    backstopReceives: QUEUES.userEvents.maxReceiveCount,
    crashRate: modelCase.crashRate,
    concurrency: modelCase.concurrency,
    maxCrashStep: MAX_CRASH_STEP,
    lostAckRate: modelCase.lostAckRate,
    deliveryMs: DELIVERY_MS,
    maxDeliveries: MAX_DELIVERIES,
    trace: process.env.MODEL_TRACE ? (line) => trace.push(line) : undefined,
  };
  const report = await runDeliveries(plan, work, followUps, options);

  // The operator re-drives what failed (failure records and the DLQ), later, with no faults.
  fixture.simulator.setFaults(NO_FAULTS);
  clock.advanceBy(REDRIVE_AFTER_MS);
  const redrivePlan = redrivePlanOf(report, await failures.left(), failures.lines);
  trace.push('-- re-drive --');
  const redrive = await runDeliveries(redrivePlan, work, followUps, {
    ...options,
    crashRate: 0,
    lostAckRate: 0,
    idPrefix: 'r',
  });

  const allMappings = new Map<string, UserMapping>();
  for (const id of history.final.keys()) {
    const mapping = await mappings.get(id);
    if (mapping) allMappings.set(id, mapping);
  }
  const verdict = judge({
    history,
    report,
    redrive,
    simUsers: fixture.simulator.users(),
    seeded,
    mappings: allMappings,
    webhooks: channel
      ? { queued: channel.report.queued, failureRecords: await failures.left() }
      : undefined,
  });
  count(history.events.length, plan.length, report.stats, report.terminals);
  if (channel) countWebhooks(channel, verdict.unhealed);
  totals.redriven += redrivePlan.length;
  totals.failedAfterRedrive += [...redrive.terminals.values()].filter(
    (terminal) => terminal.kind !== 'applied',
  ).length;
  for (const known of verdict.known) {
    const id = known.slice(0, known.indexOf(':'));
    // Without shrinking, fast-check's path of the n-th case is n - 1.
    const path = `MODEL_SEED=${current.seed} MODEL_PATH=${process.env.MODEL_PATH ?? String(current.cases - 1)}`;
    const seen = totals.known.get(id) ?? { cases: 0, firstPath: path };
    totals.known.set(id, { ...seen, cases: seen.cases + 1 });
  }
  const failed = strict ? [...verdict.discrepancies, ...verdict.known] : verdict.discrepancies;
  if (trace.length > 0 && (failed.length > 0 || process.env.MODEL_TRACE === 'all')) {
    console.log(trace.join('\n'));
  }
  return failed;
}

/** Adds one case's webhook figures to the run's totals. */
function countWebhooks(channel: WebhookChannel, unhealed: number): void {
  for (const [key, value] of Object.entries(channel.report.stats)) {
    totals.webhooks[key as keyof typeof totals.webhooks] += value;
  }
  totals.unhealed += unhealed;
}

/** The webhook figures of the run, for its summary line. */
function webhookFigures(): string {
  const w = totals.webhooks;
  const heals = [...totals.heals].map(([outcome, n]) => `${outcome} ${n}`).join(', ') || 'none';
  return (
    `webhooks: ${w.announcements} announced (${w.lost} lost, ${w.duplicates} sent twice), ${w.attempts} attempts ` +
    `(${w.failedAttempts} failed and retried or abandoned, ${w.replaysRefused} refused as replays, ${w.abandoned} abandoned); ` +
    `heal commands applied: ${heals}; ${totals.clearedFailures} failure records cleared by heals; ` +
    `${totals.unhealed} email-less clients left unmapped because their webhook was lost`
  );
}

/** Adds one case's figures to the run's totals. */
function count(
  events: number,
  published: number,
  stats: DeliveryStats,
  terminals: Awaited<ReturnType<typeof runDeliveries>>['terminals'],
): void {
  const traffic = fixture.simulator.stats();
  const byStatus = (status: string) =>
    Object.values(traffic.byRoute).reduce((sum, statuses) => sum + (statuses[status] ?? 0), 0);
  totals.cases += 1;
  totals.events += events;
  totals.published += published;
  totals.deliveries += stats.deliveries;
  totals.concurrent += stats.concurrent;
  totals.uphealCalls += traffic.totalCalls;
  totals.injected.serverErrors += byStatus('500');
  totals.injected.resets += byStatus('reset');
  totals.injected.hangs += byStatus('hang');
  totals.injected.crashes += stats.crashes;
  totals.injected.lostAcks += stats.lostAcks;
  totals.deferrals += stats.deferrals;
  totals.retries += stats.retries;
  totals.deadLettered += stats.deadLettered;
  totals.dependencyFailures += [...terminals.values()].filter(
    (t) => t.kind === 'failed' && t.reason.startsWith('gave up waiting'),
  ).length;
}

/** Cases per seed: the run's cases split evenly between its seeds. */
const runsPerSeed = Math.ceil(runs / seeds.length);

describe('sync model: Upheal mirrors the partner after random histories, reorderings, duplicates, faults and crashes', () => {
  it.each(seeds)(
    'seed %i: every user once, only ever with its own changes, with the partner’s fields and provider lists, and every event applied, stale, refused or failed for a reason the model allows',
    async (seed) => {
      current = { seed, cases: 0 };
      const before = totals.cases;
      await fc.assert(
        fc.asyncProperty(caseArbitrary, async (modelCase) => {
          const discrepancies = await runCase(modelCase);
          expect(discrepancies).toEqual([]);
        }),
        {
          numRuns: runsPerSeed,
          seed,
          path: process.env.MODEL_PATH,
          endOnFailure: process.env.MODEL_SHRINK === undefined,
        },
      );
      expect(totals.cases - before).toBeGreaterThanOrEqual(
        process.env.MODEL_PATH ? 1 : runsPerSeed,
      );
    },
    Math.max(60_000, runsPerSeed * 10_000),
  );
});
