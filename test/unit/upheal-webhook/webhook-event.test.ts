/** Upheal's webhook payloads: user-created events, an unknown fallback, errors naming fields. */
import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { loggableType, parseWebhookEvent } from '#lib/upheal-webhook/webhook-event.ts';

describe('parseWebhookEvent', () => {
  it('reads a user-created event, ignoring fields it does not know', () => {
    expect(
      parseWebhookEvent({
        type: 'user.created',
        userId: 'u-1',
        partnerUserId: 'c-1',
        userType: 'Client',
        organizationId: 'org-1',
        timestamp: '2026-12-02T08:00:00.000Z',
        somethingNew: { nested: true },
      }),
    ).toEqual({
      kind: 'user-created',
      uphealUserId: 'u-1',
      partnerUserId: 'c-1',
      userKind: 'client',
    });
  });

  it('maps Upheal user types to ours, and leaves others unknown', () => {
    const kindOf = (userType: string) =>
      parseWebhookEvent({ type: 'user.created', userId: 'u-1', userType });
    expect(kindOf('HealthcareProvider')).toMatchObject({
      userKind: 'provider',
      partnerUserId: undefined,
    });
    expect(kindOf('OrgAdmin')).toMatchObject({ userKind: undefined });
  });

  it('passes any other event type over as unknown', () => {
    expect(parseWebhookEvent({ type: 'processing.finished', sessionId: 's-1' })).toEqual({
      kind: 'unknown',
      type: 'processing.finished',
    });
  });

  it.each([
    [[], '(root)'],
    [{ userId: 'u-1' }, 'type'],
    [{ type: 'user.created', partnerUserId: 'c-1' }, 'userId'],
    [{ type: 'user.created', userId: 'has space' }, 'userId'],
  ])('refuses %j naming %s', (payload, field) => {
    try {
      parseWebhookEvent(payload);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((issue) => issue.field)).toContain(field);
    }
  });

  it('logs only plausible type names', () => {
    expect(loggableType('user.created')).toBe('user.created');
    expect(loggableType('zeb.q@example.com has <script>')).toBe('(other)');
  });
});
