// The stream batch retry machine and the shard start rules, as pure decisions.
import { describe, expect, it } from 'vitest';
import { nextRetryStep } from '../../../local/event-source/batch-retry.ts';
import { SHARD_END } from '../../../local/event-source/checkpoint.ts';
import { newShardState } from '../../../local/event-source/shard-tracker.ts';
import { checkVisibilityTimeout } from '../../../local/event-source/sqs-mapping.ts';

const policy = { bisectBatchOnFunctionError: true, maximumRetryAttempts: 2 };
const partialAt = (failedIndex: number) => ({ kind: 'partial' as const, failedIndex, reason: 'r' });
const failure = { kind: 'failure' as const, reason: 'boom' };

describe('nextRetryStep', () => {
  it('item 8: a partial failure at the first record is retried whole and counted, never bisected', () => {
    expect(nextRetryStep({ records: [1, 2, 3], retries: 0 }, partialAt(0), policy)).toEqual({
      kind: 'retry',
      ack: 0,
      records: [1, 2, 3],
      retries: 1,
    });
  });

  it('item 8: partial progress keeps the retry count; once exhausted the rest goes to on-failure', () => {
    expect(nextRetryStep({ records: [1, 2, 3, 4], retries: 1 }, partialAt(1), policy)).toEqual({
      kind: 'retry',
      ack: 1,
      records: [2, 3, 4],
      retries: 2,
    });
    expect(nextRetryStep({ records: [2, 3, 4], retries: 2 }, partialAt(1), policy)).toEqual({
      kind: 'give-up',
      ack: 1,
      records: [3, 4],
    });
  });

  it('a failed invocation is bisected, then retried, then given up on', () => {
    expect(nextRetryStep({ records: [1, 2, 3], retries: 0 }, failure, policy)).toEqual({
      kind: 'bisect',
      halves: [[1, 2], [3]],
    });
    expect(nextRetryStep({ records: [3], retries: 0 }, failure, policy)).toMatchObject({
      kind: 'retry',
      retries: 1,
    });
    expect(nextRetryStep({ records: [3], retries: 2 }, failure, policy)).toEqual({
      kind: 'give-up',
      ack: 0,
      records: [3],
    });
    expect(
      nextRetryStep({ records: [3], retries: 99 }, failure, { ...policy, maximumRetryAttempts: -1 })
        .kind,
    ).toBe('retry');
  });

  it('success acknowledges everything', () => {
    expect(nextRetryStep({ records: [1, 2], retries: 2 }, { kind: 'success' }, policy)).toEqual({
      kind: 'done',
      ack: 2,
    });
  });
});

describe('newShardState', () => {
  const closed = { shardId: 's1', closed: true };
  it('item 8: under LATEST, a closed shard is skipped and marked to be checkpointed as finished', () => {
    const { state, skippedClosed } = newShardState(closed, undefined, true, 'LATEST');
    expect(skippedClosed).toBe(true);
    expect(state.finished).toBe(true);
  });
  it('LATEST applies only on the first start; a resumed consumer reads unknown shards from the start', () => {
    expect(newShardState(closed, undefined, false, 'LATEST').state).toMatchObject({
      finished: false,
      initialPosition: 'TRIM_HORIZON',
    });
    expect(newShardState(closed, SHARD_END, false, 'LATEST').skippedClosed).toBe(false);
    expect(
      newShardState({ shardId: 's2', closed: false }, '42', false, 'LATEST').state,
    ).toMatchObject({ checkpoint: '42', finished: false });
  });
});

describe('checkVisibilityTimeout', () => {
  it('item 8: refuses a visibility timeout shorter than the function timeout, naming both', () => {
    expect(() => checkVisibilityTimeout(30, 60_000)).toThrow(
      'Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds',
    );
    expect(() => checkVisibilityTimeout(60, 60_000)).not.toThrow();
    expect(() => checkVisibilityTimeout(360, 60_000)).not.toThrow();
  });
});
