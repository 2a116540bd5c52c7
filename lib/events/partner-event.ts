/**
 * The ongoing-sync contract (SPEC §5): one partner event per SQS message body or HTTPS POST.
 * `created` and `updated` both carry the user's full state and are upserts downstream. Unknown
 * fields and unknown types are rejected with a `ValidationError` naming the field by dotted path.
 */
import { z } from 'zod';
import { ValidationError } from '#lib/errors.ts';
import type { UserKind } from '#lib/store/mapping-store.ts';
import {
  ClientFieldsSchema,
  IdSchema,
  ProviderFieldsSchema,
  ProviderPartnerUserIdsSchema,
} from './user-fields.ts';
import { parseWith } from './validation.ts';

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
 * path (`data.email`, `data.providerPartnerUserIds.1`); reasons never echo values.
 */
export function parsePartnerEvent(input: unknown, location?: string): PartnerEvent {
  return parseWith(PartnerEventSchema, input, location);
}

/**
 * Validates one raw message body. Text that is not JSON fails on field `(body)`; the JSON
 * parser's own message is not kept, because it quotes the text (clinical data).
 */
export function parsePartnerEventJson(text: string, location?: string): PartnerEvent {
  let decoded: unknown;
  try {
    decoded = JSON.parse(text);
  } catch {
    throw new ValidationError([{ field: BODY_FIELD, reason: 'is not valid JSON' }], location);
  }
  return parsePartnerEvent(decoded, location);
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

/** `occurredAt` in epoch milliseconds, the version to compare events of one user by (SPEC §3.3). */
export function occurredAtMs(event: PartnerEvent): number {
  return Date.parse(event.occurredAt);
}
