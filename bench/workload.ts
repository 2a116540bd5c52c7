/**
 * The benchmark's workload: a synthetic initial import (providers, then clients, some with several
 * providers, a few providers, or a share of every user, already in Upheal) and a trickle of live
 * provider creates, with the minimum number of Upheal calls each user needs in the import's mode
 * (check-first: check + create for a new user, check + the linking update for an existing one;
 * create-first: the create alone for a new user, the refused create + check + update for an
 * existing one; + 1 assignment call for a multi-provider client, or for any linked client, whose
 * list in Upheal a link does not tell). A live provider is created first in every mode: its create
 * alone. All data is fake (`@bench.example` addresses); nothing here is clinical.
 */
import type { PartnerEvent } from '#lib/events/partner-event.ts';
import type { ClientFields, ProviderFields } from '#lib/events/user-fields.ts';
import { IMPORT_MODES, type ImportMode } from '#lib/import/import-mode.ts';
import { type SeedUser, USER_TYPES } from '#tools/simulator/schemas.ts';

/** How big the import is. */
export interface WorkloadSize {
  readonly providers: number;
  readonly clients: number;
  /** Every n-th client has a second provider (so needs one assignment call). */
  readonly multiProviderEvery: number;
  /** The first this-many providers already exist in Upheal (seeded in the simulator). */
  readonly preExistingProviders: number;
  /**
   * Besides those, this share of every kind of user already exists in Upheal (every user whose
   * index falls in the first `share × 10` of each ten).
   */
  readonly preExistingShare?: number;
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
  /** Already in Upheal before the import (no partner id, no providers): it is linked. */
  readonly preExisting: boolean;
}

/** A user of the workload. */
export type BenchUser = BenchProvider | BenchClient;

/** The import and what Upheal holds before it. */
export interface Workload {
  readonly providers: readonly BenchProvider[];
  readonly clients: readonly BenchClient[];
  /** Users to seed into the simulator before the run (the pre-existing users). */
  readonly seeded: readonly SeedUser[];
}

/**
 * Calls of one new user: `POST /users/check` + the create (check-first), or the create alone.
 */
const NEW_USER_CALLS = { checkFirst: 2, createFirst: 1 } as const;
/**
 * Calls of a user Upheal already has: the check that finds it, and the update that gives the
 * linked account the partner's fields and our partner id (the identity rules require it);
 * creating first, the refused create before them.
 */
const EXISTING_USER_CALLS = { checkFirst: 2, createFirst: 3 } as const;
/** Users per ten in the pre-existing share's pattern. */
const SHARE_PATTERN = 10;
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

/** Whether the user at `index` is in the pre-existing share (a fixed pattern per ten). */
function inShare(index: number, share: number | undefined): boolean {
  return share !== undefined && index % SHARE_PATTERN < Math.round(share * SHARE_PATTERN);
}

/** Builds the workload; ids are stable, so every scenario runs the same users. */
export function buildWorkload(size: WorkloadSize): Workload {
  const share = size.preExistingShare;
  const providers: BenchProvider[] = Array.from({ length: size.providers }, (_, index) => {
    const partnerUserId = `p-${pad(index + 1, 4)}`;
    return {
      kind: 'provider',
      partnerUserId,
      fields: providerFields(partnerUserId),
      preExisting: index < size.preExistingProviders || inShare(index, share),
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
      preExisting: inShare(index, share),
    };
  });
  const seeded: SeedUser[] = [...providers, ...clients]
    .filter((user) => user.preExisting)
    .map((user) => ({
      userType: user.kind === 'provider' ? USER_TYPES.provider : USER_TYPES.client,
      firstName: user.fields.firstName,
      lastName: user.fields.lastName,
      email: user.fields.email,
    }));
  return { providers, clients, seeded };
}

/**
 * The fewest Upheal calls that can sync this import user in `mode`. `auto` is counted
 * as create-first: below the break-even share it stays so.
 */
export function minimumCalls(user: BenchUser, mode: ImportMode = IMPORT_MODES.checkFirst): number {
  const flow = mode === IMPORT_MODES.checkFirst ? 'checkFirst' : 'createFirst';
  const base = user.preExisting ? EXISTING_USER_CALLS[flow] : NEW_USER_CALLS[flow];
  const listed = user.kind === 'client' && user.fields.providerPartnerUserIds.length > 1;
  const linkedClient = user.kind === 'client' && user.preExisting;
  return base + (listed || linkedClient ? ASSIGNMENT_CALLS : 0);
}

/** The fewest calls of a live provider: its create, sent without a check (the guide's flow). */
export const LIVE_PROVIDER_CALLS = NEW_USER_CALLS.createFirst;

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
