import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ExactNumber } from '../../../lib/core/exact-number.ts';
import {
  fromWireRecord,
  fromWireValue,
  sqsJson,
  toWireRecord,
  toWireValue,
  WireDecodeError,
  WireEncodeError,
} from '../../../lib/core/wire-values.ts';
import { dynamoRecordArb, dynamoValueArb, mapOf } from '../../support/dynamo-values.ts';

const viaJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function decodeFailure(wire: unknown): WireDecodeError {
  try {
    fromWireValue(wire, 'v');
  } catch (e) {
    expect(e).toBeInstanceOf(WireDecodeError);
    return e as WireDecodeError;
  }
  throw new Error(`expected ${JSON.stringify(wire)} to be rejected`);
}

describe('wire values', () => {
  it('property: any DynamoDB value round-trips exactly through JSON text', () => {
    fc.assert(
      fc.property(dynamoValueArb, (v) => {
        expect(fromWireValue(viaJson(toWireValue(v)))).toStrictEqual(v);
      }),
      { numRuns: 1000 },
    );
  });

  it('property: records round-trip, attribute names that look like tags included', () => {
    fc.assert(
      fc.property(dynamoRecordArb, (r) => {
        expect(fromWireRecord(viaJson(toWireRecord(r)))).toStrictEqual(r);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps big numbers, binary and each set type as their own types', () => {
    const big = new ExactNumber('12345678901234567890123456789012345678');
    const value = {
      big,
      tiny: new ExactNumber('0.000000000000000000000000000000000001'),
      bin: new Uint8Array([0, 255, 7]),
      ns: new Set([1, new ExactNumber('9007199254740993')]),
      ss: new Set(['a', 'b']),
      bs: new Set([new Uint8Array([1]), new Uint8Array([2, 3])]),
      nested: { list: [big, { deeper: new Set(['x']) }] },
    };
    const back = fromWireValue(viaJson(toWireValue(value))) as typeof value;
    expect(back).toStrictEqual(value);
    expect(back.big).toBeInstanceOf(ExactNumber);
    expect(back.bin).toBeInstanceOf(Uint8Array);
    expect([...back.ns][1]).toBeInstanceOf(ExactNumber);
    expect(toWireValue(value.ns)).toEqual({
      '$streamfill.set': { type: 'N', values: [1, '9007199254740993'] },
    });
  });

  it('escapes user maps shaped like tags, and the escape character itself', () => {
    const tagLike = { '$streamfill.number': '5' };
    expect(toWireValue(tagLike)).toEqual({ '\uFFFE$streamfill.number': '5' });
    expect(fromWireValue(viaJson(toWireValue(tagLike)))).toStrictEqual(tagLike);
    const escaped = { '\uFFFE$streamfill.number': '5', '\uFFFE': 1 };
    expect(toWireValue(escaped)).toEqual({
      '\uFFFE\uFFFE$streamfill.number': '5',
      '\uFFFE\uFFFE': 1,
    });
    expect(fromWireValue(viaJson(toWireValue(escaped)))).toStrictEqual(escaped);
    const proto = mapOf([['__proto__', { a: 1 }]]);
    const back = fromWireValue(JSON.parse(JSON.stringify(toWireValue(proto)))) as object;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(['__proto__']);
  });

  it('reads the exact-number tag of older bodies (ExactNumber.toJSON)', () => {
    const old = viaJson({ n: new ExactNumber('123456789012345678901'), s: 'x', k: 7 });
    expect(fromWireRecord(old)).toStrictEqual({
      n: new ExactNumber('123456789012345678901'),
      s: 'x',
      k: 7,
    });
  });

  it('refuses what DynamoDB cannot hold, naming where', () => {
    const fails = (v: unknown, path: string, problem: RegExp) => {
      try {
        toWireValue(v, 'v');
      } catch (e) {
        expect(e).toBeInstanceOf(WireEncodeError);
        expect((e as WireEncodeError).path).toBe(path);
        expect((e as WireEncodeError).problem).toMatch(problem);
        return;
      }
      throw new Error('expected a WireEncodeError');
    };
    fails({ a: [1, 2n] }, 'v.a[1]', /is a bigint/);
    fails(Number.NaN, 'v', /the number NaN/);
    fails({ d: new Date(0) }, 'v.d', /an instance of Date/);
    fails(() => 1, 'v', /a function/);
    fails(new Set(), 'v', /empty set/);
    fails(new Set(['a', 1]), 'v', /mixing types/);
    fails([undefined], 'v[0]', /undefined/);
    // undefined attributes are absent, as DynamoDB has them
    expect(toWireRecord({ a: undefined, b: 1 })).toEqual({ b: 1 });
  });

  it('rejects malformed wire values, naming where', () => {
    expect(decodeFailure({ '$streamfill.number': 'abc' }).message).toMatch(
      /^v: a tagged number must be a decimal number text/,
    );
    expect(decodeFailure({ '$streamfill.binary': 'no!' }).message).toMatch(/base64/);
    expect(decodeFailure({ '$streamfill.set': { type: 'X', values: [1] } }).message).toMatch(
      /v\.type: must be "S", "N" or "B"/,
    );
    expect(decodeFailure({ '$streamfill.set': { type: 'S', values: [] } }).message).toMatch(
      /at least one value/,
    );
    expect(decodeFailure({ '$streamfill.set': { type: 'N', values: [true] } }).message).toMatch(
      /v\.values\[0\]: must be a number/,
    );
    expect(decodeFailure({ '$streamfill.nope': 1 }).message).toMatch(/unknown tag/);
    expect(decodeFailure({ m: { '$streamfill.number': '1', x: 2 } }).message).toMatch(
      /^v\.m: key "\$streamfill\.number" is reserved/,
    );
  });
});

describe('sqsJson', () => {
  it('property: parses back to the same value and holds only characters SQS accepts', () => {
    // SQS: #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF
    const sqsChars = /^(?:[\t\n\r\u0020-\uD7FF\uE000-\uFFFD]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/;
    fc.assert(
      fc.property(dynamoRecordArb, fc.string({ unit: 'binary' }), (r, s) => {
        const value = { r: toWireRecord(r), s: s + '\uFFFE\uFFFF\u0000' };
        const text = sqsJson(value);
        expect(text).toMatch(sqsChars);
        expect(JSON.parse(text)).toStrictEqual(value);
      }),
      { numRuns: 300 },
    );
  });
});
