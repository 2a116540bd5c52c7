/**
 * Upheal's webhook payloads. Upheal documents neither the event names nor the envelope, only that
 * a user-created event carries the `partnerUserId` we gave at creation. The shape below is the
 * guessed one the simulator sends (`{type, userId, partnerUserId, organizationId, userType,
 * timestamp}`); every other event, and unknown fields of a known one, are accepted and passed
 * over, so a change on Upheal's side never makes us refuse its deliveries.
 */
import * as z from 'zod';
import { parseWith } from '#lib/events/validation.ts';
import { USER_KINDS, type UserKind } from '#lib/store/mapping-store.ts';

/** The event types this product acts on. */
export const WEBHOOK_EVENT_TYPES = { userCreated: 'user.created' } as const;

/** Upheal's `userType` values of the users we create. */
export const UPHEAL_USER_TYPES = { provider: 'HealthcareProvider', client: 'Client' } as const;

/** The longest event type echoed in logs; longer or odd values are logged as `(other)`. */
const LOGGABLE_TYPE = /^[A-Za-z0-9_.-]{1,64}$/;

/** An id as Upheal and the partner use them: non-empty, bounded, no whitespace. */
const Id = z.string().min(1).max(128).regex(/^\S+$/, 'must be an id without spaces');

/** A user-created event; unknown fields are kept out of the parsed value. */
const UserCreatedSchema = z.looseObject({
  type: z.literal(WEBHOOK_EVENT_TYPES.userCreated),
  userId: Id,
  /** Absent for users created in Upheal's own app rather than by us. */
  partnerUserId: Id.optional(),
  userType: z.string().optional(),
  organizationId: z.string().optional(),
});

/** The envelope every payload must have: a JSON object with a string `type`. */
const EnvelopeSchema = z.looseObject({ type: z.string().min(1) });

/** A parsed webhook: a user created, or anything else (kept only by its type name). */
export type UphealWebhookEvent =
  | {
      readonly kind: 'user-created';
      readonly uphealUserId: string;
      readonly partnerUserId: string | undefined;
      /** Our kind of the user, when Upheal's `userType` names one we know. */
      readonly userKind: UserKind | undefined;
    }
  | { readonly kind: 'unknown'; readonly type: string };

/**
 * Parses a decoded payload. Throws ValidationError naming the field when it is not an object with
 * a `type`, or when a user-created event lacks its ids; any other type is `unknown`, not an error.
 */
export function parseWebhookEvent(payload: unknown): UphealWebhookEvent {
  const envelope = parseWith(EnvelopeSchema, payload, 'webhook');
  if (envelope.type !== WEBHOOK_EVENT_TYPES.userCreated) {
    return { kind: 'unknown', type: envelope.type };
  }
  const event = parseWith(UserCreatedSchema, payload, 'webhook');
  return {
    kind: 'user-created',
    uphealUserId: event.userId,
    partnerUserId: event.partnerUserId,
    userKind: kindOf(event.userType),
  };
}

/** Our user kind for Upheal's `userType`, if it is one we create. */
export function kindOf(userType: string | undefined): UserKind | undefined {
  if (userType === UPHEAL_USER_TYPES.provider) return USER_KINDS.provider;
  if (userType === UPHEAL_USER_TYPES.client) return USER_KINDS.client;
  return undefined;
}

/** An event type safe to log (Upheal's own names), or `(other)`. */
export function loggableType(type: string): string {
  return LOGGABLE_TYPE.test(type) ? type : '(other)';
}
