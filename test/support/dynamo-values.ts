// fast-check arbitraries for any DynamoDB value as our adapters unmarshal it: strings, finite
// numbers, ExactNumbers (beyond 2^53, 38 digits), binary, S/N/B sets, lists and maps, including
// map keys that look like streamfill's wire tags or its escape character.
import fc from 'fast-check';
import { numberFromText, type ExactNumber } from '../../lib/core/exact-number.ts';
import type { Key } from '../../lib/core/types.ts';

/** A DynamoDB number's text: big integers up to 38 digits, long decimals, small ones. */
export const numberTextArb: fc.Arbitrary<string> = fc.oneof(
  fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }).map(String),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 64n }).map((b) => String(b + 1n)),
  fc.stringMatching(/^-?[1-9]\d{37}$/),
  fc.stringMatching(/^-?(0|[1-9]\d{0,18})\.\d{0,18}[1-9]$/),
  fc.integer().map(String),
);

/** A number as unmarshalled: a JS number when exact, else an ExactNumber. */
export const dynamoNumberArb: fc.Arbitrary<number | ExactNumber> = fc.oneof(
  numberTextArb.map(numberFromText),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
);

const numberId = (v: number | ExactNumber) => (typeof v === 'number' ? `n${v}` : `x${v.text}`);
const binaryId = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** Map keys, with the tag names, the escape character and `__proto__` made likely. */
export const mapKeyArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.constantFrom(
    '$streamfill.number',
    '$streamfill.binary',
    '$streamfill.set',
    '$streamfill.other',
    '$streamfill.',
    '\uFFFE',
    '\uFFFE$streamfill.number',
    '\uFFFE\uFFFEx',
    '__proto__',
    'type',
    'values',
  ),
);

/** A plain object from entries; `__proto__` becomes an own attribute, as unmarshalling makes it. */
export function mapOf(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    Object.defineProperty(out, k, {
      value: v,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

export const dynamoValueArb: fc.Arbitrary<unknown> = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.string({ unit: 'binary' }),
    dynamoNumberArb,
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 24 }),
    fc
      .uniqueArray(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 4 })
      .map((a) => new Set(a)),
    fc
      .uniqueArray(dynamoNumberArb, { minLength: 1, maxLength: 4, selector: numberId })
      .map((a) => new Set(a)),
    fc
      .uniqueArray(fc.uint8Array({ maxLength: 8 }), {
        minLength: 1,
        maxLength: 4,
        selector: binaryId,
      })
      .map((a) => new Set(a)),
    fc.array(tie('v'), { maxLength: 3 }),
    fc
      .uniqueArray(fc.tuple(mapKeyArb, tie('v')), { maxLength: 3, selector: (e) => e[0] })
      .map(mapOf),
  ),
})).v;

/** A record of attributes (an item's inputs). */
export const dynamoRecordArb: fc.Arbitrary<Record<string, unknown>> = fc
  .uniqueArray(fc.tuple(mapKeyArb, dynamoValueArb), { maxLength: 6, selector: (e) => e[0] })
  .map(mapOf);

/** A key value: non-empty string, number (any), non-empty binary. */
export const keyValueArb: fc.Arbitrary<Key[string]> = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1 }),
  dynamoNumberArb,
  fc.uint8Array({ minLength: 1, maxLength: 16 }),
);
