import { marshall } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sdkValue, unmarshallExact } from '../../../lib/adapters/exact-numbers.ts';
import { ExactNumber } from '../../../lib/core/exact-number.ts';
import { toWireRecord } from '../../../lib/core/wire-values.ts';
import { dynamoRecordArb } from '../../support/dynamo-values.ts';

// marshall is what the DocumentClient runs on every request (pure: no service involved).
const attributes = (item: Record<string, unknown>) =>
  marshall(sdkValue(item) as Record<string, unknown>, { removeUndefinedValues: true });

function hasExponentBigNumber(v: unknown): boolean {
  if (typeof v === 'number') return Math.abs(v) > Number.MAX_SAFE_INTEGER && /e/.test(String(v));
  if (v instanceof Set || Array.isArray(v)) return [...v].some(hasExponentBigNumber);
  if (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof Uint8Array) &&
    !(v instanceof ExactNumber)
  ) {
    return Object.values(v).some(hasExponentBigNumber);
  }
  return false;
}

describe('sdkValue', () => {
  it('sends numbers past 2^53 as their exact text instead of being refused', () => {
    // 2^60 is read as a plain number only from the text "1152921504606847000" (its shortest
    // form), and goes back as that text; 1e21 is spelled out (DynamoDB's own form).
    expect(attributes({ a: 2 ** 60, b: -(2 ** 60), c: 1e21, d: 7, e: 1e-7 })).toEqual({
      a: { N: '1152921504606847000' },
      b: { N: '-1152921504606847000' },
      c: { N: '1000000000000000000000' },
      d: { N: '7' },
      e: { N: '1e-7' },
    });
  });

  it('sends number sets mixing plain numbers, big numbers and ExactNumbers', () => {
    const set = new Set<unknown>([1, 2 ** 60, new ExactNumber('123456789012345678901'), 0.5]);
    expect(attributes({ s: set })).toEqual({
      s: { NS: ['1', '1152921504606847000', '123456789012345678901', '0.5'] },
    });
    // the first element decides the SDK's set type: a leading ExactNumber works too
    expect(attributes({ s: new Set([new ExactNumber('1.5'), 2]) })).toEqual({
      s: { NS: ['1.5', '2'] },
    });
  });

  it('property: marshalled then unmarshalled, any DynamoDB record is itself again', () => {
    fc.assert(
      fc.property(dynamoRecordArb, (r) => {
        // A plain number like 1e21 is never read (its text "1e+21" is not DynamoDB's form:
        // that is read as an ExactNumber), so it cannot come back as itself.
        fc.pre(!hasExponentBigNumber(r));
        // The SDK's own (un)marshalling drops a "__proto__" attribute: not ours to test here.
        fc.pre(!JSON.stringify(toWireRecord(r)).includes('"__proto__"'));
        // unmarshalling reads numbers with our exact wrapNumbers, like every adapter
        expect(unmarshallExact(attributes(r))).toStrictEqual(r);
      }),
      { numRuns: 300 },
    );
  });
});
