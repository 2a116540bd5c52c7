/**
 * The behaviour of the seven Upheal endpoints over the user store, as pure functions from a
 * parsed request to a reply. Statuses follow upheal-api.md §8: 400 for invalid input (naming the
 * field, never echoing values), 409 for a duplicate client, 400 (or 409) for a duplicate provider,
 * the configured status for unknown ids, 400 for updates of deactivated users.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { describeIssues } from './options.ts';
import type { UphealRouteName } from './routes.ts';
import {
  CheckUserBody,
  CreateClientBody,
  CreateProviderBody,
  ReplaceProvidersBody,
  UpdateProviderBody,
  UpdateUserBody,
  USER_TYPES,
} from './schemas.ts';
import { type Conflict, isConflict, type SimUser, type UserStore } from './user-store.ts';

/** What an endpoint answers: a status and an optional JSON body (or plain text). */
export interface Reply {
  readonly status: number;
  readonly body?: unknown;
  /** Sent as `text/plain` instead of a JSON body. */
  readonly text?: string;
}

/** Statuses the simulator answers with. */
export const STATUS = {
  ok: 200,
  noContent: 204,
  badRequest: 400,
  unauthorized: 401,
  notFound: 404,
  conflict: 409,
  payloadTooLarge: 413,
  tooManyRequests: 429,
  serverError: 500,
  serviceUnavailable: 503,
} as const;

/** Options of the endpoints that tests switch (upheal-api.md §8 rows 6 and 9). */
export interface EndpointOptions {
  readonly duplicateProviderStatus: 400 | 409;
  readonly notFoundStatus: 404 | 403 | 400;
}

/** Everything an endpoint needs: the store, its options, path parameters and the parsed body. */
export interface EndpointRequest {
  readonly store: UserStore;
  readonly options: EndpointOptions;
  readonly params: Readonly<Record<string, string>>;
  /** The parsed JSON body; undefined when the request had none. */
  readonly body: unknown;
}

/** Where links in responses point (example hosts of the reference pages). */
const APP_ORIGIN = 'https://app.upheal.io';
const ROOM_ORIGIN = 'https://upheal.io';
/** Random bytes in a private-room slug (no names: they would be personal data). */
const ROOM_SLUG_BYTES = 4;

/** A 400/4xx reply with a small `{message}` body. */
export function errorReply(status: number, message: string): Reply {
  return { status, body: { message } };
}

type Parsed<T> = { ok: true; data: T } | { ok: false; reply: Reply };

function parseBody<Schema extends z.ZodType>(
  schema: Schema,
  body: unknown,
): Parsed<z.infer<Schema>> {
  if (body === undefined)
    return { ok: false, reply: errorReply(STATUS.badRequest, 'body: required') };
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, data: result.data };
  return { ok: false, reply: errorReply(STATUS.badRequest, describeIssues(result.error)) };
}

function notFound(options: EndpointOptions, field: string): Reply {
  return errorReply(options.notFoundStatus, `${field}: user not found`);
}

function conflictReply(status: number, conflict: Conflict): Reply {
  return errorReply(
    status,
    `${conflict.conflict}: a user with this ${conflict.conflict} already exists`,
  );
}

const deactivated = (field: string): Reply =>
  errorReply(STATUS.badRequest, `${field}: user is deactivated`);

/** The U8 user shape, returned by the user update. */
function userView(user: SimUser): Record<string, unknown> {
  return {
    userId: user.userId,
    firstName: user.firstName,
    lastName: user.lastName,
    email: user.email,
    userType: user.userType,
    phoneNumber: user.phoneNumber,
    phoneCountryCode: user.phoneCountryCode,
    pronoun: user.pronoun,
    partnerUserId: user.partnerUserId,
    dateOfBirth: user.dateOfBirth,
    defaultNoteTemplateIds: user.defaultNoteTemplateIds,
  };
}

/** The U9 provider shape, returned by the provider update. */
function providerView(user: SimUser): Record<string, unknown> {
  return {
    userId: user.userId,
    firstName: user.firstName,
    lastName: user.lastName,
    email: user.email,
    defaultNoteTemplateIds: user.defaultNoteTemplateIds ?? [],
    nationalProviderIdentifier: user.nationalProviderIdentifier,
    therapyLicence: user.therapyLicence,
    partnerUserId: user.partnerUserId,
    phoneNumber: user.phoneNumber,
    phoneCountryCode: user.phoneCountryCode,
    noteIdentifier: user.noteIdentifier,
  };
}

function checkUser({ store, body }: EndpointRequest): Reply {
  const parsed = parseBody(CheckUserBody, body);
  if (!parsed.ok) return parsed.reply;
  const user = store.getByEmail(parsed.data.email);
  if (!user) return { status: STATUS.ok, body: { isUserExists: false } };
  return {
    status: STATUS.ok,
    body: { isUserExists: true, userId: user.userId, email: user.email, isActive: user.isActive },
  };
}

function createProvider({ store, options, body }: EndpointRequest): Reply {
  const parsed = parseBody(CreateProviderBody, body);
  if (!parsed.ok) return parsed.reply;
  const created = store.create({ ...parsed.data, userType: USER_TYPES.provider });
  if (isConflict(created)) return conflictReply(options.duplicateProviderStatus, created);
  return {
    status: STATUS.ok,
    body: {
      userId: created.userId,
      inviteUrl: `${APP_ORIGIN}/invite/${randomUUID()}`,
      privateRoomLink: `${ROOM_ORIGIN}/room-${randomBytes(ROOM_SLUG_BYTES).toString('hex')}`,
      partnerUserId: created.partnerUserId,
      defaultNoteTemplateIds: created.defaultNoteTemplateIds,
      noteIdentifier: created.noteIdentifier,
    },
  };
}

function createClient({ store, body }: EndpointRequest): Reply {
  const parsed = parseBody(CreateClientBody, body);
  if (!parsed.ok) return parsed.reply;
  const therapist = store.get(parsed.data.therapistUserId);
  if (therapist?.userType !== USER_TYPES.provider) {
    return errorReply(STATUS.badRequest, 'therapistUserId: no such provider');
  }
  const { therapistUserId, ...fields } = parsed.data;
  const created = store.create({
    ...fields,
    userType: USER_TYPES.client,
    providerUserIds: [therapistUserId],
  });
  if (isConflict(created)) return conflictReply(STATUS.conflict, created);
  return {
    status: STATUS.ok,
    body: {
      userId: created.userId,
      clientSessionUrl: `${APP_ORIGIN}/client/${randomUUID()}`,
      therapistSessionUrl: `${APP_ORIGIN}/therapist/${randomUUID()}`,
      partnerUserId: created.partnerUserId,
      defaultNoteTemplateIds: created.defaultNoteTemplateIds,
    },
  };
}

function updateUser({ store, options, params, body }: EndpointRequest): Reply {
  const parsed = parseBody(UpdateUserBody, body);
  if (!parsed.ok) return parsed.reply;
  // Only the Upheal id is accepted here (upheal-api.md §8 row 10).
  const user = store.get(params.userId ?? '');
  if (!user) return notFound(options, 'userId');
  if (!user.isActive) return deactivated('userId');
  const updated = store.update(user, parsed.data);
  if (isConflict(updated)) return conflictReply(STATUS.badRequest, updated);
  return { status: STATUS.ok, body: userView(updated) };
}

function updateProvider({ store, options, params, body }: EndpointRequest): Reply {
  const parsed = parseBody(UpdateProviderBody, body);
  if (!parsed.ok) return parsed.reply;
  const user = store.getByIdOrPartnerId(params.providerUserId ?? '');
  if (!user) return notFound(options, 'providerUserId');
  if (user.userType !== USER_TYPES.provider) {
    return errorReply(STATUS.badRequest, 'providerUserId: user is not a provider');
  }
  if (!user.isActive) return deactivated('providerUserId');
  store.update(user, parsed.data);
  return { status: STATUS.ok, body: providerView(user) };
}

function replaceProviders({ store, options, params, body }: EndpointRequest): Reply {
  const parsed = parseBody(ReplaceProvidersBody, body);
  if (!parsed.ok) return parsed.reply;
  const user = store.getByIdOrPartnerId(params.userId ?? '');
  if (!user) return notFound(options, 'userId');
  if (user.userType !== USER_TYPES.client) {
    return errorReply(STATUS.badRequest, 'userId: user is not a client');
  }
  if (!user.isActive) return deactivated('userId');
  const ids = parsed.data.providerUserIds;
  for (const [index, id] of ids.entries()) {
    if (store.get(id)?.userType !== USER_TYPES.provider) {
      return errorReply(STATUS.badRequest, `providerUserIds.${index}: no such provider`);
    }
  }
  // A full-list replace; repeated ids collapse to one assignment.
  store.update(user, { providerUserIds: [...new Set(ids)] });
  return { status: STATUS.ok, body: { providerUserIds: user.providerUserIds } };
}

function deleteUser({ store, options, params }: EndpointRequest): Reply {
  const user = store.get(params.userId ?? '');
  if (!user) return notFound(options, 'userId');
  store.delete(user);
  return { status: STATUS.noContent };
}

/** The behaviour behind each route of UPHEAL_ROUTES. */
export const ENDPOINTS: Readonly<Record<UphealRouteName, (request: EndpointRequest) => Reply>> = {
  check: checkUser,
  createProvider,
  createClient,
  updateUser,
  updateProvider,
  replaceProviders,
  deleteUser,
};
