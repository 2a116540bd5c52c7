/**
 * The quarantine on DynamoDB: one item (`pk = QUARANTINE`, `sk = STATE`) that every Lambda
 * instance reads before its Upheal calls and changes with single-item conditional writes only.
 *
 * - A fault (quarantine-rules.ts `faultOf`) is counted in the item's current error window when
 *   faults are common among this instance's recent calls (`RecentCalls`: a fault now and then
 *   among answers is retried, not counted); the count that reaches the threshold, or any 401,
 *   starts the quarantine (once: the write is conditioned on none being in force).
 * - While quarantined, no Upheal call is made: the guard throws QuarantinedError and the record
 *   waits in SQS (lib/sqs/outcome-policy.ts defers it without counting an attempt).
 * - Once per probe interval, one instance wins the conditional claim of the probe and makes one
 *   non-mutating call through the limiter; an answer ends the quarantine for everyone.
 * Each instance keeps what it read for a short time, so the item costs one read per instance per
 * `HEALTHY_STATE_CACHE_MS` (per `STATE_CACHE_MS` while the instance sees faults), and writes only
 * on faults, probes and the two transitions.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { QuarantinedError, UpstreamError } from '#lib/errors.ts';
import type { CallGuard } from '#lib/limiter/guarded-upheal.ts';
import type { Logger } from '#lib/observability/logger.ts';
import {
  faultOf,
  isQuarantined,
  PROBE_OUTCOMES,
  type ProbeOutcome,
  probeOutcome,
  QUARANTINE_REASONS,
  type QuarantineReason,
  type QuarantineSettings,
  type QuarantineState,
  RecentCalls,
} from '#lib/quarantine/quarantine-rules.ts';

/** The item's key. */
export const QUARANTINE_KEY = { pk: 'QUARANTINE', sk: 'STATE' } as const;

/**
 * How long an instance with a fault among its recent calls trusts the state it read: a
 * quarantine reaches it within this time (calls already under way finish).
 */
export const STATE_CACHE_MS = 1_000;

/**
 * How long an instance whose recent calls were all answered trusts the state it read. A
 * quarantine starts only when faults are common, so an instance that sees none has little to
 * learn from the item: it reads it five times less often (with many instances those reads add
 * up to a fair share of all DynamoDB requests), and hears of a quarantine within this time, or
 * within STATE_CACHE_MS of its first fault (an outage reaches its calls too).
 */
export const HEALTHY_STATE_CACHE_MS = 5_000;

/** Attempts to count one fault when other instances' counts keep winning the race. */
const COUNT_ATTEMPTS = 3;

/** What the quarantine tells about itself (the CLI's `status`, logs). */
export interface QuarantineView {
  readonly quarantined: boolean;
  /** ISO time the quarantine in force started. */
  readonly since?: string | undefined;
  readonly reason?: QuarantineReason | undefined;
  /** Probes made so far in this quarantine (or the last one). */
  readonly probes: number;
  /** The last quarantine that ended, if any. */
  readonly last?: { since: string; reason: QuarantineReason; resumedAt: string } | undefined;
}

/** What the quarantine needs. */
export interface DynamoQuarantineOptions {
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  readonly settings: QuarantineSettings;
  /** One non-mutating Upheal call, booked through the limiter; throws what the call threw. */
  readonly probe: () => Promise<void>;
  /** Hears whether each guarded call was held back (1) or let through (0), for the alarm. */
  readonly onGate?: ((held: boolean) => void) | undefined;
  readonly logger?: Logger | undefined;
  readonly now?: () => number;
}

/** The shared quarantine of one deployment. */
export class DynamoQuarantine {
  readonly #client: DynamoDBDocumentClient;
  readonly #tableName: string;
  readonly #settings: QuarantineSettings;
  readonly #probe: () => Promise<void>;
  readonly #onGate: ((held: boolean) => void) | undefined;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  /** Faults and answers of this instance's latest calls. */
  readonly #recent = new RecentCalls();
  #cached: QuarantineState | undefined;
  #cachedAt = Number.NEGATIVE_INFINITY;

  constructor(options: DynamoQuarantineOptions) {
    this.#client = options.client;
    this.#tableName = options.tableName;
    this.#settings = options.settings;
    this.#probe = options.probe;
    this.#onGate = options.onGate;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The guard of a record's Upheal calls: admit before, report faults after. A call whose fault
   * finds the sync quarantined (its own 401 included) defers its record like the others, so
   * the record waits for the probe instead of counting an attempt or being dead-lettered.
   */
  guard(): CallGuard {
    return {
      beforeCall: () => this.admit(),
      afterSuccess: () => this.#recent.record(false),
      afterFailure: async (error) => {
        if (await this.report(error)) {
          const reason = this.#cached?.reason ?? faultOf(error) ?? QUARANTINE_REASONS.failing;
          const since = this.#cached?.since;
          throw new QuarantinedError(
            reason,
            this.#settings.probeIntervalMs,
            since === undefined ? undefined : this.#now() - since,
          );
        }
      },
    };
  }

  /**
   * Resolves when a call may go to Upheal; throws QuarantinedError while the sync is
   * quarantined. Runs the probe when it is due and this instance wins its claim.
   */
  async admit(): Promise<void> {
    const now = this.#now();
    const state = await this.#state(now);
    if (!isQuarantined(state)) {
      this.#onGate?.(false);
      return;
    }
    const probeAt = state.probeAt ?? state.since;
    if (now >= probeAt && (await this.#claimProbe(state, now))) {
      const outcome = await this.#runProbe();
      if (outcome === PROBE_OUTCOMES.up && (await this.#resume(state, this.#now()))) {
        this.#onGate?.(false);
        return;
      }
      this.#onGate?.(true);
      throw new QuarantinedError(state.reason, this.#settings.probeIntervalMs, now - state.since);
    }
    this.#onGate?.(true);
    throw new QuarantinedError(state.reason, Math.max(probeAt - now, 0), now - state.since);
  }

  /**
   * Records the outcome of a call that failed with `error`, and counts the fault it shows, if any
   * and if faults are common among this instance's recent calls; quarantines the sync when it is
   * one too many. Resolves true when `error` is a fault and the sync is quarantined after it.
   */
  async report(error: unknown): Promise<boolean> {
    const fault = faultOf(error);
    // Only Upheal's answers (and transport faults) are calls' outcomes; our own errors are not.
    if (fault !== undefined || error instanceof UpstreamError)
      this.#recent.record(fault !== undefined);
    if (fault === undefined) return false;
    const now = this.#now();
    if (isQuarantined(await this.#state(now))) return true;
    if (fault === QUARANTINE_REASONS.unauthorized) return this.#enter(fault, now);
    if (!this.#recent.faultsAreCommon()) return false;
    const errors = await this.#count(now);
    if (errors !== undefined && errors >= this.#settings.errorThreshold) {
      return this.#enter(fault, now);
    }
    return false;
  }

  /** The state as stored now (a consistent read), for the operator. */
  async view(): Promise<QuarantineView> {
    return toView(await this.#read());
  }

  /** The state, from the cache while it is fresh. */
  async #state(now: number): Promise<QuarantineState | undefined> {
    const trustMs = this.#recent.faultShare() > 0 ? STATE_CACHE_MS : HEALTHY_STATE_CACHE_MS;
    if (now - this.#cachedAt < trustMs) return this.#cached;
    const state = await this.#read();
    this.#remember(state, now);
    return state;
  }

  #remember(state: QuarantineState | undefined, at: number): void {
    this.#cached = state;
    this.#cachedAt = at;
  }

  async #read(): Promise<QuarantineState | undefined> {
    return readQuarantineState(this.#client, this.#tableName);
  }

  /**
   * Adds one fault to the current error window, or starts a new window with it. Returns the
   * window's count, or undefined when other instances kept winning (their counts went in).
   */
  async #count(now: number): Promise<number | undefined> {
    for (let attempt = 0; attempt < COUNT_ATTEMPTS; attempt += 1) {
      const added = await this.#update({
        UpdateExpression: 'SET errors = errors + :one',
        // The window started less than errorWindowMs ago.
        ConditionExpression: 'errorWindowStart > :windowFloor',
        ExpressionAttributeValues: { ':one': 1, ':windowFloor': now - this.#windowMs() },
      });
      if (added) return added.errors;
      const started = await this.#update({
        UpdateExpression: 'SET errors = :one, errorWindowStart = :now',
        // No window yet, or the last one is over (another instance may just have started one).
        ConditionExpression:
          'attribute_not_exists(errorWindowStart) OR errorWindowStart <= :windowFloor',
        ExpressionAttributeValues: {
          ':one': 1,
          ':now': now,
          ':windowFloor': now - this.#windowMs(),
        },
      });
      if (started) return started.errors;
    }
    return undefined;
  }

  #windowMs(): number {
    return this.#settings.errorWindowMs;
  }

  /**
   * Starts a quarantine, unless one is in force (the first writer's reason and time stay).
   * Resolves true: either way the sync is quarantined now.
   */
  async #enter(reason: QuarantineReason, now: number): Promise<boolean> {
    const entered = await this.#update({
      UpdateExpression: 'SET since = :now, reason = :reason, probeAt = :probeAt, probes = :zero',
      ConditionExpression: 'attribute_not_exists(since)',
      ExpressionAttributeValues: {
        ':now': now,
        ':reason': reason,
        ':probeAt': now + this.#settings.probeIntervalMs,
        ':zero': 0,
      },
    });
    if (entered) {
      this.#remember(entered, now);
      this.#logger?.warn('quarantine started', { reason, errors: entered.errors });
    } else {
      this.#remember(undefined, Number.NEGATIVE_INFINITY);
    }
    return true;
  }

  /** Takes the probe that is due; false when another instance took it first. */
  async #claimProbe(state: QuarantineState & { since: number }, now: number): Promise<boolean> {
    const claimed = await this.#update({
      UpdateExpression: 'SET probeAt = :next ADD probes :one',
      ConditionExpression: 'since = :since AND probeAt <= :now',
      ExpressionAttributeValues: {
        ':next': now + this.#settings.probeIntervalMs,
        ':one': 1,
        ':since': state.since,
        ':now': now,
      },
    });
    this.#remember(claimed, claimed ? now : Number.NEGATIVE_INFINITY);
    return claimed !== undefined;
  }

  async #runProbe(): Promise<ProbeOutcome> {
    let outcome: ProbeOutcome;
    try {
      await this.#probe();
      outcome = probeOutcome(undefined);
    } catch (error) {
      outcome = probeOutcome(error);
    }
    this.#logger?.info('quarantine probe', { outcome });
    return outcome;
  }

  /** Ends the quarantine `state` (not a later one), keeping it as the last one for the operator. */
  async #resume(state: QuarantineState & { since: number }, now: number): Promise<boolean> {
    const resumed = await this.#update({
      UpdateExpression:
        'SET errors = :zero, lastSince = :since, lastReason = :reason, lastResumedAt = :now ' +
        'REMOVE probeAt, reason, since',
      ConditionExpression: 'since = :since',
      ExpressionAttributeValues: {
        ':zero': 0,
        ':since': state.since,
        ':reason': state.reason,
        ':now': now,
      },
    });
    if (resumed) {
      this.#remember(resumed, now);
      this.#logger?.info('quarantine ended', {
        reason: state.reason,
        durationMs: now - state.since,
        probes: resumed.probes,
      });
      return true;
    }
    // Another instance ended it (or a new one started): read again next time.
    this.#remember(undefined, Number.NEGATIVE_INFINITY);
    return isQuarantined(await this.#state(this.#now())) === false;
  }

  /** One conditional update of the item; the item as written, or undefined when the condition failed. */
  async #update(
    command: Pick<
      ConstructorParameters<typeof UpdateCommand>[0],
      'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeValues'
    >,
  ): Promise<QuarantineState | undefined> {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#tableName,
          Key: QUARANTINE_KEY,
          ...command,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return Attributes as QuarantineState | undefined;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}

/** The stored state (a consistent read); undefined when no quarantine ever happened. */
export async function readQuarantineState(
  client: DynamoDBDocumentClient,
  tableName: string,
): Promise<QuarantineState | undefined> {
  const { Item } = await client.send(
    new GetCommand({ TableName: tableName, Key: QUARANTINE_KEY, ConsistentRead: true }),
  );
  return Item as QuarantineState | undefined;
}

/** The quarantine as the operator sees it (`upheal-sync status`). */
export async function readQuarantine(
  client: DynamoDBDocumentClient,
  tableName: string,
): Promise<QuarantineView> {
  return toView(await readQuarantineState(client, tableName));
}

/** The operator's view of a stored state. */
export function toView(state: QuarantineState | undefined): QuarantineView {
  const iso = (ms: number) => new Date(ms).toISOString();
  const last =
    state?.lastSince !== undefined && state.lastReason && state.lastResumedAt !== undefined
      ? {
          since: iso(state.lastSince),
          reason: state.lastReason,
          resumedAt: iso(state.lastResumedAt),
        }
      : undefined;
  return {
    quarantined: isQuarantined(state),
    since: isQuarantined(state) ? iso(state.since) : undefined,
    reason: isQuarantined(state) ? state.reason : undefined,
    probes: state?.probes ?? 0,
    last,
  };
}

/** One line for the operator: whether the sync runs, or since when and why it is quarantined. */
export function describeQuarantine(view: QuarantineView): string {
  if (view.quarantined) {
    return `sync: QUARANTINED since ${view.since} (${view.reason}); ${view.probes} probes so far, records wait in SQS`;
  }
  const last = view.last
    ? ` (last quarantine ${view.last.since} to ${view.last.resumedAt}, ${view.last.reason})`
    : '';
  return `sync: running${last}`;
}
