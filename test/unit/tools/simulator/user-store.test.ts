import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emailKey, isConflict, UserStore } from '#tools/simulator/user-store.ts';

const EMAILS = ['a@x.test', 'A@X.test ', 'b@x.test', 'c@x.test'];
const PARTNER_IDS = ['p-1', 'p-2', 'p-3'];

type Step =
  | { kind: 'create'; email: string | undefined; partnerUserId: string | undefined }
  | { kind: 'delete'; index: number }
  | { kind: 'update'; index: number; partnerUserId: string };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('create' as const),
    email: fc.option(fc.constantFrom(...EMAILS), { nil: undefined }),
    partnerUserId: fc.option(fc.constantFrom(...PARTNER_IDS), { nil: undefined }),
  }),
  fc.record({ kind: fc.constant('delete' as const), index: fc.nat(10) }),
  fc.record({
    kind: fc.constant('update' as const),
    index: fc.nat(10),
    partnerUserId: fc.constantFrom(...PARTNER_IDS),
  }),
);

describe('UserStore', () => {
  it('keeps email (case-insensitive) and partnerUserId unique and its lookups exact, whatever the history', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const store = new UserStore();
        for (const s of steps) {
          const users = store.list();
          if (s.kind === 'create') {
            const taken =
              (s.email !== undefined &&
                users.some((u) => u.email && emailKey(u.email) === emailKey(s.email!))) ||
              (s.partnerUserId !== undefined &&
                users.some((u) => u.partnerUserId === s.partnerUserId));
            const result = store.create({
              userType: 'HealthcareProvider',
              firstName: 'F',
              lastName: 'L',
              email: s.email,
              partnerUserId: s.partnerUserId,
            });
            expect(isConflict(result)).toBe(taken);
          } else if (users.length > 0) {
            const target = store.get(users[s.index % users.length]!.userId)!;
            if (s.kind === 'delete') store.delete(target);
            else store.update(target, { partnerUserId: s.partnerUserId });
          }
        }
        const users = store.list();
        const emails = users.flatMap((u) => (u.email ? [emailKey(u.email)] : []));
        const partners = users.flatMap((u) => (u.partnerUserId ? [u.partnerUserId] : []));
        expect(new Set(emails).size).toBe(emails.length);
        expect(new Set(partners).size).toBe(partners.length);
        for (const user of users) {
          if (user.email)
            expect(store.getByEmail(` ${user.email.toUpperCase()} `)?.userId).toBe(user.userId);
          if (user.partnerUserId)
            expect(store.getByIdOrPartnerId(user.partnerUserId)?.userId).toBe(user.userId);
        }
        for (const email of EMAILS) {
          if (!emails.includes(emailKey(email))) expect(store.getByEmail(email)).toBeUndefined();
        }
        for (const id of PARTNER_IDS) {
          if (!partners.includes(id)) expect(store.getByIdOrPartnerId(id)).toBeUndefined();
        }
      }),
    );
  });

  it('stores emails trimmed, keeping their case', () => {
    const store = new UserStore();
    store.create({
      userType: 'Client',
      firstName: 'F',
      lastName: 'L',
      email: '  Mixed@Case.test ',
    });
    expect(store.list()[0]?.email).toBe('Mixed@Case.test');
    expect(store.list()[0]?.providerUserIds).toEqual([]);
  });
});
