import { describe, expect, it } from 'vitest';
import { GroupOrder } from '#lib/sqs/group-order.ts';

/** A task that records its start and end and finishes when `finish` is called. */
function controlled(log: string[], name: string) {
  let finish!: (ok: boolean) => void;
  const done = new Promise<boolean>((resolve) => {
    finish = resolve;
  });
  const task = async () => {
    log.push(`start ${name}`);
    const ok = await done;
    log.push(`end ${name}`);
    if (!ok) throw new Error(`${name} failed`);
    return name;
  };
  return { task, finish: (ok = true) => finish(ok) };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/** Two records of group `a` and one of group `b`, in batch order, with at most 5 at once. */
function twoGroups(log: string[]) {
  const order = new GroupOrder(5);
  const a1 = controlled(log, 'a1');
  const a2 = controlled(log, 'a2');
  const b1 = controlled(log, 'b1');
  const runs = [order.run('a', a1.task), order.run('a', a2.task), order.run('b', b1.task)];
  return { a1, a2, b1, runs };
}

describe('GroupOrder', () => {
  it('runs one group in order and different groups at once', async () => {
    const log: string[] = [];
    const { a1, a2, b1, runs } = twoGroups(log);
    await tick();
    expect(log).toEqual(['start a1', 'start b1']);
    a1.finish();
    await tick();
    expect(log).toContain('start a2');
    a2.finish();
    b1.finish();
    expect(await Promise.all(runs)).toEqual(['a1', 'a2', 'b1']);
  });

  it('never runs more than the bound at once, and starts waiting runs in batch order', async () => {
    const log: string[] = [];
    const order = new GroupOrder(2);
    const tasks = ['g1', 'g2', 'g3', 'g4'].map((name) => controlled(log, name));
    const runs = tasks.map((t, i) => order.run(`group-${i}`, t.task));
    await tick();
    expect(log).toEqual(['start g1', 'start g2']);
    tasks[1]!.finish();
    await tick();
    expect(log).toEqual(['start g1', 'start g2', 'end g2', 'start g3']);
    for (const t of tasks) t.finish();
    await Promise.all(runs);
    expect(log.filter((line) => line.startsWith('start'))).toHaveLength(4);
  });

  it('skips the rest of a group after a failure, and only that group', async () => {
    const log: string[] = [];
    const { a1, b1, runs } = twoGroups(log);
    a1.finish(false);
    b1.finish();
    const results = await Promise.allSettled(runs);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    expect(log).not.toContain('start a2');
  });

  it('rejects a bound that is not a positive integer', () => {
    expect(() => new GroupOrder(0)).toThrow(RangeError);
  });
});
