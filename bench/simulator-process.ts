/**
 * The Upheal simulator in its own process, as Upheal is its own server: the arrival times it
 * logs (from which every rate and peak is computed) are then taken on an event loop that the
 * local AWS emulators, the log sink and the benchmark's own bookkeeping never block. The parent
 * talks to it over the simulator's introspection API (`/__sim/…`, docs/simulator.md).
 *
 * Run as a child: `node bench/simulator-process.ts '<SimulatorOptionsInput as JSON>'`; it sends
 * `{ url }` over IPC once listening and stops when the parent disconnects.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SimulatorOptionsInput } from '#tools/simulator/options.ts';
import type { SeedUser } from '#tools/simulator/schemas.ts';
import { SIM_ROUTES, startSimulator } from '#tools/simulator/server.ts';
import type { Arrival, TrafficStats } from '#tools/simulator/traffic.ts';

/** The simulator in a child process, read over HTTP. */
export interface RemoteSimulator {
  readonly url: string;
  seedUsers(users: readonly SeedUser[]): Promise<void>;
  /** The arrival log from index `from` on. */
  arrivals(from?: number): Promise<Arrival[]>;
  stats(): Promise<TrafficStats>;
  stop(): Promise<void>;
}

/** How long the child may take to listen. */
const START_TIMEOUT_MS = 15_000;
const THIS_FILE = fileURLToPath(import.meta.url);

async function simRequest<T>(url: string, method: string, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (!response.ok)
    throw new Error(`simulator ${method} ${new URL(url).pathname}: ${response.status}`);
  return (await response.json()) as T;
}

/** Forks the simulator with `options` and resolves once it listens. */
export async function startRemoteSimulator(
  options: SimulatorOptionsInput,
): Promise<RemoteSimulator> {
  const child = fork(THIS_FILE, [JSON.stringify(options)], {
    execPath: process.execPath,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('simulator did not start')), START_TIMEOUT_MS);
    child.once('message', (message) => {
      clearTimeout(timer);
      resolve((message as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    seedUsers: async (users) => {
      await simRequest(`${url}${SIM_ROUTES.seedUsers.path}`, 'POST', users);
    },
    arrivals: (from = 0) => simRequest(`${url}${SIM_ROUTES.arrivals.path}?from=${from}`, 'GET'),
    stats: () => simRequest(`${url}${SIM_ROUTES.stats.path}`, 'GET'),
    stop: async () => {
      if (child.exitCode === null) child.disconnect();
      await exited;
    },
  };
}

async function runChild(): Promise<void> {
  const simulator = await startSimulator(
    JSON.parse(process.argv[2] ?? '{}') as SimulatorOptionsInput,
  );
  process.send?.({ url: simulator.url });
  process.once('disconnect', () => {
    simulator.stop().then(() => process.exit(0));
  });
}

if (process.argv[1] === THIS_FILE && process.send) {
  runChild().catch((error: unknown) => {
    process.stderr.write(`simulator failed: ${error instanceof Error ? error.message : error}\n`);
    process.exit(1);
  });
}
