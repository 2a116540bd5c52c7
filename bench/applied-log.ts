/**
 * What the functions say they did, read from their log lines (the local stack's log sink): each
 * applied event logs `"message":"applied"` with its `eventId`, `outcome` and Powertools'
 * `timestamp`. The benchmark times publish → applied from it and waits on it. Only ids and
 * outcomes are kept — never a whole line.
 */
import type { WorkerLogLine } from '#tools/local/worker-pool.ts';

/** One applied event, as logged by a function. */
export interface AppliedEntry {
  readonly functionName: string;
  readonly eventId: string;
  readonly outcome: string;
  /** How many providers a created client got right after its create (sync-user), if any. */
  readonly providersAssigned?: number | undefined;
  /** Epoch ms of the log line (the worker's clock: the same machine as the publisher). */
  readonly at: number;
}

/** Messages of the consumer that mean an event did not apply (lib/sqs/consumer.ts). */
const FAILURE_MESSAGES = new Set(['failed', 'dead-lettered']);
/** Lines that are JSON objects (Powertools); anything else is ignored. */
const JSON_LINE = /^\s*\{/;
/** Consumer and quarantine lines placed on the event timeline (besides `deferred`). */
const TIMELINE_MESSAGES = new Set([
  'retrying',
  'quarantine started',
  'quarantine probe',
  'quarantine ended',
]);
/** How often a waiter re-checks its condition. */
const WAIT_POLL_MS = 50;

/** Collects `applied` lines by function and event id. */
export class AppliedLog {
  readonly #applied = new Map<string, AppliedEntry>();
  #failures = 0;
  #retries = 0;
  #nonJsonStderr = 0;
  /** Deferrals (debug level) by `<event id prefix>:<error class>`, e.g. `live:SlotUnavailableError`. */
  readonly #deferrals: Record<string, number> = {};
  /** Deferrals by event id: each is a receive of its message, counted towards the receive limit. */
  readonly #deferralsByEvent = new Map<string, number>();
  /** When deferrals, retries and quarantine transitions happened, by kind. */
  readonly #events: { at: number; kind: string }[] = [];

  /** The log sink to give `startLocalStack`. */
  readonly sink = (entry: WorkerLogLine): void => {
    if (!JSON_LINE.test(entry.line)) {
      if (entry.stream === 'stderr') this.#nonJsonStderr += 1;
      return;
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(entry.line) as Record<string, unknown>;
    } catch {
      return;
    }
    const message = parsed.message;
    const loggedAt =
      typeof parsed.timestamp === 'string' ? Date.parse(parsed.timestamp) : Number.NaN;
    const lineAt = Number.isNaN(loggedAt) ? Date.now() : loggedAt;
    const errorClass = String(parsed.error ?? '?').split(':')[0];
    if (message === 'retrying') this.#retries += 1;
    if (message === 'deferred') {
      const kind = `${String(parsed.eventId ?? '?').split('-')[0]}:${errorClass}`;
      this.#deferrals[kind] = (this.#deferrals[kind] ?? 0) + 1;
      if (typeof parsed.eventId === 'string') {
        const count = (this.#deferralsByEvent.get(parsed.eventId) ?? 0) + 1;
        this.#deferralsByEvent.set(parsed.eventId, count);
      }
      this.#events.push({ at: lineAt, kind: `deferred:${errorClass}` });
    }
    if (typeof message === 'string' && TIMELINE_MESSAGES.has(message)) {
      const detail = message === 'retrying' ? `:${errorClass}` : '';
      this.#events.push({ at: lineAt, kind: `${message}${detail}` });
    }
    if (typeof message === 'string' && FAILURE_MESSAGES.has(message)) this.#failures += 1;
    if (message !== 'applied' || typeof parsed.eventId !== 'string') return;
    const applied: AppliedEntry = {
      functionName: entry.functionName,
      eventId: parsed.eventId,
      outcome: String(parsed.outcome),
      providersAssigned:
        typeof parsed.providersAssigned === 'number' ? parsed.providersAssigned : undefined,
      at: lineAt,
    };
    this.#applied.set(keyOf(entry.functionName, parsed.eventId), applied);
  };

  /** The entry of an event applied by a function, if logged yet. */
  get(functionName: string, eventId: string): AppliedEntry | undefined {
    return this.#applied.get(keyOf(functionName, eventId));
  }

  /** How many of `eventIds` the function has applied. */
  countApplied(functionName: string, eventIds: Iterable<string>): number {
    let count = 0;
    for (const eventId of eventIds) if (this.get(functionName, eventId)) count += 1;
    return count;
  }

  /**
   * When a client's full provider list went to Upheal: right after its create (sync-user), or by
   * the assignment job; undefined while neither happened.
   */
  assignedAt(eventId: string): number | undefined {
    const created = this.get('sync-user', eventId);
    if (created?.providersAssigned) return created.at;
    return this.get('assign-providers', eventId)?.at;
  }

  /** How many of `eventIds` (clients' events) had their full provider list sent. */
  countAssigned(eventIds: Iterable<string>): number {
    let count = 0;
    for (const eventId of eventIds) if (this.assignedAt(eventId) !== undefined) count += 1;
    return count;
  }

  /** Records that failed for good, and retried attempts, logged so far. */
  problems(): { failures: number; retries: number; nonJsonStderr: number } {
    return { failures: this.#failures, retries: this.#retries, nonJsonStderr: this.#nonJsonStderr };
  }

  /** Deferrals logged so far (with LOG_LEVEL=DEBUG), by event kind and error class. */
  deferrals(): Record<string, number> {
    return { ...this.#deferrals };
  }

  /** The most deferrals of one event logged so far (0 when none was deferred). */
  mostDeferralsOfOneEvent(): number {
    let most = 0;
    for (const count of this.#deferralsByEvent.values()) most = Math.max(most, count);
    return most;
  }

  /**
   * Deferrals (by error class), retries (by error class) and quarantine transitions per
   * `bucketMs` from `start` (epoch ms), from `since` on: where a run lost its calls.
   */
  eventTimeline(start: number, bucketMs: number, since = start): Record<string, number[]> {
    const perKind: Record<string, number[]> = {};
    for (const { at, kind } of this.#events) {
      if (at < since) continue;
      const bucket = Math.max(0, Math.floor((at - start) / bucketMs));
      const counts = perKind[kind] ?? [];
      perKind[kind] = counts;
      while (counts.length <= bucket) counts.push(0);
      counts[bucket]! += 1;
    }
    return perKind;
  }

  /**
   * Resolves true once `done()` holds, false after `timeoutMs`; calls `progress` about every
   * `progressMs` while waiting.
   */
  async waitUntil(
    done: () => boolean,
    options: { timeoutMs: number; progressMs: number; progress: () => void },
  ): Promise<boolean> {
    const deadline = Date.now() + options.timeoutMs;
    let nextProgress = Date.now() + options.progressMs;
    while (!done()) {
      if (Date.now() > deadline) return false;
      if (Date.now() >= nextProgress) {
        options.progress();
        nextProgress += options.progressMs;
      }
      await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
    }
    return true;
  }
}

const keyOf = (functionName: string, eventId: string) => `${functionName}\u0000${eventId}`;
