/**
 * The benchmark's workload: a synthetic initial import (providers, then clients, some with several
 * providers, a few providers already in Upheal) and a trickle of live provider creates, with the
 * minimum number of Upheal calls each user needs (check + create for a new user, check + the
 * linking update for an existing one, + 1 assignment call for a multi-provider client). All data is fake
 * (`@bench.example` addresses); nothing here is clinical.
 */
import type { PartnerEvent } from '#lib/events/partner-event.ts';
import type { ClientFields, ProviderFields } from '#lib/events/user-fields.ts';
import { type SeedUser, USER_TYPES } from '#tools/simulator/schemas.ts';

/** How big the import is. */
export interface WorkloadSize {
  readonly providers: number;
  readonly clients: number;
  /** Every n-th client has a second provider (so needs one assignment call). */
  readonly multiProviderEvery: number;
  /** The first this-many providers already exist in Upheal (seeded in the simulator). */
  readonly preExistingProviders: number;
}

/** One provider of the import. */
export interface BenchProvider {
  readonly kind: 'provider';
  readonly partnerUserId: string;
  readonly fields: ProviderFields;
  /** Already in Upheal before the import: it is linked after one check. */
  readonly preExisting: boolean;
}

/** One client of the import. */
export interface BenchClient {
  readonly kind: 'client';
  readonly partnerUserId: string;
  readonly fields: ClientFields;
  readonly preExisting: false;
}

/** A user of the workload. */
export type BenchUser = BenchProvider | BenchClient;

/** The import and what Upheal holds before it. */
export interface Workload {
  readonly providers: readonly BenchProvider[];
  readonly clients: readonly BenchClient[];
  /** Users to seed into the simulator before the run (the pre-existing providers). */
  readonly seeded: readonly SeedUser[];
}

/** Calls of one new user: `POST /users/check` + the create. */
const NEW_USER_CALLS = 2;
/**
 * Calls of a user Upheal already has: the check that finds it, and the update that gives the
 * linked account the partner's fields and our partner id (the identity rules require it).
 */
const EXISTING_USER_CALLS = 2;
/** The full-list replace of a client with more than one provider. */
const ASSIGNMENT_CALLS = 1;

const EMAIL_DOMAIN = 'bench.example';

const pad = (value: number, width: number) => String(value).padStart(width, '0');

/** Fake provider fields (no real person). */
export function providerFields(partnerUserId: string): ProviderFields {
  return {
    email: `${partnerUserId}@${EMAIL_DOMAIN}`,
    firstName: `Prov${partnerUserId}`,
    lastName: 'Bench',
  };
}

/** Builds the workload; ids are stable, so every scenario runs the same users. */
export function buildWorkload(size: WorkloadSize): Workload {
  const providers: BenchProvider[] = Array.from({ length: size.providers }, (_, index) => {
    const partnerUserId = `p-${pad(index + 1, 4)}`;
    return {
      kind: 'provider',
      partnerUserId,
      fields: providerFields(partnerUserId),
      preExisting: index < size.preExistingProviders,
    };
  });
  const clients: BenchClient[] = Array.from({ length: size.clients }, (_, index) => {
    const partnerUserId = `c-${pad(index + 1, 5)}`;
    const primary = providers[index % providers.length]!.partnerUserId;
    const second = providers[(index + 1) % providers.length]!.partnerUserId;
    const multi = size.multiProviderEvery > 0 && index % size.multiProviderEvery === 0;
    return {
      kind: 'client',
      partnerUserId,
      fields: {
        email: `${partnerUserId}@${EMAIL_DOMAIN}`,
        firstName: `Client${partnerUserId}`,
        lastName: 'Bench',
        providerPartnerUserIds: multi && second !== primary ? [primary, second] : [primary],
      },
      preExisting: false,
    };
  });
  const seeded: SeedUser[] = providers
    .filter((provider) => provider.preExisting)
    .map((provider) => ({
      userType: USER_TYPES.provider,
      firstName: provider.fields.firstName,
      lastName: provider.fields.lastName,
      email: provider.fields.email,
    }));
  return { providers, clients, seeded };
}

/** The fewest Upheal calls that can sync this user (SPEC §11). */
export function minimumCalls(user: BenchUser): number {
  const base = user.preExisting ? EXISTING_USER_CALLS : NEW_USER_CALLS;
  const assignment =
    user.kind === 'client' && user.fields.providerPartnerUserIds.length > 1 ? ASSIGNMENT_CALLS : 0;
  return base + assignment;
}

/** A live user created during the import (on the user-events queue): a new provider. */
export function liveProvider(sequence: number): BenchProvider {
  const partnerUserId = `lp-${pad(sequence, 4)}`;
  return {
    kind: 'provider',
    partnerUserId,
    fields: providerFields(partnerUserId),
    preExisting: false,
  };
}

/** The partner event that upserts `user` as of `occurredAt`. */
export function upsertEvent(user: BenchUser, eventId: string, occurredAt: string): PartnerEvent {
  const base = { eventId, occurredAt, partnerUserId: user.partnerUserId };
  return user.kind === 'provider'
    ? { ...base, type: 'provider.created', data: user.fields }
    : { ...base, type: 'client.created', data: user.fields };
}
