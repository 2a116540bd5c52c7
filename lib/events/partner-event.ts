/**
 * The ongoing-sync contract: one partner event per SQS message body or HTTPS POST. `created` and
 * `updated` both carry the user's full state and are upserts downstream. Unknown fields and
 * unknown types are rejected with a `ValidationError` naming the field by dotted path.
 *
 * Time is sane at every entry: `occurredAt` is the event's version, and a version far in the
 * future would make every later real event of that user look stale. An event dated more than a
 * small skew (default five minutes) after the validating clock is refused, at ingest, in
 * `send-events`, for import rows and again in `sync-user`.
 */
import * as z from 'zod';
import { ValidationError } from '#lib/errors.ts';
import type { UserKind } from '#lib/store/mapping-store.ts';
import {
  ClientFieldsSchema,
  IdSchema,
  ProviderFieldsSchema,
  ProviderPartnerUserIdsSchema,
} from './user-fields.ts';
import { parseWith, ROOT_FIELD } from './validation.ts';

/** The event types the partner may send. */
export const EVENT_TYPES = {
  providerCreated: 'provider.created',
  providerUpdated: 'provider.updated',
  clientCreated: 'client.created',
  clientUpdated: 'client.updated',
  clientProvidersChanged: 'client.providers_changed',
  userDeleted: 'user.deleted',
} as const;

/** One partner event type. */
export type EventType = (typeof EVENT_TYPES)[keyof typeof EVENT_TYPES];

/** Field name used when a raw message body is not JSON at all. */
export const BODY_FIELD = '(body)';

/** How far in the future `occurredAt` may be by default: clocks of two systems differ a little. */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

/** The clock an event's time is checked against. */
export interface EventClock {
  /** Now, in epoch milliseconds; defaults to `Date.now()`. */
  readonly now?: number;
  /** How far after `now` an `occurredAt` may be; defaults to DEFAULT_MAX_FUTURE_SKEW_MS. */
  readonly maxFutureSkewMs?: number;
}

/**
 * Every character SQS accepts in a message body (#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD |
 * #x10000–#x10FFFF); a body with any other is refused on every send, so it is refused here first.
 */
const SQS_BODY_TEXT = /^(?:[\t\n\r\x20-\ud7ff\ue000-\ufffd]|[\ud800-\udbff][\udc00-\udfff])*$/;

/** When the change happened in the partner system: ISO-8601 with `Z` or an explicit offset. */
const OccurredAtSchema = z.iso.datetime({
  offset: true,
  error: (issue) =>
    issue.input === undefined
      ? 'is required'
      : 'must be an ISO-8601 timestamp with Z or an offset, e.g. 2026-11-27T10:00:00.000Z',
});

/** The envelope fields every event has, with its `type` and `data` shape. */
function eventSchema<Type extends EventType, Data extends z.ZodType>(type: Type, data: Data) {
  return z.strictObject({
    eventId: IdSchema,
    type: z.literal(type),
    occurredAt: OccurredAtSchema,
    partnerUserId: IdSchema,
    data,
  });
}

/** `data` of `client.providers_changed`: the client's complete provider list, primary first. */
const ProvidersChangedDataSchema = z.strictObject({
  providerPartnerUserIds: ProviderPartnerUserIdsSchema,
});

/** `data` of `user.deleted`: absent, or an empty object. */
const DeletedDataSchema = z.strictObject({}).optional();

/** Schema of any partner event, discriminated on `type`. */
export const PartnerEventSchema = z.discriminatedUnion('type', [
  eventSchema(EVENT_TYPES.providerCreated, ProviderFieldsSchema),
  eventSchema(EVENT_TYPES.providerUpdated, ProviderFieldsSchema),
  eventSchema(EVENT_TYPES.clientCreated, ClientFieldsSchema),
  eventSchema(EVENT_TYPES.clientUpdated, ClientFieldsSchema),
  eventSchema(EVENT_TYPES.clientProvidersChanged, ProvidersChangedDataSchema),
  eventSchema(EVENT_TYPES.userDeleted, DeletedDataSchema),
]);

/** A validated partner event; `data` is narrowed by `type`. */
export type PartnerEvent = z.output<typeof PartnerEventSchema>;

/** The partner event of one given type. */
export type PartnerEventOf<Type extends EventType> = Extract<PartnerEvent, { type: Type }>;

/**
 * Validates one already-decoded event. Throws `ValidationError` listing every bad field by dotted
 * path (`data.email`, `data.providerPartnerUserIds.1`); reasons never echo values. An event a
 * queue message cannot carry, or dated too far after `clock.now`, is refused naming the field.
 */
export function parsePartnerEvent(
  input: unknown,
  location?: string,
  clock: EventClock = {},
): PartnerEvent {
  const event = parseWith(PartnerEventSchema, input, location);
  const unsendable = unsendableField(input, []);
  if (unsendable !== undefined) {
    throw new ValidationError(
      [{ field: unsendable, reason: 'contains characters a queue message cannot carry' }],
      location,
    );
  }
  const future = futureProblem(event.occurredAt, clock);
  if (future) throw new ValidationError([{ field: 'occurredAt', reason: future }], location);
  return event;
}

/**
 * Why `occurredAt` is too far in the future for `clock`, or undefined when it is not. Shared by
 * every entry that versions a change by its time (events, import rows' export time).
 */
export function futureProblem(occurredAt: string, clock: EventClock = {}): string | undefined {
  const now = clock.now ?? Date.now();
  const skewMs = clock.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
  if (Date.parse(occurredAt) <= now + skewMs) return undefined;
  return `must not be more than ${Math.round(skewMs / 1000)} seconds in the future`;
}

/**
 * The dotted path of the first string in `value` (a key or a value) whose JSON text SQS would
 * refuse, or undefined. JSON escapes control characters and lone surrogates, so only what it
 * leaves raw (U+FFFE, U+FFFF) can fail; the whole check still follows SQS's rule. A bad key is
 * named by its parent, never by itself.
 */
function unsendableField(value: unknown, path: readonly string[]): string | undefined {
  const here = path.length === 0 ? ROOT_FIELD : path.join('.');
  if (typeof value === 'string')
    return SQS_BODY_TEXT.test(JSON.stringify(value)) ? undefined : here;
  if (typeof value !== 'object' || value === null) return undefined;
  for (const [key, child] of Object.entries(value)) {
    if (!SQS_BODY_TEXT.test(JSON.stringify(key))) return here;
    const found = unsendableField(child, [...path, key]);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Validates one raw message body. Text that is not JSON fails on field `(body)`; the JSON
 * parser's own message is not kept, because it quotes the text (clinical data).
 */
export function parsePartnerEventJson(
  text: string,
  location?: string,
  clock: EventClock = {},
): PartnerEvent {
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch {
    throw new ValidationError([{ field: BODY_FIELD, reason: 'is not valid JSON' }], location);
  }
  return parsePartnerEvent(decoded, location, clock);
}

/** The kind of user an event is about (`provider.*`, `client.*`); undefined for `user.deleted`. */
export function userKindOf(event: PartnerEvent): UserKind | undefined {
  switch (event.type) {
    case EVENT_TYPES.providerCreated:
    case EVENT_TYPES.providerUpdated:
      return 'provider';
    case EVENT_TYPES.clientCreated:
    case EVENT_TYPES.clientUpdated:
    case EVENT_TYPES.clientProvidersChanged:
      return 'client';
    case EVENT_TYPES.userDeleted:
      return undefined;
  }
}

/** `occurredAt` in epoch milliseconds, the version to compare events of one user by. */
export function occurredAtMs(event: PartnerEvent): number {
  return Date.parse(event.occurredAt);
}
