// DynamoDB numbers at the SDK boundary: read as a JS number when exact, else as the core's
// ExactNumber (its decimal text); written back as that very text (a NumberValue), so a
// condition compares the exact number DynamoDB holds.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { NumberValue } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { isExactNumber, numberFromText } from '../core/exact-number.ts';
import type { Item } from '../core/types.ts';

/**
 * The `unmarshallOptions` of every DocumentClient and unmarshalling of streamfill: a new object
 * each time, because the DocumentClient writes into the one it is given.
 */
export function exactUnmarshallOptions(): { wrapNumbers: (text: string) => unknown } {
  return { wrapNumbers: numberFromText };
}

/** An item image (a stream record's, a ConditionalCheckFailed's ALL_OLD) with exact numbers. */
export function unmarshallExact(image: Record<string, AttributeValue>): Item {
  return unmarshall(image, exactUnmarshallOptions() as never) as Item;
}

/**
 * The decimal text of a JS number: its shortest form, except that past ±2^53 (integers only
 * there) an exponent form is spelled out in all its digits.
 */
function numberText(n: number): string {
  const text = String(n);
  return Math.abs(n) > Number.MAX_SAFE_INTEGER && /e/i.test(text) ? BigInt(n).toString() : text;
}

function isUnsafeNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) > Number.MAX_SAFE_INTEGER;
}

/**
 * A value as the DocumentClient marshals it, deeply: ExactNumbers and numbers past ±2^53 (which
 * the SDK refuses as plain numbers) become NumberValues of their exact text; a number set that
 * holds any of those becomes a set of NumberValues only (the SDK types a set by its first
 * element, so a mixed set would fail).
 */
export function sdkValue(v: unknown): unknown {
  if (isExactNumber(v)) return NumberValue.from(v.text);
  if (isUnsafeNumber(v)) return NumberValue.from(numberText(v));
  if (Array.isArray(v)) return v.map(sdkValue);
  if (v instanceof Set) {
    const values = [...v];
    if (values.some((x) => isExactNumber(x) || isUnsafeNumber(x))) {
      return new Set(
        values.map((x) => (typeof x === 'number' ? NumberValue.from(numberText(x)) : sdkValue(x))),
      );
    }
    return new Set(values.map(sdkValue));
  }
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sdkValue(x)]));
  }
  return v;
}
