/**
 * Which limiter lane a message's calls use, decided once from the message's cause; and which
 * records the consumer counts as import work before running them (a batch of import work only
 * may run one record at a time): an import row carries its job id as a message attribute, an
 * import's assignment carries it in its body.
 */
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { LANES } from '#lib/limiter/rate-limiter.ts';
import { createsFirst } from '#lib/sync/create-mode.ts';
import {
  type AssignWorkDeps,
  assignProvidersWork,
  IMPORT_ATTRIBUTES,
  laneOf,
  type SyncUserWorkDeps,
  syncUserWork,
} from '#lib/sync/record-work.ts';
import { clientEvent, deleted, providerEvent } from '#test/helpers/events.ts';

describe('laneOf', () => {
  it('puts the work of an import job in the bulk lane', () => {
    expect(laneOf({ jobId: 'job-1' })).toBe(LANES.bulk);
    expect(laneOf({ jobId: 'job-1', eventId: 'e-1' })).toBe(LANES.bulk);
  });

  it('puts partner events in the live lane', () => {
    expect(laneOf({ eventId: 'e-1' })).toBe(LANES.live);
    expect(laneOf({})).toBe(LANES.live);
  });
});

describe('createsFirst', () => {
  const provider = providerEvent('p-1', 0);
  const client = clientEvent('c-1', ['p-1'], 0);
  /** An auto decision recorder answering `answer`. */
  function autoAnswering(answer: boolean) {
    const asked: [string, string][] = [];
    return {
      asked,
      progress: {
        recordOutcome: async () => {},
        autoCreatesFirst: async (jobId: string, kind: string) => {
          asked.push([jobId, kind]);
          return answer;
        },
      },
    };
  }

  it('creates live providers first and checks live clients and deletes first', async () => {
    expect(await createsFirst(provider, undefined, undefined, undefined)).toBe(true);
    expect(
      await createsFirst(
        providerEvent('p-1', 1, {}, 'provider.updated'),
        undefined,
        undefined,
        undefined,
      ),
    ).toBe(true);
    expect(await createsFirst(client, undefined, undefined, undefined)).toBe(false);
    expect(await createsFirst(deleted('p-1', 2), undefined, undefined, undefined)).toBe(false);
  });

  it("follows an import row's mode, checking first when it names none", async () => {
    expect(await createsFirst(client, 'job-1', 'create-first', undefined)).toBe(true);
    expect(await createsFirst(provider, 'job-1', 'check-first', undefined)).toBe(false);
    expect(await createsFirst(provider, 'job-1', undefined, undefined)).toBe(false);
    expect(await createsFirst(provider, 'job-1', 'bogus', undefined)).toBe(false);
  });

  it('asks the job’s progress in auto mode, for the row’s kind', async () => {
    const no = autoAnswering(false);
    expect(await createsFirst(client, 'job-1', 'auto', no.progress)).toBe(false);
    expect(no.asked).toEqual([['job-1', 'client']]);
    const yes = autoAnswering(true);
    expect(await createsFirst(provider, 'job-2', 'auto', yes.progress)).toBe(true);
    expect(yes.asked).toEqual([['job-2', 'provider']]);
    expect(await createsFirst(provider, 'job-2', 'auto', undefined)).toBe(true);
  });
});

function recordOf(body: string, jobId?: string): SQSRecord {
  return {
    messageId: 'm-1',
    receiptHandle: 'r-1',
    body,
    attributes: {} as SQSRecord['attributes'],
    messageAttributes:
      jobId === undefined
        ? {}
        : { [IMPORT_ATTRIBUTES.jobId]: { stringValue: jobId, dataType: 'String' } },
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:queue.fifo',
    awsRegion: 'us-east-1',
  };
}

// Only the record is read: no dependency is used.
const syncWork = syncUserWork({} as SyncUserWorkDeps);
const assignWork = assignProvidersWork({} as AssignWorkDeps);

describe('isImportWork', () => {
  it('counts a sync-user record as import work by its job id attribute', () => {
    expect(syncWork.isImportWork?.(recordOf('{}', 'job-1'))).toBe(true);
    expect(syncWork.isImportWork?.(recordOf('{}'))).toBe(false);
  });

  it('counts an assignment as import work by the job id in its body, and a broken body as live', () => {
    const importAssignment = JSON.stringify({ clientPartnerUserId: 'c-1', jobId: 'job-1' });
    const liveAssignment = JSON.stringify({ clientPartnerUserId: 'c-1', eventId: 'e-1' });
    expect(assignWork.isImportWork?.(recordOf(importAssignment))).toBe(true);
    expect(assignWork.isImportWork?.(recordOf(liveAssignment))).toBe(false);
    expect(assignWork.isImportWork?.(recordOf('not json'))).toBe(false);
    expect(assignWork.isImportWork?.(recordOf(JSON.stringify({ jobId: 'job-1' })))).toBe(false);
  });
});
