// DynamoDB value equality: what "already holds the wanted value" and "condition holds" mean.
import { describe, expect, it } from 'vitest';
import { ExactNumber } from '../../../lib/core/exact-number.ts';
import { sameValue } from '../../../lib/core/item-equality.ts';
import { formatKey } from '../../../lib/core/key-format.ts';
import { keyId } from '../../../lib/core/keys.ts';
import { conditionsHold } from '../../../lib/core/plan.ts';

describe('sameValue', () => {
  it('compares numbers by value, as JS numbers or ExactNumber text', () => {
    expect(sameValue(1, new ExactNumber('1.0'))).toBe(true);
    expect(sameValue(new ExactNumber('1E+2'), 100)).toBe(true);
    expect(sameValue(new ExactNumber('-0.50'), -0.5)).toBe(true);
    expect(sameValue(new ExactNumber('9007199254740993'), 9007199254740992)).toBe(false);
    expect(sameValue(1, '1')).toBe(false);
  });

  it('compares maps, lists, sets (any order) and binary deeply', () => {
    const a = {
      m: { l: [1, 'x'] },
      s: new Set([new ExactNumber('2.0'), 3]),
      b: new Uint8Array([1]),
    };
    const b = { s: new Set([3, 2]), b: new Uint8Array([1]), m: { l: [1, 'x'] } };
    expect(sameValue(a, b)).toBe(true);
    expect(sameValue(a, { ...b, s: new Set([3, 4]) })).toBe(false);
    expect(sameValue([1, 2], [2, 1])).toBe(false);
    expect(sameValue(new Uint8Array([1]), new Uint8Array([2]))).toBe(false);
  });

  it('makes conditions on maps hold when equal', () => {
    const item = { p: { a: [1] } };
    expect(conditionsHold(item, [{ op: 'equals', attribute: 'p', value: { a: [1] } }])).toBe(true);
    expect(conditionsHold(item, [{ op: 'equals', attribute: 'p', value: { a: [2] } }])).toBe(false);
  });
});

describe('keys of any type', () => {
  it('ids and formats binary and big-number keys unambiguously', () => {
    const key = { digest: new Uint8Array([0xde, 0xad]), seq: new ExactNumber('1.5') };
    expect(keyId('blobs', key)).toBe(
      'blobs:{"digest":{"$binary":"3q0="},"seq":{"$streamfill.number":"1.5"}}',
    );
    expect(formatKey(key)).toBe('{digest=binary:3q0=, seq=1.5}');
  });
});
