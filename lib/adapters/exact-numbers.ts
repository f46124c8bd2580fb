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

/** A value as the DocumentClient marshals it: ExactNumbers become NumberValues (deeply). */
export function sdkValue(v: unknown): unknown {
  if (isExactNumber(v)) return NumberValue.from(v.text);
  if (Array.isArray(v)) return v.map(sdkValue);
  if (v instanceof Set) return new Set([...v].map(sdkValue));
  if (typeof v === 'object' && v !== null && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, sdkValue(x)]));
  }
  return v;
}
