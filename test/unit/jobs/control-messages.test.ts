import { describe, expect, it } from 'vitest';
import { ValidationError } from '#lib/errors.ts';
import { unknownKeyName } from '#lib/events/validation.ts';
import {
  type ControlMessage,
  controlDeduplicationId,
  MAX_JOB_ID_LENGTH,
  parseControlMessage,
} from '#lib/jobs/control-messages.ts';

/** The issues of a body that must be rejected. */
function issuesOf(body: unknown): { field: string; reason: string }[] {
  try {
    parseControlMessage(typeof body === 'string' ? body : JSON.stringify(body));
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
  throw new Error('expected a ValidationError');
}

describe('control messages', () => {
  it('accepts a start from an S3 object with dry run and export time', () => {
    const message = parseControlMessage(
      JSON.stringify({
        type: 'start',
        jobId: 'job-1',
        source: { bucket: 'b', key: 'imports/x.csv' },
        format: 'csv',
        dryRun: true,
        exportedAt: '2026-11-27T10:00:00.000Z',
      }),
    );
    expect(message).toMatchObject({ type: 'start', jobId: 'job-1', dryRun: true });
  });

  it('accepts a start with inline records and no format', () => {
    const message = parseControlMessage(
      JSON.stringify({ type: 'start', jobId: 'j', source: { records: [{ kind: 'provider' }] } }),
    );
    expect(message.type).toBe('start');
  });

  it('accepts continue (of planning or a fan-out) and start-clients', () => {
    expect(
      parseControlMessage('{"type":"continue","jobId":"j","phase":"clients","cursor":40}'),
    ).toEqual({ type: 'continue', jobId: 'j', phase: 'clients', cursor: 40 });
    expect(
      parseControlMessage('{"type":"continue","jobId":"j","phase":"planning","cursor":400}'),
    ).toEqual({ type: 'continue', jobId: 'j', phase: 'planning', cursor: 400 });
    expect(parseControlMessage('{"type":"start-clients","jobId":"j"}')).toEqual({
      type: 'start-clients',
      jobId: 'j',
    });
  });

  it('names the field of a bad job id, source, format or cursor', () => {
    expect(issuesOf({ type: 'start-clients', jobId: 'a b' })).toEqual([
      { field: 'jobId', reason: 'must use only letters, digits, - and _' },
    ]);
    expect(
      issuesOf({ type: 'start-clients', jobId: 'x'.repeat(MAX_JOB_ID_LENGTH + 1) })[0]?.field,
    ).toBe('jobId');
    expect(
      issuesOf({ type: 'start', jobId: 'j', source: { bucket: 'b' }, format: 'ndjson' }).map(
        (issue) => issue.field,
      ),
    ).toContain('source');
    expect(
      issuesOf({ type: 'start', jobId: 'j', source: { records: [] }, format: 'xml' })[0]?.field,
    ).toBe('format');
    expect(
      issuesOf({ type: 'continue', jobId: 'j', phase: 'providers', cursor: -1 })[0]?.field,
    ).toBe('cursor');
    expect(
      issuesOf({ type: 'continue', jobId: 'j', phase: 'completed', cursor: 1 })[0]?.field,
    ).toBe('phase');
  });

  it('rejects unknown types, unknown fields and bodies that are not JSON', () => {
    expect(issuesOf({ type: 'stop', jobId: 'j' })[0]?.field).toBe('type');
    expect(issuesOf({ type: 'start-clients', jobId: 'j', extra: 1 })).toEqual([
      { field: unknownKeyName('extra'), reason: 'is not a known field' },
    ]);
    expect(issuesOf('{not json')).toEqual([{ field: '(body)', reason: 'is not valid JSON' }]);
  });

  it('deduplicates a step, never a start', () => {
    const startClients = { type: 'start-clients', jobId: 'j' } as const;
    expect(controlDeduplicationId(startClients)).toBe(controlDeduplicationId(startClients));
    const next = { type: 'continue', jobId: 'j', phase: 'providers', cursor: 10 } as const;
    expect(controlDeduplicationId(next)).toBe(controlDeduplicationId({ ...next }));
    expect(controlDeduplicationId(next)).not.toBe(controlDeduplicationId({ ...next, cursor: 20 }));
    const start: ControlMessage = { type: 'start', jobId: 'j', source: { records: [] } };
    expect(controlDeduplicationId(start)).not.toBe(controlDeduplicationId(start));
  });
});
