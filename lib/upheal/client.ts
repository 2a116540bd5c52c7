/**
 * The typed Upheal client: one method per operation of the integration guide, on `node:http` with
 * keep-alive and connect/headers/body timeouts (`#lib/http.ts`). It validates every request body
 * before sending (a ValidationError names the field), decodes every 2xx with a tolerant schema, and
 * turns every failure into an error from `#lib/errors.ts` via `http-errors.ts`. It never retries
 * and never paces: retries belong to the queue (`decide` in `lib/sqs/outcome-policy.ts`) and pacing
 * to the limiter, so each policy lives in one place. It logs nothing — bodies carry clinical data
 * and the provider's `inviteUrl` is a credential.
 */
import * as z from 'zod';
import {
  ConfigError,
  type FieldIssue,
  UnexpectedResponseError,
  ValidationError,
} from '#lib/errors.ts';
import {
  closeAgents,
  type HttpResponse,
  type KeepAliveAgents,
  keepAliveAgents,
  sendHttp,
} from '#lib/http.ts';
import { errorFromResponse, errorFromTransport, requestIdFrom } from '#lib/upheal/http-errors.ts';
import { buildPath, type Operation, ROUTES } from '#lib/upheal/routes.ts';
import {
  CheckUserBodySchema,
  CheckUserResponseSchema,
  type CreateClientBody,
  CreateClientBodySchema,
  CreateClientResponseSchema,
  type CreateProviderBody,
  CreateProviderBodySchema,
  CreateProviderResponseSchema,
  ReplaceProvidersBodySchema,
  ReplaceProvidersResponseSchema,
  type UpdateProviderBody,
  UpdateProviderBodySchema,
  UpdateProviderResponseSchema,
  type UpdateUserBody,
  UpdateUserBodySchema,
  UpdateUserResponseSchema,
} from '#lib/upheal/schemas.ts';

export type {
  CreateClientBody,
  CreateProviderBody,
  UpdateProviderBody,
  UpdateUserBody,
} from '#lib/upheal/schemas.ts';

/** How long an idle keep-alive socket is kept for the next call (warm Lambda invocations). */
const KEEP_ALIVE_TIMEOUT_MS = 10_000;

/**
 * Largest response body read. Upheal's answers are a few hundred bytes; anything far larger is
 * not an answer this client understands, and reading it whole would only cost Lambda memory.
 */
export const MAX_RESPONSE_BYTES = 1_048_576;

/** What `onResponse` hears about every HTTP answer (never bodies). */
export interface ResponseInfo {
  readonly operation: Operation;
  readonly status: number;
  readonly durationMs: number;
}

/** Options of UphealClient. */
export interface UphealClientOptions {
  /** Base URL, e.g. `https://api.upheal.io`; a path prefix, if any, is kept. */
  readonly baseUrl: string;
  /** The API key, or a function resolving it (e.g. from SSM, cached by the caller). */
  readonly apiKey: string | (() => Promise<string>);
  /** Connect, headers and body timeout of each request, in milliseconds. */
  readonly timeoutMs: number;
  /** Called after every HTTP answer (for metrics); its own errors are swallowed. */
  readonly onResponse?: (info: ResponseInfo) => void;
}

/** Result of `checkUser`. */
export type CheckUserResult =
  | { readonly exists: false }
  | { readonly exists: true; readonly userId: string; readonly isActive: boolean | undefined };

/** Result of `createProvider`. `inviteUrl` is a single-use credential: never log or store it. */
export interface CreateProviderResult {
  readonly userId: string;
  readonly inviteUrl: string | undefined;
}

/** Result of `createClient`. */
export interface CreateClientResult {
  readonly userId: string;
}

const OptionsSchema = z.object({
  baseUrl: z.url({ protocol: /^https?$/ }),
  timeoutMs: z.number().int().positive(),
});

/** The 2xx range. */
const SUCCESS = { first: 200, last: 299 } as const;

/** One request as the client sends it. */
interface Call {
  readonly operation: Operation;
  readonly params?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

/** zod issues as field issues, without echoing any value. */
function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    field: issue.path.map(String).join('.') || '(body)',
    reason: issue.message,
  }));
}

/** Typed client of the Upheal user-management API (see module comment). */
export class UphealClient {
  readonly #baseUrl: string;
  readonly #apiKey: string | (() => Promise<string>);
  /** This client's own connection pools, kept alive between calls (warm Lambda invocations). */
  readonly #agents: KeepAliveAgents;
  readonly #timeoutMs: number;
  readonly #onResponse: ((info: ResponseInfo) => void) | undefined;

  /** Validates the options; throws ConfigError naming a bad base URL or timeout. */
  constructor(options: UphealClientOptions) {
    const parsed = OptionsSchema.safeParse(options);
    if (!parsed.success) {
      const detail = fieldIssues(parsed.error)
        .map((issue) => `${issue.field}: ${issue.reason}`)
        .join('; ');
      throw new ConfigError(`invalid Upheal client options: ${detail}`);
    }
    this.#baseUrl = parsed.data.baseUrl.replace(/\/+$/, '');
    this.#apiKey = options.apiKey;
    this.#timeoutMs = parsed.data.timeoutMs;
    this.#onResponse = options.onResponse;
    this.#agents = keepAliveAgents(KEEP_ALIVE_TIMEOUT_MS);
  }

  /** Looks a user up by email (trimmed and lower-cased first). */
  async checkUser(email: string): Promise<CheckUserResult> {
    const body = this.#validate('check', CheckUserBodySchema, {
      email: email.trim().toLowerCase(),
    });
    const response = await this.#send({ operation: 'check', body }, CheckUserResponseSchema);
    if (!response.data.isUserExists) return { exists: false };
    if (response.data.userId === undefined) {
      throw this.#unexpected('check', response, 'isUserExists is true but userId is missing');
    }
    return { exists: true, userId: response.data.userId, isActive: response.data.isActive };
  }

  /** Creates a provider (V2). Upheal answers a duplicate with 400 (or 409): check, then decide. */
  async createProvider(body: CreateProviderBody): Promise<CreateProviderResult> {
    const valid = this.#validate('createProvider', CreateProviderBodySchema, body);
    const response = await this.#send(
      { operation: 'createProvider', body: valid },
      CreateProviderResponseSchema,
    );
    return { userId: response.data.userId, inviteUrl: response.data.inviteUrl };
  }

  /** Creates a client of `therapistUserId` (V2); a duplicate answers 409 (ConflictError). */
  async createClient(body: CreateClientBody): Promise<CreateClientResult> {
    const valid = this.#validate('createClient', CreateClientBodySchema, body);
    const response = await this.#send(
      { operation: 'createClient', body: valid },
      CreateClientResponseSchema,
    );
    return { userId: response.data.userId };
  }

  /** Updates any user's common fields (V2); absent fields stay unchanged. */
  async updateUser(userId: string, body: UpdateUserBody): Promise<void> {
    const valid = this.#validate('updateUser', UpdateUserBodySchema, body);
    await this.#send(
      { operation: 'updateUser', params: { userId }, body: valid },
      UpdateUserResponseSchema,
    );
  }

  /** Updates provider-specific fields (V2); absent fields stay unchanged. */
  async updateProvider(providerUserId: string, body: UpdateProviderBody): Promise<void> {
    const valid = this.#validate('updateProvider', UpdateProviderBodySchema, body);
    await this.#send(
      { operation: 'updateProvider', params: { providerUserId }, body: valid },
      UpdateProviderResponseSchema,
    );
  }

  /** Replaces the full list of a client's providers (V1); returns the list Upheal now holds. */
  async replaceProviders(userId: string, providerUserIds: readonly string[]): Promise<string[]> {
    const valid = this.#validate('replaceProviders', ReplaceProvidersBodySchema, {
      providerUserIds,
    });
    const response = await this.#send(
      { operation: 'replaceProviders', params: { userId }, body: valid },
      ReplaceProvidersResponseSchema,
    );
    return response.data.providerUserIds;
  }

  /** Deletes a user (V1). An unknown id throws NotFoundError; the caller decides it means gone. */
  async deleteUser(userId: string): Promise<void> {
    await this.#send({ operation: 'deleteUser', params: { userId } }, undefined);
  }

  /** Closes this client's connections. */
  async close(): Promise<void> {
    closeAgents(this.#agents);
  }

  /** `input` parsed by `schema`, or a ValidationError naming each bad field. */
  #validate<Schema extends z.ZodType>(
    operation: Operation,
    schema: Schema,
    input: unknown,
  ): z.output<Schema> {
    const result = schema.safeParse(input);
    if (result.success) return result.data;
    throw new ValidationError(fieldIssues(result.error), `upheal ${operation} request`);
  }

  /**
   * Sends one request and decodes a 2xx with `schema`. An empty 2xx body decodes as `{}`, so
   * operations whose answer is not needed accept 204. Without a schema the body is drained.
   */
  async #send<Schema extends z.ZodType>(
    call: Call,
    schema: Schema | undefined,
  ): Promise<{ data: z.output<Schema>; requestId: string | undefined; status: number }> {
    const route = ROUTES[call.operation];
    const url = this.#baseUrl + buildPath(call.operation, call.params);
    const apiKey = typeof this.#apiKey === 'string' ? this.#apiKey : await this.#apiKey();
    const headers: Record<string, string> = {
      authorization: `Bearer ${apiKey}`,
      accept: 'application/json',
    };
    if (call.body !== undefined) headers['content-type'] = 'application/json';

    const started = performance.now();
    let response: HttpResponse;
    try {
      response = await sendHttp(url, {
        agents: this.#agents,
        method: route.method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        timeoutMs: this.#timeoutMs,
        maxBodyBytes: MAX_RESPONSE_BYTES,
      });
    } catch (error) {
      throw errorFromTransport(call.operation, error) ?? error;
    }
    const { status, headers: responseHeaders, text, truncated } = response;
    this.#report({
      operation: call.operation,
      status,
      durationMs: performance.now() - started,
    });

    if (status < SUCCESS.first || status > SUCCESS.last) {
      throw errorFromResponse(call.operation, status, responseHeaders, text);
    }
    const requestId = requestIdFrom(responseHeaders);
    if (schema === undefined) return { data: undefined as z.output<Schema>, requestId, status };
    if (truncated) {
      throw this.#unexpected(
        call.operation,
        { status, requestId },
        `body exceeds ${MAX_RESPONSE_BYTES} bytes`,
      );
    }

    let json: unknown;
    try {
      json = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      throw this.#unexpected(call.operation, { status, requestId }, 'body is not JSON');
    }
    const decoded = schema.safeParse(json);
    if (!decoded.success) {
      const fields = [...new Set(decoded.error.issues.map((issue) => issue.path.join('.')))];
      throw this.#unexpected(
        call.operation,
        { status, requestId },
        `unexpected fields: ${fields.join(', ') || '(body)'}`,
      );
    }
    return { data: decoded.data, requestId, status };
  }

  /** Hands `info` to `onResponse`; a failing metrics hook must not turn a success into a retry. */
  #report(info: ResponseInfo): void {
    try {
      this.#onResponse?.(info);
    } catch {
      // Deliberately ignored: see the doc comment.
    }
  }

  /**
   * An UnexpectedResponseError for a 2xx that failed decoding. The message names fields, never
   * values; the body is not kept, since a successful answer may carry credentials (inviteUrl).
   */
  #unexpected(
    operation: Operation,
    response: { status: number; requestId: string | undefined },
    detail: string,
  ): UnexpectedResponseError {
    const id = response.requestId ? ` (request id ${response.requestId})` : '';
    return new UnexpectedResponseError(
      `upheal ${operation}: HTTP ${response.status}${id}: ${detail}`,
      response.status,
      response.requestId,
      undefined,
    );
  }
}
