import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { parseImport } from '#lib/import/parse-import.ts';
import {
  callsByMode,
  emptyPlan,
  estimateMinutes,
  indexProviders,
  planImport,
  referenceIssue,
  referencesToLookUp,
} from '#lib/import/plan.ts';
import { collect } from './chunks.ts';

/** A provider row. */
const provider = (id: string) => ({
  kind: 'provider',
  partnerUserId: id,
  email: `${id}@example.com`,
  firstName: 'Test',
  lastName: 'Provider',
});

/** A client row with the given providers. */
const client = (id: string, providers: string[]) => ({
  kind: 'client',
  partnerUserId: id,
  firstName: 'Test',
  lastName: 'Client',
  providerPartnerUserIds: providers,
});

/** NDJSON rows of a small import with one invalid row and one duplicate. */
function rows() {
  const lines = [
    provider('p-1'),
    provider('p-2'),
    provider('p-3'),
    client('c-1', ['p-1']),
    client('c-2', ['p-1', 'p-2']),
    client('c-3', ['p-2', 'p-3', 'p-1']),
    { ...client('c-4', ['p-1']), email: 'not-an-email' },
    provider('p-1'),
  ];
  return parseImport([lines.map((line) => JSON.stringify(line)).join('\n')], 'ndjson');
}

describe('planImport', () => {
  it('counts a check and a create for every unmapped user, and an assignment for multi-provider clients', async () => {
    expect(await planImport(rows(), async () => false)).toEqual({
      providers: 3,
      clients: 3,
      invalid: 2,
      alreadyMapped: 0,
      toCheck: 6,
      creates: 6,
      assignmentCalls: 2,
      totalCalls: 14,
    });
  });

  it('costs nothing for users already mapped', async () => {
    const mapped = new Set(['p-1', 'c-2']);
    const plan = await planImport(rows(), async (id) => mapped.has(id));
    expect(plan).toMatchObject({
      alreadyMapped: 2,
      toCheck: 4,
      creates: 4,
      assignmentCalls: 1,
      totalCalls: 9,
    });
  });

  it('plans zero calls when every valid user is mapped (a re-run of a finished import)', async () => {
    const plan = await planImport(rows(), () => true);
    expect(plan.totalCalls).toBe(0);
    expect(plan.alreadyMapped).toBe(6);
  });

  it('never asks about invalid rows', async () => {
    const asked: string[] = [];
    await planImport(rows(), (id) => {
      asked.push(id);
      return false;
    });
    expect(asked).toEqual(['p-1', 'p-2', 'p-3', 'c-1', 'c-2', 'c-3']);
  });
});

describe('estimateMinutes', () => {
  it('uses the sustained rate (N − 1)·W/(W + J) per window', () => {
    // 299 calls per 61 s at N = 300, W = 60 s, J = 1 s: 2 990 calls take 610 s.
    expect(estimateMinutes(2990, 300, 60, 1000)).toBeCloseTo(610 / 60, 10);
  });

  it('takes exactly one window per N − 1 calls without jitter', () => {
    expect(estimateMinutes(299, 300, 60, 0)).toBeCloseTo(1, 10);
  });

  it('scales with a shorter window', () => {
    expect(estimateMinutes(2990, 300, 10, 1000)).toBeCloseTo(110 / 60, 10);
  });

  it('is zero for no calls', () => {
    expect(estimateMinutes(0, 300, 60, 1000)).toBe(0);
  });

  it('rejects a limit below 2, a non-positive window and a negative jitter, naming each', () => {
    let caught: unknown;
    try {
      estimateMinutes(10, 1, 0, -1);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).issues.map((issue) => issue.field)).toEqual([
      'limit',
      'windowSeconds',
      'jitterMs',
    ]);
  });
});

describe('references', () => {
  /** The rows of some flat records as NDJSON. */
  const parsed = (...records: object[]) =>
    collect(parseImport([records.map((r) => JSON.stringify(r)).join('\n')], 'ndjson'));

  it('indexes every provider row, valid or not, by its first line', async () => {
    const index = await indexProviders(
      await parsed(
        provider('p-1'),
        { kind: 'provider', partnerUserId: 'p-2' },
        client('c-1', ['p-1']),
      ),
    );
    expect([...index]).toEqual([
      ['p-1', { line: 1, ok: true }],
      ['p-2', { line: 2, ok: false }],
    ]);
  });

  it('looks up only the providers that are not valid rows of the file', async () => {
    const rows = await parsed(provider('p-1'), client('c-1', ['p-1', 'p-9']));
    const index = await indexProviders(rows);
    const record = rows[1]!.ok ? rows[1]!.record : undefined;
    expect(referencesToLookUp(record!, index)).toEqual(['p-9']);
  });

  it('names each unresolved provider: unknown, or the line of its invalid row', async () => {
    const rows = await parsed(
      { kind: 'provider', partnerUserId: 'p-2' },
      client('c-1', ['p-2', 'p-9', 'p-mapped']),
    );
    const index = await indexProviders(rows);
    const record = rows[1]!.ok ? rows[1]!.record : undefined;
    expect(referenceIssue(record!, index, (id) => id === 'p-mapped')).toEqual({
      field: 'providerPartnerUserIds',
      reason:
        'p-2 is the provider of line 1, which is invalid; p-9 is neither a provider in this file nor a mapped provider',
    });
    expect(referenceIssue(record!, index, () => true)).toMatchObject({
      reason: 'p-2 is the provider of line 1, which is invalid',
    });
  });
});

describe('callsByMode', () => {
  const plan = { ...emptyPlan(), toCheck: 1000, creates: 1000, assignmentCalls: 100 };

  it('costs two calls per unmapped user checking first, whatever the share found', () => {
    expect(callsByMode(plan, 0)['check-first']).toBe(2100);
    expect(callsByMode(plan, 0.8)['check-first']).toBe(2100);
  });

  it('costs one call per new user and three per user found creating first', () => {
    expect(callsByMode(plan, 0)['create-first']).toBe(1100);
    expect(callsByMode(plan, 0.3)['create-first']).toBe(1700);
    // The break-even: as many calls as checking first.
    expect(callsByMode(plan, 0.5)['create-first']).toBe(2100);
  });

  it('follows create-first up to the break-even, then check-first after its samples', () => {
    expect(callsByMode(plan, 0.3).auto).toBe(1700);
    // Two phase samples of 30 users at create-first's cost: 60 × (2 × 0.8 − 1) = 36 more.
    expect(callsByMode(plan, 0.8).auto).toBe(2136);
  });
});
