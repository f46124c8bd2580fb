// ParallelizationFactor's pure parts: the lane of an item, and the contiguous checkpoint.
import { describe, expect, it } from 'vitest';
import { ContiguousTracker, laneOf } from '../../../local/event-source/lanes.ts';

const rec = (seq: string, pk = 'k') => ({
  dynamodb: { SequenceNumber: seq, Keys: { pk: { S: pk } } },
});

describe('lanes', () => {
  it('puts every record of an item on the same lane, whatever the key order', () => {
    const a = { dynamodb: { Keys: { user_id: { S: 'u' }, session_id: { S: 's' } } } };
    const b = { dynamodb: { Keys: { session_id: { S: 's' }, user_id: { S: 'u' } } } };
    expect(laneOf(a, 10)).toBe(laneOf(b, 10));
    const lanes = new Set(Array.from({ length: 200 }, (_, i) => laneOf(rec('1', `k${i}`), 10)));
    expect(lanes.size).toBe(10);
  });

  it('checkpoints the highest record below which every record is done', () => {
    const t = new ContiguousTracker();
    expect(t.add([rec('1'), rec('2'), rec('3'), rec('4')])).toHaveLength(4);
    expect(t.done(['2', '3'])).toBeUndefined(); // 1 is still open
    expect(t.done(['1'])).toBe('3');
    expect(t.open).toBe(1);
    // Records already known are not added twice (a re-read after an iterator error).
    expect(t.add([rec('3'), rec('4'), rec('5')]).map((r) => r.dynamodb.SequenceNumber)).toEqual([
      '5',
    ]);
    expect(t.done(['5'])).toBeUndefined();
    expect(t.done(['4'])).toBe('5');
  });

  it('takes records read again after a reset (a replay from an earlier checkpoint), only once all are done', () => {
    const t = new ContiguousTracker();
    t.add([rec('1'), rec('2'), rec('3')]);
    t.done(['1', '3']);
    expect(() => t.reset()).toThrow(/2 records not done/);
    expect(t.done(['2'])).toBe('3');
    t.reset();
    expect(t.add([rec('2'), rec('3')])).toHaveLength(2);
    expect(t.done(['2', '3'])).toBe('3');
  });
});
