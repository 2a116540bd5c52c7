import { describe, expect, it } from 'vitest';
import { itemKindOf, readKindOf } from '#bench/dynamo-counter.ts';

const key = (pk: string, sk: string) => ({ pk: { S: pk }, sk: { S: sk } });

describe('itemKindOf (writes)', () => {
  it('keeps the kinds of the key and cuts the ids off', () => {
    expect(itemKindOf(JSON.stringify({ Key: key('USER#c-00001', 'LEASE') }))).toBe('USER#/LEASE');
    expect(itemKindOf(JSON.stringify({ Item: key('JOB#bench-16', 'FAIL#000012') }))).toBe(
      'JOB#/FAIL#',
    );
    expect(
      itemKindOf(JSON.stringify({ Item: key('JOBS', '2026-11-27T10:00:00.000Z#job-1') })),
    ).toBe('JOBS/?');
  });

  it('names a body it cannot parse', () => {
    expect(itemKindOf('{')).toBe('unparsed');
  });
});

describe('readKindOf (reads)', () => {
  it('names the item kind of a GetItem', () => {
    expect(readKindOf('GetItem', JSON.stringify({ Key: key('LIMITER#0123abcd', 'STATE') }))).toBe(
      'GetItem LIMITER#/STATE',
    );
    expect(readKindOf('GetItem', JSON.stringify({ Key: key('QUARANTINE', 'STATE') }))).toBe(
      'GetItem QUARANTINE/STATE',
    );
  });

  it('names the distinct kinds of a BatchGetItem, sorted', () => {
    const body = JSON.stringify({
      RequestItems: {
        table: {
          Keys: [
            key('USER#p-0001', 'MAPPING'),
            key('USER#p-0002', 'MAPPING'),
            key('USER#p', 'CLAIM'),
          ],
        },
      },
    });
    expect(readKindOf('BatchGetItem', body)).toBe('BatchGetItem USER#/CLAIM+USER#/MAPPING');
  });

  it('names the index of a Query, never the value it looks up', () => {
    const body = JSON.stringify({
      IndexName: 'byUphealId',
      ExpressionAttributeValues: { ':id': { S: 'a207074c-992e-45a3-8f56-a8cbe4527eed' } },
    });
    expect(readKindOf('Query', body)).toBe('Query byUphealId');
    const table = JSON.stringify({ ExpressionAttributeValues: { ':pk': { S: 'JOB#bench-1' } } });
    expect(readKindOf('Query', table)).toBe('Query table JOB#');
    const byId = JSON.stringify({ ExpressionAttributeValues: { ':pk': { S: 'c0ffee42' } } });
    expect(readKindOf('Query', byId)).toBe('Query table ?');
  });
});
