/**
 * The embeddable Upheal simulator: `node:http`, the seven endpoints of the integration guide, the
 * shared per-key rate limit, seeded faults, and an introspection API under `/__sim/` (outside
 * Upheal's contract, no auth) that tests and the benchmark read over HTTP. See docs/simulator.md.
 * One file (about 600 lines) because the routes, faults, outage, webhooks and introspection share
 * the one request loop and its state; the endpoint logic itself lives in `endpoints.ts`.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ConfigError } from '#lib/errors.ts';
import { MS_PER_SECOND } from '#lib/time.ts';
import { ENDPOINTS, errorReply, type Reply, STATUS } from './endpoints.ts';
import { FAULT_KINDS, FaultInjector } from './faults.ts';
import {
  describeIssues,
  ERROR_BODY_FORMS,
  type ErrorBodyForm,
  type FaultOptions,
  FaultOptionsSchema,
  OUTAGE_MODES,
  type OutageMode,
  OutageOptionsSchema,
  parseOptions,
  type RateLimitOptions,
  RateLimitOptionsSchema,
  RETRY_AFTER_FORMS,
  type SimulatorOptions,
  type SimulatorOptionsInput,
  SimulatorOptionsSchema,
  type WebhookOptions,
  WebhookOptionsSchema,
} from './options.ts';
import { matchRoute, RATE_LIMITED_PREFIX, UPHEAL_ROUTES } from './routes.ts';
import { type SeedUser, SeedUsersBody } from './schemas.ts';
import { type Arrival, Traffic, type TrafficStats } from './traffic.ts';
import { isConflict, type SimUser, UserStore } from './user-store.ts';
import { WebhookSender, type WebhookStats } from './webhook-sender.ts';

/** Routes of the introspection API (not Upheal's; no auth, no rate limit). */
export const SIM_ROUTES = {
  listUsers: { method: 'GET', path: '/__sim/users' },
  seedUsers: { method: 'POST', path: '/__sim/users' },
  deactivateUser: { method: 'POST', path: '/__sim/users/{userId}/deactivate' },
  activateUser: { method: 'POST', path: '/__sim/users/{userId}/activate' },
  stats: { method: 'GET', path: '/__sim/stats' },
  arrivals: { method: 'GET', path: '/__sim/arrivals' },
  options: { method: 'GET', path: '/__sim/options' },
  setFaults: { method: 'PUT', path: '/__sim/faults' },
  setRateLimit: { method: 'PUT', path: '/__sim/rate-limit' },
  setOutage: { method: 'PUT', path: '/__sim/outage' },
  setWebhooks: { method: 'PUT', path: '/__sim/webhooks' },
  webhookStats: { method: 'GET', path: '/__sim/webhooks' },
  reset: { method: 'POST', path: '/__sim/reset' },
} as const;

/** Prefix of the introspection API. */
export const SIM_PREFIX = '/__sim/';

/** Largest request body accepted (Upheal's limit is unknown; ours only guards the simulator). */
const MAX_BODY_BYTES = 1_048_576;
/** `Retry-After` in seconds is never below one second. */
const MIN_RETRY_AFTER_SECONDS = 1;
/**
 * Idle keep-alive sockets stay open this long, like a load balancer in front of an API (Node's
 * default of 5 s would close sockets a keep-alive client still counts on, causing spurious resets).
 */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
/** The header a client can quote in diagnostics. */
const REQUEST_ID_HEADER = 'x-request-id';
/** `Authorization: Bearer <key>` (scheme case-insensitive, RFC 9110 §11.1). */
const BEARER = /^Bearer +(\S+)\s*$/i;

/** Fault options to change; latency bounds merge one by one. */
export type FaultOptionsPatch = Partial<Omit<FaultOptions, 'latencyMs'>> & {
  latencyMs?: Partial<FaultOptions['latencyMs']>;
};

/** A running simulator. */
export interface Simulator {
  /** Base URL, e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  readonly port: number;
  /** The options it runs with (rate limit and faults as last set). */
  options(): SimulatorOptions;
  /** Every user, as `GET /__sim/users`. */
  users(): SimUser[];
  /** Counts over the arrivals at or after `since` (default all), as `GET /__sim/stats?since=`. */
  stats(since?: number): TrafficStats;
  /** The arrival log from index `from`, as `GET /__sim/arrivals?from=`. */
  arrivals(from?: number): Arrival[];
  /** Merges fault options (re-seeding the PRNG), as `PUT /__sim/faults`. */
  setFaults(faults: FaultOptionsPatch): FaultOptions;
  /** Merges webhook options (URL, secret, scheme, retries, disorder), as `PUT /__sim/webhooks`. */
  setWebhooks(webhooks: Partial<WebhookOptions>): WebhookOptions;
  /** Counts of the webhooks sent, as `GET /__sim/webhooks`. */
  webhookStats(): WebhookStats;
  /** Resolves when every webhook delivery in flight has been delivered or abandoned. */
  webhooksSettled(): Promise<void>;
  /** Merges rate-limit options (limiter state restarts), as `PUT /__sim/rate-limit`. */
  setRateLimit(rateLimit: Partial<RateLimitOptions>): RateLimitOptions;
  /** Starts or ends an outage (every Upheal route 503, or 401), as `PUT /__sim/outage`. */
  setOutage(mode: OutageMode): OutageMode;
  /** Clears users, stats, the log and limiter state, and re-seeds faults, as `POST /__sim/reset`. */
  reset(): void;
  /** Adds existing users (e.g. providers already in Upheal), as `POST /__sim/users`. */
  seedUsers(users: SeedUser | SeedUser[]): SimUser[];
  /** Marks a user deactivated or active again, as `POST /__sim/users/{id}/deactivate|activate`. */
  setActive(userId: string, isActive: boolean): SimUser;
  /** Marks a user deactivated (updates then answer 400); `setActive(userId, false)`. */
  deactivate(userId: string): SimUser;
  /** Closes the server and every connection, hung ones included. */
  stop(): Promise<void>;
}

/** The monotonic clock of the arrival log, aligned to the Unix epoch at process start. */
function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The simulator's state and behaviour, independent of the socket layer. */
class SimulatorCore {
  readonly store = new UserStore();
  readonly faults: FaultInjector;
  readonly traffic: Traffic;
  readonly webhooks: WebhookSender;
  options: SimulatorOptions;

  constructor(options: SimulatorOptions) {
    this.options = options;
    this.faults = new FaultInjector(options.faults);
    this.webhooks = new WebhookSender(options.webhooks);
    this.traffic = new Traffic(options.rateLimit, options.apiKeys.length, monotonicNow);
  }

  setFaults(input: unknown): FaultOptions {
    const given = asObject(input);
    const current = this.options.faults;
    // Latency merges field by field too, so `{latencyMs: {max: 50}}` keeps the current min.
    const latencyMs =
      typeof given.latencyMs === 'object' && given.latencyMs !== null
        ? { ...current.latencyMs, ...given.latencyMs }
        : (given.latencyMs ?? current.latencyMs);
    const faults = parseOptions(FaultOptionsSchema, { ...current, ...given, latencyMs }, 'faults');
    this.options = { ...this.options, faults };
    this.faults.configure(faults);
    return faults;
  }

  setWebhooks(input: unknown): WebhookOptions {
    const webhooks = parseOptions(
      WebhookOptionsSchema,
      { ...this.options.webhooks, ...asObject(input) },
      'webhooks',
    );
    this.options = { ...this.options, webhooks };
    this.webhooks.configure(webhooks);
    return webhooks;
  }

  setRateLimit(input: unknown): RateLimitOptions {
    const rateLimit = parseOptions(
      RateLimitOptionsSchema,
      { ...this.options.rateLimit, ...asObject(input) },
      'rateLimit',
    );
    this.options = { ...this.options, rateLimit };
    this.traffic.configure(rateLimit);
    return rateLimit;
  }

  setOutage(input: unknown): OutageMode {
    const { mode } = parseOptions(OutageOptionsSchema, asObject(input), 'outage');
    this.options = { ...this.options, outage: mode };
    return mode;
  }

  reset(): void {
    this.store.clear();
    this.traffic.reset();
    this.faults.reseed();
  }

  seedUsers(input: unknown): SimUser[] {
    const parsed = SeedUsersBody.safeParse(Array.isArray(input) ? input : [input]);
    if (!parsed.success) throw new ConfigError(describeIssues(parsed.error));
    const created: SimUser[] = [];
    for (const [index, seed] of parsed.data.entries()) {
      const user = this.store.create(seed);
      if (isConflict(user)) {
        // All or nothing: undo this batch's earlier users.
        for (const done of created) this.store.delete(this.store.get(done.userId)!);
        throw new ConfigError(
          `${index}.${user.conflict}: a user with this ${user.conflict} already exists`,
        );
      }
      created.push(structuredClone(user));
    }
    return created;
  }

  setActive(userId: string, isActive: boolean): SimUser | undefined {
    const user = this.store.get(userId);
    if (!user) return undefined;
    user.isActive = isActive;
    return structuredClone(user);
  }

  publicOptions(): Omit<SimulatorOptions, 'apiKeys' | 'webhooks'> & {
    apiKeys: number;
    webhooks: Omit<WebhookOptions, 'secret'> & { secret: boolean };
  } {
    // The keys and the webhook secret are secrets even here: only whether they are set is shown.
    const { secret, ...webhooks } = this.options.webhooks;
    return {
      ...this.options,
      apiKeys: this.options.apiKeys.length,
      webhooks: { ...webhooks, secret: secret !== undefined },
    };
  }
}

function asObject(input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError('(body): expected a JSON object');
  }
  return input as Record<string, unknown>;
}

/** Reads the whole body; undefined when empty. Rejects bodies over MAX_BODY_BYTES. */
function readBody(request: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new RangeError('body too large'));
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () =>
      resolve(size === 0 ? undefined : Buffer.concat(chunks).toString('utf8')),
    );
    request.on('error', reject);
  });
}

type JsonBody = { ok: true; value: unknown } | { ok: false; reply: Reply };

function parseJson(text: string | undefined): JsonBody {
  if (text === undefined || text.trim() === '') return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, reply: errorReply(STATUS.badRequest, 'body: not valid JSON') };
  }
}

/** Reshapes an error answer's body as configured (success answers are left alone). */
function shapeError(reply: Reply, form: ErrorBodyForm): Reply {
  if (reply.status < STATUS.badRequest || form === ERROR_BODY_FORMS.json) return reply;
  if (form === ERROR_BODY_FORMS.empty) return { status: reply.status };
  const message = (reply.body as { message?: string } | undefined)?.message ?? '';
  return { status: reply.status, text: message };
}

function send(response: ServerResponse, reply: Reply, headers: Record<string, string> = {}): void {
  if (response.destroyed) return;
  const head: Record<string, string> = { [REQUEST_ID_HEADER]: randomUUID(), ...headers };
  if (reply.text !== undefined) {
    response
      .writeHead(reply.status, {
        ...head,
        'content-type': 'text/plain; charset=utf-8',
        'content-length': String(Buffer.byteLength(reply.text)),
      })
      .end(reply.text);
    return;
  }
  if (reply.body === undefined || reply.status === STATUS.noContent) {
    response.writeHead(reply.status, head).end();
    return;
  }
  const payload = JSON.stringify(reply.body);
  response
    .writeHead(reply.status, {
      ...head,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(payload)),
    })
    .end(payload);
}

function retryAfterHeader(
  form: RateLimitOptions['retryAfter'],
  retryAfterMs: number,
): Record<string, string> {
  switch (form) {
    case RETRY_AFTER_FORMS.none:
      return {};
    case RETRY_AFTER_FORMS.seconds:
      return {
        'retry-after': String(
          Math.max(MIN_RETRY_AFTER_SECONDS, Math.ceil(retryAfterMs / MS_PER_SECOND)),
        ),
      };
    case RETRY_AFTER_FORMS.httpDate: {
      // HTTP-dates have whole seconds: round up so the client never comes back too early.
      const when = Math.ceil((Date.now() + retryAfterMs) / MS_PER_SECOND) * MS_PER_SECOND;
      return { 'retry-after': new Date(when).toUTCString() };
    }
  }
}

/** Everything the HTTP layer needs to forget when the simulator stops. */
interface Pending {
  readonly timers: Set<NodeJS.Timeout>;
  stopping: boolean;
}

function sleep(pending: Pending, ms: number): Promise<void> {
  if (ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      pending.timers.delete(timer);
      resolve();
    }, ms);
    pending.timers.add(timer);
  });
}

async function handleUpheal(
  core: SimulatorCore,
  pending: Pending,
  request: IncomingMessage,
  response: ServerResponse,
  path: string,
): Promise<void> {
  // The arrival time is taken before any await, so the log stays in time order.
  const at = core.traffic.now();
  const reply = (answer: Reply, headers?: Record<string, string>): void =>
    send(response, shapeError(answer, core.options.errorBody), headers);
  const match = matchRoute(UPHEAL_ROUTES, request.method ?? '', path);
  const route = match?.name ?? 'unknown';
  const key = BEARER.exec(request.headers.authorization ?? '')?.[1];
  const keyIndex = key === undefined ? -1 : core.options.apiKeys.indexOf(key);
  if (core.options.outage === OUTAGE_MODES.unavailable) {
    // The outage answers in front of the API: no limit is counted, nothing takes effect.
    const arrival = core.traffic.arriveUnauthenticated(route, at);
    request.resume();
    reply(errorReply(STATUS.serviceUnavailable, 'service unavailable (simulated outage)'));
    core.traffic.answer(arrival, STATUS.serviceUnavailable);
    return;
  }
  if (keyIndex < 0 || core.options.outage === OUTAGE_MODES.unauthorized) {
    const arrival = core.traffic.arriveUnauthenticated(route, at);
    request.resume();
    reply(errorReply(STATUS.unauthorized, 'Authorization: missing or invalid API key'));
    core.traffic.answer(arrival, STATUS.unauthorized);
    return;
  }
  const { arrival, decision } = core.traffic.arrive(keyIndex, route, at);
  const draw = core.faults.draw();
  let text: string | undefined;
  try {
    text = await readBody(request);
  } catch {
    reply(errorReply(STATUS.payloadTooLarge, 'body: too large'));
    core.traffic.answer(arrival, STATUS.payloadTooLarge);
    return;
  }
  // Latency delays every answer, 429s included; the limiter decided at arrival.
  await sleep(pending, draw.latencyMs);
  if (pending.stopping) return;
  if (!decision.allowed) {
    send(
      response,
      errorReply(STATUS.tooManyRequests, 'rate limit exceeded'),
      retryAfterHeader(
        core.options.rateLimit.retryAfter,
        Math.max(0, decision.retryAfterMs - (core.traffic.now() - at)),
      ),
    );
    core.traffic.answer(arrival, STATUS.tooManyRequests);
    return;
  }
  if (draw.fault === FAULT_KINDS.hang) {
    // Never answered; stop() destroys the socket.
    core.traffic.answer(arrival, 'hang');
    return;
  }
  if (draw.fault === FAULT_KINDS.reset) {
    core.traffic.answer(arrival, 'reset');
    request.socket.destroy();
    return;
  }
  if (draw.fault === FAULT_KINDS.serverError) {
    reply(errorReply(STATUS.serverError, 'internal server error (simulated)'));
    core.traffic.answer(arrival, STATUS.serverError);
    return;
  }
  const outcome = answerUpheal(core, match, text);
  // "Created but failed": the request took effect, the client only sees a 500.
  const final =
    draw.fault === FAULT_KINDS.createdButFailed
      ? errorReply(STATUS.serverError, 'internal server error (simulated)')
      : outcome;
  reply(final);
  core.traffic.answer(arrival, final.status);
  // A user was created (whatever the client heard): Upheal announces it by webhook.
  if ((route === 'createProvider' || route === 'createClient') && outcome.status === STATUS.ok) {
    const user = core.store.get((outcome.body as { userId: string }).userId);
    if (user) core.webhooks.userCreated(user);
  }
}

function answerUpheal(
  core: SimulatorCore,
  match: ReturnType<typeof matchRoute<keyof typeof UPHEAL_ROUTES>>,
  text: string | undefined,
): Reply {
  if (!match) return errorReply(STATUS.notFound, 'route: not found');
  const json = parseJson(text);
  if (!json.ok) return json.reply;
  return ENDPOINTS[match.name]({
    store: core.store,
    options: core.options,
    params: match.params,
    body: json.value,
  });
}

async function handleSim(
  core: SimulatorCore,
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
): Promise<void> {
  const match = matchRoute(SIM_ROUTES, request.method ?? '', url.pathname);
  const text = await readBody(request).catch(() => undefined);
  if (!match) {
    send(response, errorReply(STATUS.notFound, 'route: not found'));
    return;
  }
  const json = parseJson(text);
  if (!json.ok) {
    send(response, json.reply);
    return;
  }
  const ok = (body: unknown) => send(response, { status: STATUS.ok, body });
  try {
    switch (match.name) {
      case 'listUsers':
        return ok(core.store.list());
      case 'seedUsers':
        return ok(core.seedUsers(json.value));
      case 'deactivateUser':
      case 'activateUser': {
        const user = core.setActive(match.params.userId ?? '', match.name === 'activateUser');
        if (!user) return send(response, errorReply(STATUS.notFound, 'userId: user not found'));
        return ok(user);
      }
      case 'stats': {
        const since = Number(url.searchParams.get('since') ?? Number.NEGATIVE_INFINITY);
        if (Number.isNaN(since)) {
          return send(response, errorReply(STATUS.badRequest, 'since: expected a number'));
        }
        return ok(core.traffic.stats(since));
      }
      case 'arrivals': {
        const from = Number(url.searchParams.get('from') ?? 0);
        if (!Number.isInteger(from) || from < 0) {
          return send(
            response,
            errorReply(STATUS.badRequest, 'from: expected a non-negative integer'),
          );
        }
        return ok(core.traffic.arrivals(from));
      }
      case 'options':
        return ok(core.publicOptions());
      case 'setFaults':
        return ok(core.setFaults(json.value ?? {}));
      case 'setRateLimit':
        return ok(core.setRateLimit(json.value ?? {}));
      case 'setOutage':
        return ok({ mode: core.setOutage(json.value ?? {}) });
      case 'setWebhooks': {
        const { secret: _secret, ...shown } = core.setWebhooks(json.value ?? {});
        return ok(shown);
      }
      case 'webhookStats':
        return ok(core.webhooks.stats());
      case 'reset':
        core.reset();
        return send(response, { status: STATUS.noContent });
    }
  } catch (error) {
    if (error instanceof ConfigError)
      return send(response, errorReply(STATUS.badRequest, error.message));
    throw error;
  }
}

function isUphealPath(path: string): boolean {
  return path === RATE_LIMITED_PREFIX || path.startsWith(`${RATE_LIMITED_PREFIX}/`);
}

async function handleUnknown(request: IncomingMessage, response: ServerResponse): Promise<void> {
  request.resume();
  send(response, errorReply(STATUS.notFound, 'route: not found'));
}

function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/**
 * Starts a simulator on `host:port` (default 127.0.0.1 and a random port). Options are validated;
 * a bad one throws ConfigError naming it.
 */
export async function startSimulator(options: SimulatorOptionsInput = {}): Promise<Simulator> {
  const parsed = parseOptions(SimulatorOptionsSchema, options);
  const core = new SimulatorCore(parsed);
  const pending: Pending = { timers: new Set(), stopping: false };
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const handled = url.pathname.startsWith(SIM_PREFIX)
      ? handleSim(core, request, response, url)
      : isUphealPath(url.pathname)
        ? handleUpheal(core, pending, request, response, url.pathname)
        : handleUnknown(request, response);
    handled.catch(() => {
      if (!response.headersSent)
        send(response, errorReply(STATUS.serverError, 'simulator failure'));
    });
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  const port = await listen(server, parsed.port, parsed.host);
  let stopped: Promise<void> | undefined;
  const setActive = (userId: string, isActive: boolean): SimUser => {
    const user = core.setActive(userId, isActive);
    if (!user) throw new ConfigError('userId: user not found');
    return user;
  };
  // Plain closures, not methods: callers may pass `simulator.stop` around unbound.
  return {
    url: `http://${parsed.host}:${port}`,
    port,
    options: () => structuredClone(core.options),
    users: () => core.store.list(),
    stats: (since) => core.traffic.stats(since),
    arrivals: (from = 0) => core.traffic.arrivals(from),
    setFaults: (faults) => core.setFaults(faults),
    setRateLimit: (rateLimit) => core.setRateLimit(rateLimit),
    setOutage: (mode) => core.setOutage({ mode }),
    setWebhooks: (webhooks) => core.setWebhooks(webhooks),
    webhookStats: () => core.webhooks.stats(),
    webhooksSettled: () => core.webhooks.settled(),
    reset: () => core.reset(),
    seedUsers: (users) => core.seedUsers(users),
    setActive,
    deactivate: (userId) => setActive(userId, false),
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        pending.stopping = true;
        core.webhooks.stop();
        for (const timer of pending.timers) clearTimeout(timer);
        pending.timers.clear();
        server.close(() => resolve());
        // Hung and keep-alive connections would hold close() open forever.
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
