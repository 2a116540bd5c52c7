/** Factories of partner events for tests: valid by default, overridable per field. */
import type { PartnerEvent } from '#lib/events/partner-event.ts';
import type { ClientFields, ProviderFields } from '#lib/events/user-fields.ts';

let sequence = 0;
const BASE_TIME = Date.parse('2026-11-27T10:00:00.000Z');

/** A fresh event id. */
export function nextEventId(): string {
  sequence += 1;
  return `evt-${String(sequence).padStart(6, '0')}`;
}

/** An ISO timestamp `minutes` after a fixed base time (events are ordered by it). */
export function at(minutes: number): string {
  return new Date(BASE_TIME + minutes * 60_000).toISOString();
}

/** Provider fields of a fake provider. */
export function providerFields(
  id: string,
  overrides: Partial<ProviderFields> = {},
): ProviderFields {
  return {
    email: `${id}@example.com`,
    firstName: `First${id}`,
    lastName: `Last${id}`,
    ...overrides,
  };
}

/** Client fields of a fake client of the given providers. */
export function clientFields(
  id: string,
  providers: string[],
  overrides: Partial<ClientFields> = {},
): ClientFields {
  return {
    email: `${id}@example.com`,
    firstName: `First${id}`,
    lastName: `Last${id}`,
    providerPartnerUserIds: providers,
    ...overrides,
  };
}

/** A `provider.created` or `provider.updated` event. */
export function providerEvent(
  id: string,
  minutes: number,
  overrides: Partial<ProviderFields> = {},
  type: 'provider.created' | 'provider.updated' = 'provider.created',
): PartnerEvent {
  return {
    eventId: nextEventId(),
    type,
    occurredAt: at(minutes),
    partnerUserId: id,
    data: providerFields(id, overrides),
  };
}

/** A `client.created` or `client.updated` event. */
export function clientEvent(
  id: string,
  providers: string[],
  minutes: number,
  overrides: Partial<ClientFields> = {},
  type: 'client.created' | 'client.updated' = 'client.created',
): PartnerEvent {
  return {
    eventId: nextEventId(),
    type,
    occurredAt: at(minutes),
    partnerUserId: id,
    data: clientFields(id, providers, overrides),
  };
}

/** A `client.providers_changed` event. */
export function providersChanged(id: string, providers: string[], minutes: number): PartnerEvent {
  return {
    eventId: nextEventId(),
    type: 'client.providers_changed',
    occurredAt: at(minutes),
    partnerUserId: id,
    data: { providerPartnerUserIds: providers },
  };
}

/** A `user.deleted` event. */
export function deleted(id: string, minutes: number): PartnerEvent {
  return {
    eventId: nextEventId(),
    type: 'user.deleted',
    occurredAt: at(minutes),
    partnerUserId: id,
  };
}
