/** Which fields reach Upheal and which are reported, decided without DynamoDB or HTTP. */
import { describe, expect, it } from 'vitest';
import type { ClientFields, ProviderFields } from '#lib/events/user-fields.ts';
import type { UserMapping } from '#lib/store/mapping-store.ts';
import {
  afterCreateBody,
  clearedFields,
  linkBodies,
  planUpdate,
  stateAfterCreateOrLink,
} from '#lib/sync/field-plan.ts';

const provider: ProviderFields = {
  email: 'p@example.com',
  firstName: 'Ann',
  lastName: 'Lee',
  pronoun: 'FeminineHer',
  dateOfBirth: '1980-01-02',
  therapyLicence: 'LCSW',
  phoneNumber: '5550100',
};

const client: ClientFields = {
  email: 'c@example.com',
  firstName: 'Bo',
  lastName: 'Ray',
  providerPartnerUserIds: ['p-1'],
  pronoun: 'NeutralThem',
};

/** The mapping a create of `fields` leaves, as stored. */
function mappingAfterCreate(kind: 'provider' | 'client', fields: ProviderFields | ClientFields) {
  const state = stateAfterCreateOrLink('x-1', kind, fields, {});
  return {
    partnerUserId: 'x-1',
    kind,
    state: 'active',
    uphealUserId: 'u-1',
    ...state,
    rev: 1,
    updatedAt: '2026-11-27T10:00:00.000Z',
  } satisfies UserMapping;
}

describe('after a create', () => {
  it("follows a provider's create with its pronoun and date of birth", () => {
    expect(afterCreateBody('provider', provider)).toEqual({
      pronoun: 'FeminineHer',
      dateOfBirth: '1980-01-02',
    });
  });

  it('sends no follow-up when the provider has neither, nor for a client (create fields)', () => {
    const { pronoun: _p, dateOfBirth: _d, ...plain } = provider;
    expect(afterCreateBody('provider', plain)).toBeUndefined();
    expect(afterCreateBody('client', client)).toBeUndefined();
  });

  it('reports pronoun and date of birth, and marks the common fields unknown, when the follow-up failed', () => {
    const state = stateAfterCreateOrLink('p-1', 'provider', provider, { followUpFailed: true });
    expect(state.unappliedFields).toEqual(['pronoun', 'dateOfBirth']);
    expect(state.commonHash).toBeUndefined();
    // The follow-up may have landed all the same: a later clear must be reported.
    expect(state.setFields).toEqual(['pronoun', 'dateOfBirth', 'therapyLicence']);
  });

  it('reports nothing after a complete create', () => {
    const state = stateAfterCreateOrLink('p-1', 'provider', provider, {});
    expect(state.unappliedFields).toEqual([]);
    expect(state.commonHash).toBeDefined();
  });
});

describe('a link', () => {
  it('sends the event’s common fields with our partner id, and the provider fields', () => {
    const bodies = linkBodies('p-1', 'provider', provider);
    expect(bodies.common).toEqual({
      firstName: 'Ann',
      lastName: 'Lee',
      pronoun: 'FeminineHer',
      dateOfBirth: '1980-01-02',
      partnerUserId: 'p-1',
    });
    expect(bodies.provider).toEqual({ therapyLicence: 'LCSW' });
  });

  it('reports the fixed fields the linked account may not share, but not the email it was found by', () => {
    const state = stateAfterCreateOrLink('p-1', 'provider', provider, {
      linkedByEmail: 'p@example.com',
    });
    expect(state.unappliedFields).toEqual(['phoneNumber']);
  });

  it('reports the email when the account was found by an older email', () => {
    const state = stateAfterCreateOrLink('c-1', 'client', client, {
      linkedByEmail: 'old@example.com',
    });
    expect(state.unappliedFields).toEqual(['email']);
  });
});

describe('planUpdate', () => {
  it('sends nothing when nothing changed', () => {
    const plan = planUpdate(mappingAfterCreate('provider', provider), 'provider', provider);
    expect(plan.common).toBeUndefined();
    expect(plan.provider).toBeUndefined();
    expect(plan.unappliedFields).toEqual([]);
  });

  it('sends only the changed body', () => {
    const plan = planUpdate(mappingAfterCreate('provider', provider), 'provider', {
      ...provider,
      therapyLicence: 'LPC',
    });
    expect(plan.common).toBeUndefined();
    expect(plan.provider).toEqual({ therapyLicence: 'LPC' });
  });

  it('reports a changed email or phone, which no endpoint can change', () => {
    const plan = planUpdate(mappingAfterCreate('provider', provider), 'provider', {
      ...provider,
      email: 'new@example.com',
      phoneNumber: '5550199',
    });
    expect(plan.unappliedFields).toEqual(['email', 'phoneNumber']);
  });

  it('reports a cleared optional field and keeps it among the fields Upheal holds', () => {
    const { therapyLicence: _t, ...cleared } = provider;
    const plan = planUpdate(mappingAfterCreate('provider', provider), 'provider', cleared);
    expect(plan.unappliedFields).toEqual(['therapyLicence']);
    expect(plan.setFields).toContain('therapyLicence');
  });

  it('keeps reporting a cleared field on later events until the partner sets it again', () => {
    const { pronoun: _p, ...cleared } = client;
    const first = planUpdate(mappingAfterCreate('client', client), 'client', cleared);
    const after = { ...mappingAfterCreate('client', client), ...first };
    expect(planUpdate(after, 'client', cleared).unappliedFields).toEqual(['pronoun']);
    expect(planUpdate(after, 'client', client).unappliedFields).toEqual([]);
  });

  it('reports a clear of a field whose follow-up after the create failed (it may have landed)', () => {
    const state = stateAfterCreateOrLink('x-1', 'provider', provider, { followUpFailed: true });
    const mapping = { ...mappingAfterCreate('provider', provider), ...state };
    const { pronoun: _p, ...cleared } = provider;
    expect(planUpdate(mapping, 'provider', cleared).unappliedFields).toEqual(['pronoun']);
  });

  it('reports no clears for a mapping that never recorded its fields', () => {
    expect(clearedFields(undefined, client)).toEqual([]);
  });
});
