/**
 * A small model of SQS FIFO delivery to Lambda consumers, on a virtual clock, for the model-based
 * test. It keeps what the sync's correctness depends on and nothing else:
 *
 * - message groups: only the first message of a group can be received, and while it is invisible
 *   (in flight, deferred, waiting to be retried, or lost with a dead worker) the group waits;
 *   different groups interleave in a random order;
 * - every receive counts (`ApproximateReceiveCount`), and SQS's own redrive policy moves a message
 *   to the DLQ when it is received more than `backstopReceives` times (no failure record then);
 * - a record that throws goes through `decide()` of `lib/sqs/outcome-policy.ts` with the same
 *   inputs as the production consumer (`lib/sqs/consumer.ts`): defer (not counted), retry
 *   (counted; after `maxAttempts` real failures the message is dead-lettered and recorded as
 *   failed), or fail (recorded, removed; dead-lettered too when the policy says so);
 * - a worker crash (`WorkerCrash`) is no outcome at all: the message comes back after its
 *   visibility timeout, with the same message id;
 * - a lost acknowledgement: the work succeeded but the message comes back anyway (duplicate
 *   delivery of the same message);
 * - follow-up messages (assignment commands) enter their own queue after each delivery;
 * - arrivals from outside at a virtual time (Upheal's webhooks, through the receiver, onto the
 *   Upheal-webhooks queue): the run goes on until none is due any more.
 *
 * Deliveries run one at a time, or two at once interleaved operation by operation in a seeded
 * order (`interleave`), so a seed replays the same run.
 */
import { backoff, decide, describeError } from '#lib/sqs/outcome-policy.ts';
import { type CrashPoint, WorkerCrash } from './crash.ts';

/** The virtual clock every component of a case reads. */
export class VirtualClock {
  #now: number;

  constructor(start: number) {
    this.#now = start;
  }

  readonly now = (): number => this.#now;

  advanceTo(time: number): void {
    this.#now = Math.max(this.#now, time);
  }

  advanceBy(ms: number): void {
    this.#now += ms;
  }
}

/**
 * Which queue a message is on. `sync-user` consumes both the live `user-events` and the bulk
 * `imports` queue: one user's messages on the two are separate message groups, so they may run
 * at the same time. `upheal-webhooks` holds the heal commands of Upheal's webhooks.
 */
export type QueueName = 'user-events' | 'imports' | 'assignments' | 'upheal-webhooks';

/** Messages that arrive from outside the run at virtual times (Upheal's webhooks). */
export interface Arrivals {
  /** The messages that arrive by `now` (called before every delivery). */
  due(now: number): Promise<Outgoing[]>;
  /** When the next one may arrive; undefined when nothing more is coming. */
  nextAt(): number | undefined;
}

/** Message id prefixes per queue. */
const ID_PREFIX: Readonly<Record<QueueName, string>> = {
  'user-events': 'm',
  imports: 'm',
  assignments: 'a',
  'upheal-webhooks': 'w',
};

/** A message to send. */
export interface Outgoing {
  readonly queue: QueueName;
  /** The FIFO message group. */
  readonly group: string;
  readonly body: string;
  /** The partner event this message carries or was caused by, for the ledger. */
  readonly eventId?: string | undefined;
}

/** A message in the model's queues. */
export interface ModelMessage extends Outgoing {
  readonly messageId: string;
  receiveCount: number;
  /** Real (non-deferral) failures counted by the consumer. */
  failures: number;
  firstReceivedAt: number | undefined;
  visibleAt: number;
}

/** How a message left the queues. */
export type Terminal =
  | { readonly kind: 'applied'; readonly outcome: string }
  | {
      readonly kind: 'failed';
      readonly reason: string;
      /** Dead-lettered after exhausting its retries (true) or failed permanently (false). */
      readonly deadLettered: boolean;
    }
  | {
      /** Moved to the DLQ by SQS's redrive policy: the consumer never saw a last attempt. */
      readonly kind: 'dead-lettered-by-sqs';
      readonly receives: number;
    };

/** Awaited before every port operation of a delivery: lets concurrent deliveries interleave. */
export type Gate = () => Promise<void>;

/**
 * The work of one delivery; resolves with the outcome's kind, throws like the use case. It must
 * pass every port operation (reads included) through `gate`.
 */
export type Work = (
  message: ModelMessage,
  crash: CrashPoint | undefined,
  gate: Gate,
) => Promise<string>;

/** Limits and probabilities of a run (the limits as production sets them). */
export interface DeliveryOptions {
  readonly random: () => number;
  readonly clock: VirtualClock;
  /** SYNC_MAX_ATTEMPTS. */
  readonly maxAttempts: number;
  /** DEPENDENCY_WAIT_SECONDS, in ms. */
  readonly dependencyWaitMs: number;
  /** UPHEAL_WEBHOOK_WAIT_SECONDS, in ms: how long a create answered 409 waits for the webhook. */
  readonly webhookWaitMs?: number | undefined;
  /** Messages from outside, at virtual times (Upheal's webhooks). */
  readonly arrivals?: Arrivals | undefined;
  /**
   * Hears every message that ends failed, before the run goes on (the consumer's failure
   * record: later work, a heal, may clear it).
   */
  readonly onFailed?: ((message: ModelMessage, reason: string) => Promise<void>) | undefined;
  /** The queue's visibility timeout: how long a dead worker's message stays invisible. */
  readonly visibilityTimeoutMs: number;
  /** The queue's redrive `maxReceiveCount`. */
  readonly backstopReceives: number;
  /** Probability that a delivery's worker dies at a random side effect. */
  readonly crashRate: number;
  /** Highest side effect a crash may hit (deliveries have a handful). */
  readonly maxCrashStep: number;
  /** Probability that a second message is delivered at the same time as the first. */
  readonly concurrency: number;
  /** Probability that a successful delivery's acknowledgement is lost. */
  readonly lostAckRate: number;
  /** Virtual time one delivery takes. */
  readonly deliveryMs: number;
  /** Deliveries after which the run stops even if messages remain. */
  readonly maxDeliveries: number;
  /** Prefix of message ids, so the ids of a re-drive differ from the first run's. */
  readonly idPrefix?: string | undefined;
  /** Hears one line per delivery (ids and outcomes only), to explain a failing case. */
  readonly trace?: ((line: string) => void) | undefined;
}

/** What happened during a run. */
export interface DeliveryStats {
  deliveries: number;
  /** Deliveries that ran at the same time as another one. */
  concurrent: number;
  deferrals: number;
  retries: number;
  crashes: number;
  lostAcks: number;
  failed: number;
  deadLettered: number;
  deadLetteredBySqs: number;
}

/** The result of a run. */
export interface DeliveryReport {
  /** Terminal outcome per message id (the last one, for a redelivered message). */
  readonly terminals: ReadonlyMap<string, Terminal>;
  /** Every message ever sent, by id. */
  readonly messages: ReadonlyMap<string, ModelMessage>;
  /** Messages still queued when the run stopped (empty unless `maxDeliveries` was reached). */
  readonly undelivered: readonly ModelMessage[];
  /** Message groups in which a worker died at least once. */
  readonly crashedGroups: ReadonlySet<string>;
  /** Message groups of which a message ran at the same time as another delivery. */
  readonly concurrentGroups: ReadonlySet<string>;
  readonly stats: DeliveryStats;
}

/**
 * Runs deliveries as if at the same time, deterministically: one port operation at a time,
 * the next one chosen at random among the deliveries waiting at their gate. A delivery runs
 * (without interruption) from one gate to the next, as its own code would between two awaits of
 * I/O.
 */
async function interleave<T>(
  tasks: readonly ((gate: Gate) => Promise<T>)[],
  random: () => number,
): Promise<PromiseSettledResult<T>[]> {
  // Per delivery, its operations waiting at the gate (more than one when it awaits several at
  // once, as with Promise.all).
  const waiting = new Map<number, (() => void)[]>();
  let live = tasks.length;
  const grant = () => {
    // Only when every live delivery waits: then nothing else is running.
    if (waiting.size === 0 || waiting.size < live) return;
    const ids = [...waiting.keys()];
    const id = ids[Math.floor(random() * ids.length)]!;
    // A delivery's operations awaited together run together, as they would.
    const resumes = waiting.get(id)!;
    waiting.delete(id);
    for (const resume of resumes) resume();
  };
  return Promise.allSettled(
    tasks.map(async (task, id) => {
      try {
        return await task(
          () =>
            new Promise<void>((resolve) => {
              const queue = waiting.get(id);
              if (queue) queue.push(resolve);
              else waiting.set(id, [resolve]);
              grant();
            }),
        );
      } finally {
        live -= 1;
        grant();
      }
    }),
  );
}

/** Queued FIFO messages, grouped, in arrival order per group. */
class FifoQueues {
  readonly #groups = new Map<string, ModelMessage[]>();

  push(message: ModelMessage): void {
    const key = `${message.queue}\u0000${message.group}`;
    const group = this.#groups.get(key);
    if (group) group.push(message);
    else this.#groups.set(key, [message]);
  }

  remove(message: ModelMessage): void {
    const key = `${message.queue}\u0000${message.group}`;
    const group = this.#groups.get(key)!;
    group.splice(group.indexOf(message), 1);
    if (group.length === 0) this.#groups.delete(key);
  }

  /** The first message of every group: the only ones SQS FIFO may deliver. */
  heads(): ModelMessage[] {
    return [...this.#groups.values()].map((group) => group[0]!);
  }

  all(): ModelMessage[] {
    return [...this.#groups.values()].flat();
  }

  get size(): number {
    return this.#groups.size;
  }
}

/**
 * Sends `plan` (interleaved with deliveries at random points) and delivers until the queues are
 * empty; `followUps` collects the messages a delivery caused (assignment commands).
 */
export async function runDeliveries(
  plan: readonly Outgoing[],
  work: Work,
  followUps: () => Promise<Outgoing[]>,
  options: DeliveryOptions,
): Promise<DeliveryReport> {
  const { random, clock } = options;
  const queues = new FifoQueues();
  const messages = new Map<string, ModelMessage>();
  const terminals = new Map<string, Terminal>();
  const stats: DeliveryStats = {
    deliveries: 0,
    concurrent: 0,
    deferrals: 0,
    retries: 0,
    crashes: 0,
    lostAcks: 0,
    failed: 0,
    deadLettered: 0,
    deadLetteredBySqs: 0,
  };
  const pending = [...plan];
  const crashedGroups = new Set<string>();
  const concurrentGroups = new Set<string>();
  let sent = 0;

  const send = (outgoing: Outgoing) => {
    sent += 1;
    const message: ModelMessage = {
      ...outgoing,
      messageId: `${options.idPrefix ?? ''}${ID_PREFIX[outgoing.queue]}-${sent}`,
      receiveCount: 0,
      failures: 0,
      firstReceivedAt: undefined,
      visibleAt: clock.now(),
    };
    messages.set(message.messageId, message);
    queues.push(message);
  };
  const finish = (message: ModelMessage, terminal: Terminal) => {
    terminals.set(message.messageId, terminal);
    queues.remove(message);
  };

  const failed: { message: ModelMessage; reason: string }[] = [];
  while (stats.deliveries < options.maxDeliveries) {
    for (const next of (await options.arrivals?.due(clock.now())) ?? []) send(next);
    // The partner keeps publishing while the consumers work.
    if (pending.length > 0 && (queues.size === 0 || random() < 0.5)) {
      send(pending.shift()!);
      continue;
    }
    const heads = queues.heads();
    const arrival = options.arrivals?.nextAt();
    if (heads.length === 0 && arrival === undefined) break;
    const visible = heads.filter((message) => message.visibleAt <= clock.now());
    if (visible.length === 0) {
      clock.advanceTo(Math.min(...heads.map((message) => message.visibleAt), arrival ?? Infinity));
      continue;
    }
    // One delivery, or two at once (different groups, or one user's event and its client's
    // assignment command, which SQS hands to two consumers in parallel).
    const first = visible[Math.floor(random() * visible.length)]!;
    const batch = [first];
    if (visible.length > 1 && random() < options.concurrency) {
      const others = visible.filter((message) => message !== first);
      const sameUser = others.filter((message) => message.group === first.group);
      const pool = sameUser.length > 0 ? sameUser : others;
      batch.push(pool[Math.floor(random() * pool.length)]!);
    }
    const started: { message: ModelMessage; crash: CrashPoint | undefined; label: string }[] = [];
    for (const message of batch) {
      // SQS's redrive policy: a receive beyond maxReceiveCount moves the message to the DLQ.
      if (message.receiveCount >= options.backstopReceives) {
        stats.deadLetteredBySqs += 1;
        finish(message, { kind: 'dead-lettered-by-sqs', receives: message.receiveCount });
        continue;
      }
      message.receiveCount += 1;
      message.firstReceivedAt ??= clock.now();
      message.visibleAt = Number.POSITIVE_INFINITY;
      stats.deliveries += 1;
      const crash: CrashPoint | undefined =
        random() < options.crashRate
          ? {
              step: 1 + Math.floor(random() * options.maxCrashStep),
              afterEffect: random() < 0.5,
            }
          : undefined;
      const label = `${message.messageId} ${message.queue}/${message.group} receive ${message.receiveCount}${crash ? ` crash@${crash.step}${crash.afterEffect ? '+' : '-'}` : ''}${batch.length > 1 ? ' (concurrent)' : ''}`;
      started.push({ message, crash, label });
    }
    if (started.length > 1) {
      stats.concurrent += started.length;
      for (const { message } of started) concurrentGroups.add(message.group);
    }
    const results = await interleave(
      started.map(
        ({ message, crash }) =>
          (gate: Gate) =>
            work(message, crash, gate),
      ),
      random,
    );
    clock.advanceBy(options.deliveryMs);
    started.forEach(({ message, label }, index) => {
      const result = results[index]!;
      if (result.status === 'fulfilled') {
        const outcome = result.value;
        options.trace?.(`${label}: ${outcome}`);
        if (random() < options.lostAckRate) {
          stats.lostAcks += 1;
          terminals.set(message.messageId, { kind: 'applied', outcome });
          message.visibleAt = clock.now() + options.visibilityTimeoutMs;
        } else {
          finish(message, { kind: 'applied', outcome });
        }
        return;
      }
      const error: unknown = result.reason;
      options.trace?.(`${label}: ${describeError(error)}`);
      if (error instanceof WorkerCrash) {
        stats.crashes += 1;
        crashedGroups.add(message.group);
        message.visibleAt = clock.now() + options.visibilityTimeoutMs;
        return;
      }
      const decision = decide(error, {
        receives: message.receiveCount,
        waitedMs: clock.now() - message.firstReceivedAt!,
        dependencyWaitMs: options.dependencyWaitMs,
        ...(options.webhookWaitMs === undefined ? {} : { webhookWaitMs: options.webhookWaitMs }),
        receivesLeft: options.backstopReceives - message.receiveCount,
      });
      if (decision.action === 'defer') {
        stats.deferrals += 1;
        message.visibleAt = clock.now() + decision.delayMs;
      } else if (decision.action === 'retry') {
        message.failures += 1;
        if (message.failures < options.maxAttempts) {
          stats.retries += 1;
          message.visibleAt = clock.now() + backoff(message.failures, random);
        } else {
          stats.deadLettered += 1;
          const reason = `dead-lettered after ${message.failures} attempts: ${describeError(error)}`;
          finish(message, { kind: 'failed', reason, deadLettered: true });
          failed.push({ message, reason });
        }
      } else {
        // Recorded as failed; valid work that ran out of receives is also kept in the DLQ.
        if (decision.deadLetter) stats.deadLettered += 1;
        else stats.failed += 1;
        finish(message, {
          kind: 'failed',
          reason: decision.reason,
          deadLettered: decision.deadLetter === true,
        });
        failed.push({ message, reason: decision.reason });
      }
    });
    for (const { message, reason } of failed.splice(0)) await options.onFailed?.(message, reason);
    for (const next of await followUps()) send(next);
  }
  return {
    terminals,
    messages,
    undelivered: queues.all(),
    crashedGroups,
    concurrentGroups,
    stats,
  };
}
