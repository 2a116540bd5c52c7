/**
 * A pool of worker processes for one function: the local counterpart of Lambda's warm instances.
 * Each worker is a separate Node process (`child_process.fork` of `worker-host.ts` with this Node)
 * that runs one invocation at a time; idle workers are reused, more are started on demand (the
 * callers bound concurrency, as Lambda's event source mappings do). A worker that exceeds the
 * function timeout is killed and forgotten, like a Lambda instance after `Task timed out`; one that
 * crashes is replaced by a fresh one on the next invocation (a cold start).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { MS_PER_SECOND } from '#lib/time.ts';
import type { InvokeRequest, WorkerMessage, WorkerSpec } from '#tools/local/worker-protocol.ts';

/** The worker entry point, run by Node's type stripping like the CLI. */
const WORKER_HOST_PATH = fileURLToPath(new URL('./worker-host.ts', import.meta.url));

/** Lambda gives the init phase (importing the bundle) 10 s. */
const INIT_TIMEOUT_MS = 10_000;
/** How long a worker may take to exit after SIGTERM before it is SIGKILLed. */
const TERMINATE_GRACE_MS = 2_000;
/** The niceness of a low-priority worker: the lowest priority, CPU only when others leave it. */
export const LOW_PRIORITY_NICENESS = 19;
/** Lambda's Node runtime leaves ~10 % of the memory to the runtime outside the V8 heap. */
const HEAP_SHARE_OF_MEMORY = 0.9;

/** One line a worker wrote to stdout or stderr (CloudWatch Logs, locally). */
export interface WorkerLogLine {
  readonly functionName: string;
  /** Sequence number of the worker within its pool (1, 2, …): the log stream. */
  readonly workerId: number;
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
}

/** Receives every line workers print. */
export type LogSink = (entry: WorkerLogLine) => void;

/** Writes worker lines to this process's stderr, prefixed with the function and worker. */
export const stderrLogSink: LogSink = (entry) => {
  process.stderr.write(`[${entry.functionName}#${entry.workerId}] ${entry.line}\n`);
};

/** How an invocation ended, in Lambda's terms. */
export type InvokeOutcome =
  | { readonly kind: 'response'; readonly response: unknown }
  | { readonly kind: 'error'; readonly errorType: string; readonly errorMessage: string }
  /** The process exited or failed to initialise (Runtime.ExitError / init errors). */
  | { readonly kind: 'crash'; readonly detail: string }
  | { readonly kind: 'timeout' };

/** What a pool needs to start workers of one function. */
export interface WorkerPoolOptions {
  readonly functionName: string;
  /** The built bundle (`dist/functions/<name>/index.mjs`); it must export `handler`. */
  readonly bundlePath: string;
  /** The function's whole environment: workers do not inherit this process's. */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly memoryLimitInMB: number;
  readonly region: string;
  /** Run the workers at the lowest CPU priority (LOW_PRIORITY_NICENESS; default false). */
  readonly lowPriority?: boolean;
  readonly logSink?: LogSink;
}

/** The warm instances of one function. */
export class WorkerPool {
  readonly #options: WorkerPoolOptions;
  readonly #idle: WorkerProcess[] = [];
  readonly #all = new Set<WorkerProcess>();
  #nextId = 1;
  #stopped = false;

  constructor(options: WorkerPoolOptions) {
    this.#options = options;
  }

  /** Process ids of the live workers (for tests and diagnostics). */
  get pids(): number[] {
    return [...this.#all].flatMap((worker) => (worker.pid === undefined ? [] : [worker.pid]));
  }

  /** Runs one invocation on an idle worker, or on a new one. */
  async invoke(event: unknown): Promise<InvokeOutcome> {
    if (this.#stopped) return { kind: 'crash', detail: 'worker pool stopped' };
    const worker = this.#idle.pop() ?? this.#spawn();
    const outcome = await worker.invoke(event, this.#options.timeoutSeconds * MS_PER_SECOND);
    // A dead or discarded worker leaves the pool when its process has exited (see #spawn), so
    // stop() still waits for it.
    if (worker.alive && !this.#stopped) this.#idle.push(worker);
    return outcome;
  }

  /**
   * Starts `count` workers and waits until each has imported its bundle (or failed to): warm
   * instances before the first event, as provisioned concurrency would keep them. Resolves with
   * how many are warm; one that failed its init is gone, and the next invocation starts it cold.
   */
  async warm(count: number): Promise<number> {
    const workers = Array.from({ length: count }, () => this.#spawn());
    const started = await Promise.all(workers.map((worker) => worker.ready()));
    const warm = workers.filter((worker, index) => started[index] && worker.alive);
    if (!this.#stopped) this.#idle.push(...warm);
    return warm.length;
  }

  /** Terminates every worker and waits for all of them to exit. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#idle.length = 0;
    await Promise.all([...this.#all].map((worker) => worker.terminate()));
    this.#all.clear();
  }

  #spawn(): WorkerProcess {
    const worker = new WorkerProcess(this.#options, this.#nextId++, () => this.#forget(worker));
    this.#all.add(worker);
    return worker;
  }

  #forget(worker: WorkerProcess): void {
    this.#all.delete(worker);
    const index = this.#idle.indexOf(worker);
    if (index >= 0) this.#idle.splice(index, 1);
  }
}

/** One worker process and its single in-flight invocation, if any. */
class WorkerProcess {
  readonly #child: ChildProcess;
  readonly #ready: Promise<string | undefined>;
  readonly #exited: Promise<void>;
  #alive = true;
  #pending: ((message: WorkerMessage) => void) | undefined;

  constructor(options: WorkerPoolOptions, id: number, onExit: () => void) {
    const spec: WorkerSpec = {
      bundlePath: options.bundlePath,
      functionName: options.functionName,
      memoryLimitInMB: options.memoryLimitInMB,
      region: options.region,
    };
    this.#child = fork(WORKER_HOST_PATH, [JSON.stringify(spec)], {
      execPath: process.execPath,
      // Never inherit the parent's flags (test runners add loaders); size the heap like Lambda.
      execArgv: [
        `--max-old-space-size=${Math.floor(options.memoryLimitInMB * HEAP_SHARE_OF_MEMORY)}`,
      ],
      env: { ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const sink = options.logSink ?? stderrLogSink;
    if (options.lowPriority && this.#child.pid !== undefined) {
      try {
        setPriority(this.#child.pid, LOW_PRIORITY_NICENESS);
      } catch (error) {
        // Not permitted here (or the process is gone): it runs at normal priority, and says so.
        sink({
          functionName: options.functionName,
          workerId: id,
          stream: 'stderr',
          line: `worker priority not lowered: ${(error as Error).message}`,
        });
      }
    }
    this.#child.on('error', (error) =>
      sink({
        functionName: options.functionName,
        workerId: id,
        stream: 'stderr',
        line: `worker process error: ${error.message}`,
      }),
    );
    for (const stream of ['stdout', 'stderr'] as const) {
      const source = this.#child[stream];
      if (!source) continue;
      createInterface({ input: source, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
        sink({ functionName: options.functionName, workerId: id, stream, line }),
      );
    }
    this.#exited = new Promise((resolve) => {
      this.#child.once('exit', (code, signal) => {
        this.#alive = false;
        onExit();
        this.#pending?.({
          type: 'error',
          awsRequestId: '',
          errorType: 'Runtime.ExitError',
          errorMessage: `worker exited (code ${code}, signal ${signal})`,
        });
        resolve();
      });
    });
    // Resolves with undefined once the bundle is imported, or with why it never will be.
    this.#ready = new Promise((resolve) => {
      const timer = setTimeout(() => {
        resolve('init timed out');
        this.#child.kill('SIGKILL');
      }, INIT_TIMEOUT_MS);
      const onMessage = (message: WorkerMessage) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        this.#child.off('message', onMessage);
        resolve(undefined);
      };
      this.#child.on('message', onMessage);
      void this.#exited.then(() => {
        clearTimeout(timer);
        resolve('worker exited during init');
      });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Resolves once the bundle is imported (true), or the worker failed to start (false). */
  async ready(): Promise<boolean> {
    return (await this.#ready) === undefined;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  async invoke(event: unknown, timeoutMs: number): Promise<InvokeOutcome> {
    const initFailure = await this.#ready;
    if (initFailure || !this.#alive) return { kind: 'crash', detail: initFailure ?? 'worker gone' };
    const request: InvokeRequest = {
      type: 'invoke',
      awsRequestId: randomUUID(),
      event,
      deadlineMs: Date.now() + timeoutMs,
    };
    return new Promise<InvokeOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.#pending = undefined;
        this.#child.off('message', onMessage);
        // Lambda discards an instance whose invocation timed out; never reuse it, even before
        // its exit is reported.
        this.#alive = false;
        this.#child.kill('SIGKILL');
        resolve({ kind: 'timeout' });
      }, timeoutMs);
      const settle = (message: WorkerMessage) => {
        clearTimeout(timer);
        this.#pending = undefined;
        this.#child.off('message', onMessage);
        if (message.type === 'response') resolve({ kind: 'response', response: message.response });
        else if (message.type === 'error' && message.errorType === 'Runtime.ExitError')
          resolve({ kind: 'crash', detail: message.errorMessage });
        else if (message.type === 'error')
          resolve({
            kind: 'error',
            errorType: message.errorType,
            errorMessage: message.errorMessage,
          });
      };
      const onMessage = (message: WorkerMessage) => {
        if (message.type !== 'ready' && message.awsRequestId === request.awsRequestId)
          settle(message);
      };
      this.#pending = settle;
      this.#child.on('message', onMessage);
      // A failed send means the worker is exiting; its exit settles this invocation as a crash.
      this.#child.send(request, () => {});
    });
  }

  /** SIGTERM, then SIGKILL after a grace period; resolves once the process has exited. */
  async terminate(): Promise<void> {
    if (!this.#alive) return this.#exited;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), TERMINATE_GRACE_MS);
    await this.#exited;
    clearTimeout(timer);
  }
}
