/** Partner events and in-memory ports for the ingest tests (injected, never module mocks). */
import type { EnqueueFailure, EventQueue, QueueableEvent } from '#lib/ingest/event-queue.ts';
import type { NonceStore } from '#lib/ingest/replay-guard.ts';

/** A valid `provider.created` event for `partnerUserId`. */
export function providerCreated(eventId: string, partnerUserId: string) {
  return {
    eventId,
    type: 'provider.created',
    occurredAt: '2026-11-27T10:00:00.000Z',
    partnerUserId,
    data: { email: `${partnerUserId}@clinic.example.com`, firstName: 'Ana', lastName: 'Ruiz' },
  } as const;
}

/** A valid `client.providers_changed` event. */
export function providersChanged(eventId: string, partnerUserId: string, providers: string[]) {
  return {
    eventId,
    type: 'client.providers_changed',
    occurredAt: '2026-11-27T10:05:00.000Z',
    partnerUserId,
    data: { providerPartnerUserIds: providers },
  } as const;
}

/** A valid `user.deleted` event. */
export function userDeleted(eventId: string, partnerUserId: string) {
  return {
    eventId,
    type: 'user.deleted',
    occurredAt: '2026-11-27T11:00:00.000Z',
    partnerUserId,
  } as const;
}

/** A NonceStore in memory, with the same expiry semantics as the DynamoDB one. */
export function memoryNonceStore(): NonceStore & { readonly nonces: Map<string, number> } {
  const nonces = new Map<string, number>();
  return {
    nonces,
    async claim(nonce, expiresAtMs, nowMs) {
      const expiresAt = nonces.get(nonce);
      if (expiresAt !== undefined && expiresAt >= nowMs) return false;
      nonces.set(nonce, expiresAtMs);
      return true;
    },
    async release(nonce) {
      nonces.delete(nonce);
    },
  };
}

/** An EventQueue that records what it was given and fails the events whose ids are listed. */
export function recordingQueue(failEventIds: readonly string[] = []): EventQueue & {
  readonly sent: QueueableEvent[];
} {
  const sent: QueueableEvent[] = [];
  return {
    sent,
    async enqueue(events) {
      const failures: EnqueueFailure[] = [];
      events.forEach((event, index) => {
        if (failEventIds.includes(event.eventId))
          failures.push({ index, reason: 'SQS InternalError' });
        else
          sent.push({
            eventId: event.eventId,
            partnerUserId: event.partnerUserId,
            body: event.body,
          });
      });
      return failures;
    },
  };
}
