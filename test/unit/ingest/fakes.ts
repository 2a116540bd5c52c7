/** Partner events and in-memory ports for the ingest tests (injected, never module mocks). */
import type { LambdaFunctionURLEvent } from 'aws-lambda';
import type { EnqueueFailure, EventQueue, QueueableEvent } from '#lib/ingest/event-queue.ts';
import type { NonceStore } from '#lib/ingest/replay-guard.ts';

/** A valid `provider.created` event for `partnerUserId`. */
export function providerCreated(eventId: string, partnerUserId: string) {
  return {
    eventId,
    type: 'provider.created',
    occurredAt: '2026-11-27T08:00:00.000Z',
    partnerUserId,
    data: { email: `${partnerUserId}@clinic.example.com`, firstName: 'Ana', lastName: 'Ruiz' },
  } as const;
}

/** A valid `client.providers_changed` event. */
export function providersChanged(eventId: string, partnerUserId: string, providers: string[]) {
  return {
    eventId,
    type: 'client.providers_changed',
    occurredAt: '2026-11-27T08:05:00.000Z',
    partnerUserId,
    data: { providerPartnerUserIds: providers },
  } as const;
}

/** A valid `user.deleted` event. */
export function userDeleted(eventId: string, partnerUserId: string) {
  return {
    eventId,
    type: 'user.deleted',
    occurredAt: '2026-11-27T08:30:00.000Z',
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

/**
 * An EventQueue that records what it was given and fails the events whose ids are listed: for a
 * passing reason (`failEventIds`) or as SQS refusing the message itself (`refuseEventIds`).
 */
export function recordingQueue(
  failEventIds: readonly string[] = [],
  refuseEventIds: readonly string[] = [],
): EventQueue & {
  readonly sent: QueueableEvent[];
} {
  const sent: QueueableEvent[] = [];
  return {
    sent,
    async enqueue(events) {
      const failures: EnqueueFailure[] = [];
      events.forEach((event, index) => {
        if (failEventIds.includes(event.eventId))
          failures.push({ index, reason: 'SQS InternalError', permanent: false });
        else if (refuseEventIds.includes(event.eventId))
          failures.push({ index, reason: 'SQS InvalidMessageContents', permanent: true });
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

/** A function-URL (payload 2.0) event as AWS delivers it, with only what ingest reads filled in. */
export function functionUrlEvent(options: {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}): LambdaFunctionURLEvent {
  const method = options.method ?? 'POST';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/',
    rawQueryString: '',
    headers: options.headers ?? {},
    requestContext: {
      accountId: '000000000000',
      apiId: 'test',
      domainName: 'test.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'test',
      http: { method, path: '/', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' },
      requestId: 'req-1',
      routeKey: '$default',
      stage: '$default',
      time: '27/Nov/2026:10:00:00 +0000',
      timeEpoch: 1_795_770_000_000,
    },
    isBase64Encoded: options.isBase64Encoded ?? false,
    ...(options.body === undefined ? {} : { body: options.body }),
  };
}

/** A logger that keeps every line as JSON text, for asserting what is (and is not) logged. */
export function capturingLogger() {
  const lines: string[] = [];
  const write = (level: string) => (message: string, attributes: Record<string, unknown>) => {
    lines.push(JSON.stringify({ level, message, ...attributes }));
  };
  return { lines, info: write('INFO'), error: write('ERROR') };
}
