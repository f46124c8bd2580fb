import { describe, expect, it } from 'vitest';
import type { DynamoDBRecord } from 'aws-lambda';
import {
  bisect,
  compareSequenceNumbers,
  countExpiredPrefix,
  interpretStreamBatchResponse,
  shardsReadyToRead,
} from '../../../local/event-source/dynamodb-stream-mapping.ts';

const rec = (seq: string, createdSeconds = 0): DynamoDBRecord => ({
  eventID: seq,
  dynamodb: { SequenceNumber: seq, ApproximateCreationDateTime: createdSeconds },
});
const batch = ['100', '200', '300', '400'].map((s) => rec(s));

describe('compareSequenceNumbers', () => {
  it('orders numerically, not lexically, beyond 2^53', () => {
    expect(compareSequenceNumbers('9', '10')).toBe(-1);
    expect(
      compareSequenceNumbers(
        '49590338271490256608559692538361571095921575989136588898',
        '49590338271490256608559692538361571095921575989136588899',
      ),
    ).toBe(-1);
    expect(compareSequenceNumbers('000000000000000000002', '2')).toBe(0);
    expect(compareSequenceNumbers('300', '20')).toBe(1);
  });
});

describe('interpretStreamBatchResponse', () => {
  it('treats no response, null and empty lists as complete success', () => {
    expect(interpretStreamBatchResponse(batch, undefined, true)).toEqual({ kind: 'success' });
    expect(interpretStreamBatchResponse(batch, null, true)).toEqual({ kind: 'success' });
    expect(interpretStreamBatchResponse(batch, {}, true)).toEqual({ kind: 'success' });
    expect(interpretStreamBatchResponse(batch, { batchItemFailures: [] }, true)).toEqual({
      kind: 'success',
    });
    expect(interpretStreamBatchResponse(batch, { batchItemFailures: null }, true)).toEqual({
      kind: 'success',
    });
  });

  it('retries from the LOWEST failed sequence number, whatever the order reported', () => {
    const out = interpretStreamBatchResponse(
      batch,
      { batchItemFailures: [{ itemIdentifier: '400' }, { itemIdentifier: '200' }] },
      true,
    );
    expect(out).toMatchObject({ kind: 'partial', failedIndex: 1 });
  });

  it('item 8: a failure reported at the first record is a PARTIAL failure from it, as on AWS', () => {
    expect(
      interpretStreamBatchResponse(
        batch,
        { batchItemFailures: [{ itemIdentifier: '100' }, { itemIdentifier: '300' }] },
        true,
      ),
    ).toMatchObject({ kind: 'partial', failedIndex: 0 });
  });

  it('null, empty or unknown identifiers fail the whole batch', () => {
    for (const bad of [
      { itemIdentifier: null },
      { itemIdentifier: '' },
      {},
      { itemIdentifier: '999' },
      { itemIdentifier: 300 },
      null,
    ]) {
      expect(
        interpretStreamBatchResponse(
          batch,
          { batchItemFailures: [{ itemIdentifier: '300' }, bad] },
          true,
        ).kind,
      ).toBe('failure');
    }
    expect(interpretStreamBatchResponse(batch, { batchItemFailures: 'x' }, true).kind).toBe(
      'failure',
    );
  });

  it('ignores the response when ReportBatchItemFailures is off', () => {
    expect(
      interpretStreamBatchResponse(
        batch,
        { batchItemFailures: [{ itemIdentifier: '300' }] },
        false,
      ),
    ).toEqual({ kind: 'success' });
  });
});

describe('bisect', () => {
  it('splits in order, first half larger', () => {
    expect(bisect([1, 2, 3, 4, 5])).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(bisect([1, 2])).toEqual([[1], [2]]);
  });
});

describe('countExpiredPrefix', () => {
  const now = 1_000_000_000;
  const records = [rec('1', now - 1000), rec('2', now - 500), rec('3', now - 10)];
  it('counts the leading records older than the maximum age', () => {
    expect(countExpiredPrefix(records, 100, now * 1000)).toBe(2);
    expect(countExpiredPrefix(records, 5000, now * 1000)).toBe(0);
    expect(countExpiredPrefix(records, 0, now * 1000)).toBe(3);
  });
  it('-1 means infinite', () => {
    expect(countExpiredPrefix(records, -1, now * 1000)).toBe(0);
  });
});

describe('shardsReadyToRead', () => {
  const lineage = [
    { shardId: 'a' },
    { shardId: 'b', parentShardId: 'a' },
    { shardId: 'c', parentShardId: 'b' },
    { shardId: 'd', parentShardId: 'gone' },
  ];
  it('reads a child only after its parent is finished', () => {
    expect(shardsReadyToRead(lineage, new Set(), new Set())).toEqual(['a', 'd']);
    expect(shardsReadyToRead(lineage, new Set(), new Set(['a', 'd']))).toEqual([]);
    expect(shardsReadyToRead(lineage, new Set(['a']), new Set(['a', 'd']))).toEqual(['b']);
    expect(shardsReadyToRead(lineage, new Set(['a', 'b', 'd']), new Set(['a', 'b', 'd']))).toEqual([
      'c',
    ]);
  });
  it('a parent no longer listed (trimmed) does not block its child', () => {
    expect(
      shardsReadyToRead([{ shardId: 'x', parentShardId: 'trimmed' }], new Set(), new Set()),
    ).toEqual(['x']);
  });
});
