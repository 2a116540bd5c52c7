import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { unknownKeyName } from '#lib/events/validation.ts';
import { futureSkewMsFromEnv, readEvents } from '#tools/cli/commands/send-events.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'send-events-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const NOW = Date.parse('2026-11-27T12:00:00.000Z');

/** A valid `user.deleted` event line. */
function deleted(eventId: string, partnerUserId: string, occurredAt = '2026-11-27T10:00:00.000Z') {
  return JSON.stringify({ eventId, type: 'user.deleted', occurredAt, partnerUserId });
}

/** A valid `client.created` line with the given last name and extra data fields. */
function client(eventId: string, lastName: string, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    eventId,
    type: 'client.created',
    occurredAt: '2026-11-27T10:00:00.000Z',
    partnerUserId: 'c 1001',
    data: { firstName: 'Ana', lastName, providerPartnerUserIds: ['ü-1'], ...extra },
  });
}

/** The ValidationError `readEvents` throws for `lines`. */
async function rejectionOf(name: string, lines: string[]): Promise<ValidationError> {
  const path = join(dir, name);
  await writeFile(path, `${lines.join('\n')}\n`);
  const error = await readEvents(path, { now: NOW }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ValidationError);
  return error as ValidationError;
}

describe('readEvents', () => {
  it('reads valid events whose ids hold spaces and letters beyond ASCII', async () => {
    const path = join(dir, 'valid.ndjson');
    await writeFile(path, `${client('e-1', 'Ruiz')}\n${deleted('e-2', 'ü-1')}\n`);
    const events = await readEvents(path, { now: NOW });
    expect(events.map((event) => event.partnerUserId)).toEqual(['c 1001', 'ü-1']);
  });

  it('names both lines of an eventId used twice', async () => {
    const error = await rejectionOf('dupes.ndjson', [
      deleted('e-1', 'c-1'),
      deleted('e-2', 'c-2'),
      deleted('e-1', 'c-3'),
    ]);
    const reason = 'is used on more than one line (lines 1, 3)';
    expect(error.issues).toEqual([
      { field: 'line 1: eventId', reason },
      { field: 'line 3: eventId', reason },
    ]);
  });

  it('refuses an event dated 9999-01-01 and one beyond the skew, naming occurredAt', async () => {
    const error = await rejectionOf('future.ndjson', [
      deleted('e-1', 'c-1', '9999-01-01T00:00:00.000Z'),
      deleted('e-2', 'c-2', new Date(NOW + 301_000).toISOString()),
      deleted('e-3', 'c-3', new Date(NOW + 299_000).toISOString()),
    ]);
    const reason = 'must not be more than 300 seconds in the future';
    expect(error.issues).toEqual([
      { field: 'line 1: occurredAt', reason },
      { field: 'line 2: occurredAt', reason },
    ]);
  });

  it('refuses text a queue cannot carry and unknown keys without echoing them', async () => {
    const error = await rejectionOf('hostile.ndjson', [
      client('e-1', 'Ruiz\uffff'),
      client('e-2', 'Ruiz', { 'ana.ruiz@example.com': true }),
      client('e-3', 'Ana\u202eziuR'),
    ]);
    expect(error.issues.map((issue) => issue.field)).toEqual([
      'line 1: data.lastName',
      `line 2: data.${unknownKeyName('ana.ruiz@example.com')}`,
      'line 3: data.lastName',
    ]);
    expect(error.message).not.toMatch(/ana\.ruiz|Ruiz/);
  });
});

describe('futureSkewMsFromEnv', () => {
  it('reads EVENT_MAX_FUTURE_SKEW_SECONDS, defaults when unset and names it when malformed', () => {
    expect(futureSkewMsFromEnv({ EVENT_MAX_FUTURE_SKEW_SECONDS: '60' })).toBe(60_000);
    expect(futureSkewMsFromEnv({})).toBeUndefined();
    expect(() => futureSkewMsFromEnv({ EVENT_MAX_FUTURE_SKEW_SECONDS: 'soon' })).toThrow(
      /EVENT_MAX_FUTURE_SKEW_SECONDS/,
    );
  });
});
