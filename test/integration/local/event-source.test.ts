/**
 * The event-source runner behaves like Lambda's SQS event source mapping, on the real emulators:
 * a scripted test handler runs as `sync-user` (user events + imports queues) and `assign-providers`
 * in worker processes; queues have 1 s visibility and maxReceiveCount 3 to keep the file fast.
 */
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationLine, ScriptedMessage } from '#test/fixtures/handlers/scripted.ts';
import { bundleHandlers, useLocalStack, waitFor } from '#test/helpers/local-stack.ts';
import type { InvocationReport } from '#tools/local/event-source-runner.ts';

const FIXTURE = 'test/fixtures/handlers/scripted.ts';
const MAX_RECEIVE_COUNT = 3;
const LINE_PREFIX = 'fixture-invocation ';
/** Short timeout for assign-providers so the timeout test stays fast … */
const ASSIGN_TIMEOUT_SECONDS = 1;
/** … and a visibility longer than it, as AWS requires (else the record reappears mid-invocation). */
const ASSIGN_VISIBILITY_SECONDS = 2;

let bundles: Awaited<ReturnType<typeof bundleHandlers>>;
beforeAll(async () => {
  bundles = await bundleHandlers({ 'sync-user': FIXTURE, 'assign-providers': FIXTURE });
});
afterAll(async () => {
  await bundles?.remove();
});

const reports: InvocationReport[] = [];
const local = useLocalStack(() => ({
  functionsDir: bundles.dir,
  functions: ['sync-user', 'assign-providers'],
  queues: {
    visibilityTimeoutSeconds: 1,
    maxReceiveCount: MAX_RECEIVE_COUNT,
    queues: { assignments: { visibilityTimeoutSeconds: ASSIGN_VISIBILITY_SECONDS } },
  },
  timeoutSeconds: { 'assign-providers': ASSIGN_TIMEOUT_SECONDS },
  drainMs: 0,
  onInvocation: (report) => reports.push(report),
}));

/** Every invocation line the fixture printed for records whose id starts with `prefix`. */
function invocations(prefix: string): InvocationLine[] {
  return local.logs
    .filter((entry) => entry.line.startsWith(LINE_PREFIX))
    .map((entry) => JSON.parse(entry.line.slice(LINE_PREFIX.length)) as InvocationLine)
    .filter((line) => line.records.some((record) => record.id.startsWith(prefix)));
}

/** Deliveries of each record id (one entry per receive the handler saw). */
function deliveries(prefix: string): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  for (const line of invocations(prefix))
    for (const record of line.records)
      seen.set(record.id, [...(seen.get(record.id) ?? []), record.receiveCount]);
  return seen;
}

async function send(
  queueUrl: string,
  messages: readonly { group: string; body: ScriptedMessage }[],
): Promise<void> {
  const entries = messages.map(({ group, body }, index) => ({
    Id: String(index),
    MessageBody: JSON.stringify(body),
    MessageGroupId: group,
    MessageDeduplicationId: body.id,
  }));
  for (let start = 0; start < entries.length; start += 10) {
    const { Failed } = await local.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: entries.slice(start, start + 10),
      }),
    );
    expect(Failed ?? []).toEqual([]);
  }
}

async function queueIsEmpty(queueUrl: string): Promise<boolean> {
  const { Attributes } = await local.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
  );
  return (
    Attributes?.ApproximateNumberOfMessages === '0' &&
    Attributes?.ApproximateNumberOfMessagesNotVisible === '0'
  );
}

const overlaps = (a: InvocationLine, b: InvocationLine) =>
  a.startedAt < b.endedAt && b.startedAt < a.endedAt;

describe('Lambda SQS event source mapping, emulated', () => {
  it('passes records of the exact SQSEvent shape and a Lambda context', async () => {
    const queueUrl = local.stack.queueUrls.userEvents;
    await local.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          {
            Id: 'a',
            MessageBody: JSON.stringify({ id: 'shape-1' }),
            MessageGroupId: 'shape-group',
            MessageDeduplicationId: 'shape-1',
            MessageAttributes: { kind: { DataType: 'String', StringValue: 'test' } },
          },
        ],
      }),
    );
    const report = await waitFor(() =>
      reports.find((entry) => entry.event.Records.some((r) => r.body.includes('shape-1'))),
    );
    const record = report.event.Records[0]!;
    expect(record).toMatchObject({
      body: JSON.stringify({ id: 'shape-1' }),
      eventSource: 'aws:sqs',
      eventSourceARN: local.stack.queueArns.userEvents,
      awsRegion: 'us-east-1',
      messageAttributes: {
        kind: {
          dataType: 'String',
          stringValue: 'test',
          stringListValues: [],
          binaryListValues: [],
        },
      },
      attributes: {
        ApproximateReceiveCount: '1',
        MessageGroupId: 'shape-group',
        MessageDeduplicationId: 'shape-1',
      },
    });
    expect(record.messageId).toMatch(/\S/);
    expect(record.receiptHandle).toMatch(/\S/);
    expect(record.md5OfBody).toMatch(/^[0-9a-f]{32}$/);
    for (const name of ['SentTimestamp', 'ApproximateFirstReceiveTimestamp', 'SequenceNumber'])
      expect(record.attributes).toHaveProperty(name, expect.stringMatching(/^\d+$/));
    const [line] = invocations('shape-');
    expect(line).toMatchObject({ functionName: 'sync-user' });
    expect(line!.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(line!.remainingMs).toBeGreaterThan(0);
    expect(line!.remainingMs).toBeLessThanOrEqual(30_000);
  });

  it('redelivers only the records a partial batch response reports as failed', async () => {
    const queueUrl = local.stack.queueUrls.userEvents;
    const ids = ['partial-1', 'partial-2', 'partial-3', 'partial-4', 'partial-5', 'partial-6'];
    const failing = new Set(['partial-2', 'partial-5']);
    await send(
      queueUrl,
      ids.map((id) => ({ group: id, body: { id, failUntil: failing.has(id) ? 1 : 0 } })),
    );
    await waitFor(async () => deliveries('partial-').size === ids.length && queueIsEmpty(queueUrl));

    const seen = deliveries('partial-');
    for (const id of ids) expect(seen.get(id), id).toEqual(failing.has(id) ? [1, 2] : [1]);
    // The failures really were partial: their batch also carried records that succeeded.
    const partial = invocations('partial-').find((line) => line.failed.length > 0);
    expect(partial!.records.length).toBeGreaterThan(partial!.failed.length);
  });

  it('treats a response naming an id outside the batch as a failure of the whole batch', async () => {
    const queueUrl = local.stack.queueUrls.userEvents;
    await send(queueUrl, [
      { group: 'unknown-a', body: { id: 'unknown-a' } },
      { group: 'unknown-b', body: { id: 'unknown-b', unknownIdUntil: 1 } },
    ]);
    await waitFor(async () => deliveries('unknown-').has('unknown-b') && queueIsEmpty(queueUrl));
    const invalid = reports.find((report) =>
      report.event.Records.some(
        (record) =>
          record.body.includes('unknown-b') && record.attributes.ApproximateReceiveCount === '1',
      ),
    );
    expect(invalid?.deleted).toEqual([]);
    for (const record of invalid!.event.Records) {
      const id = (JSON.parse(record.body) as ScriptedMessage).id;
      expect(deliveries('unknown-').get(id), id).toEqual([1, 2]);
    }
  });

  it('treats null, {} and an empty failure list as success, and an empty itemIdentifier as a whole-batch failure', async () => {
    const queueUrl = local.stack.queueUrls.userEvents;
    const answers = ['null', 'emptyObject', 'emptyList', 'emptyIdentifier'] as const;
    await send(
      queueUrl,
      answers.map((answer) => ({
        group: `odd-${answer}`,
        body: { id: `odd-${answer}`, firstResponse: answer },
      })),
    );
    await waitFor(
      async () =>
        deliveries('odd-').get('odd-emptyIdentifier')?.length === 2 && queueIsEmpty(queueUrl),
    );
    const rejected = reports.find(
      (report) =>
        report.outcome.kind === 'response' &&
        report.event.Records.some(
          (record) =>
            record.body.includes('odd-emptyIdentifier') &&
            record.attributes.ApproximateReceiveCount === '1',
        ),
    );
    expect(rejected?.deleted).toEqual([]);
    const rejectedIds = new Set(
      rejected!.event.Records.map((record) => (JSON.parse(record.body) as ScriptedMessage).id),
    );
    for (const answer of answers) {
      const id = `odd-${answer}`;
      expect(deliveries('odd-').get(id), id).toEqual(rejectedIds.has(id) ? [1, 2] : [1]);
    }
  });

  it('moves a record that fails maxReceiveCount times to the DLQ with its body intact', async () => {
    const body = JSON.stringify({ id: 'doomed-1', failUntil: 99 } satisfies ScriptedMessage);
    await local.sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: local.stack.queueUrls.imports,
        Entries: [
          { Id: '1', MessageBody: body, MessageGroupId: 'doomed', MessageDeduplicationId: 'd1' },
        ],
      }),
    );
    const dead = await waitFor(async () => {
      const { Messages } = await local.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: local.stack.dlqUrls.imports,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
        }),
      );
      return Messages?.[0];
    });
    expect(dead.Body).toBe(body);
    expect(dead.Attributes?.MessageGroupId).toBe('doomed');
    expect(deliveries('doomed-').get('doomed-1')).toEqual([1, 2, 3]);
    expect(await queueIsEmpty(local.stack.queueUrls.imports)).toBe(true);
  });

  it('keeps FIFO order within a message group while groups run in parallel', async () => {
    const queueUrl = local.stack.queueUrls.userEvents;
    const groups = ['fifo-a', 'fifo-b', 'fifo-c'];
    const perGroup = 4;
    // One send per group, so idle lanes pick groups up as they arrive.
    for (const group of groups)
      await send(
        queueUrl,
        Array.from({ length: perGroup }, (_, n) => ({
          group,
          body: { id: `${group}-${n}`, sleepMs: 150, failUntil: n === 1 ? 1 : 0 },
        })),
      );
    await waitFor(
      async () => deliveries('fifo-').size === groups.length * perGroup && queueIsEmpty(queueUrl),
    );

    const lines = invocations('fifo-').sort((a, b) => a.startedAt - b.startedAt);
    for (const group of groups) {
      const succeeded = lines.flatMap((line) =>
        line.records
          .filter((r) => r.group === group && !line.failed.includes(r.messageId))
          .map((r) => r.id),
      );
      expect(succeeded, group).toEqual(Array.from({ length: perGroup }, (_, n) => `${group}-${n}`));
    }
    const parallel = lines.some((a) =>
      lines.some(
        (b) =>
          a !== b &&
          a.pid !== b.pid &&
          overlaps(a, b) &&
          a.records.some((ra) => b.records.every((rb) => rb.group !== ra.group)),
      ),
    );
    expect(parallel).toBe(true);
  });

  it('runs each worker with its own module state', async () => {
    const queueUrl = local.stack.queueUrls.userEvents;
    const ids = Array.from({ length: 9 }, (_, n) => `state-${n}`);
    for (const id of ids) await send(queueUrl, [{ group: id, body: { id, sleepMs: 100 } }]);
    await waitFor(async () => deliveries('state-').size === ids.length && queueIsEmpty(queueUrl));

    const all = local.logs
      .filter((entry) => entry.line.startsWith(LINE_PREFIX))
      .map((entry) => JSON.parse(entry.line.slice(LINE_PREFIX.length)) as InvocationLine);
    const byInstance = Map.groupBy(all, (line) => line.instance);
    expect(byInstance.size).toBeGreaterThan(1);
    for (const [, lines] of byInstance) {
      // Each instance counts only its own invocations: 1, 2, 3, … with no gaps.
      const counts = lines.map((line) => line.invocationCount).sort((a, b) => a - b);
      expect(counts).toEqual(counts.map((_, index) => index + 1));
      expect(new Set(lines.map((line) => line.pid)).size).toBe(1);
    }
    expect(all.every((line) => line.pid !== process.pid)).toBe(true);
  });

  it('redelivers the whole batch of a worker that crashed mid-batch, on a new worker', async () => {
    const queueUrl = local.stack.queueUrls.userEvents;
    await send(queueUrl, [
      { group: 'crash-a', body: { id: 'crash-a' } },
      { group: 'crash-b', body: { id: 'crash-b', sleepMs: 50, crashUntil: 1 } },
      { group: 'crash-c', body: { id: 'crash-c' } },
    ]);
    await waitFor(async () => deliveries('crash-').has('crash-b') && queueIsEmpty(queueUrl));

    const crashed = reports.find(
      (report) =>
        report.outcome.kind === 'crash' &&
        report.event.Records.some((record) => record.body.includes('crash-b')),
    );
    expect(crashed?.deleted).toEqual([]);
    // Every record of the crashed batch comes back (receive count 2) and succeeds.
    for (const record of crashed!.event.Records) {
      const id = (JSON.parse(record.body) as ScriptedMessage).id;
      expect(deliveries('crash-').get(id), id).toEqual([2]);
    }
  });

  it('kills a worker that exceeds the function timeout and redelivers its batch', async () => {
    const queueUrl = local.stack.queueUrls.assignments;
    await send(queueUrl, [{ group: 'slow', body: { id: 'slow-1', hangUntil: 1 } }]);
    await waitFor(async () => deliveries('slow-').has('slow-1') && queueIsEmpty(queueUrl), {
      timeoutMs: 15_000,
    });
    const timedOut = reports.find(
      (report) =>
        report.outcome.kind === 'timeout' &&
        report.event.Records.some((record) => record.body.includes('slow-1')),
    );
    expect(timedOut?.deleted).toEqual([]);
    expect(deliveries('slow-').get('slow-1')).toEqual([2]);
    expect(invocations('slow-')[0]?.functionName).toBe('assign-providers');
  });
});
