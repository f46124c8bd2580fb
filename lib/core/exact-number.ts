// DynamoDB numbers carried exactly. A DynamoDB number has up to 38 digits; a JS number keeps
// about 15-17. A number whose decimal text a JS number reproduces stays a plain number; any
// other one (9007199254740993.5) is an ExactNumber holding DynamoDB's text, so planning,
// conditions and work messages never compare or write a rounded value. Pure.

/** The JSON form of an ExactNumber inside a work message: `{"$streamfill.number":"…"}`. */
export const EXACT_NUMBER_TAG = '$streamfill.number';

/** A DynamoDB number kept as its decimal text (adapters marshal it back as that text). */
export class ExactNumber {
  constructor(readonly text: string) {}
  toJSON(): Record<string, string> {
    return { [EXACT_NUMBER_TAG]: this.text };
  }
  toString(): string {
    return this.text;
  }
}

// `name` checks keep working when two copies of the module meet (bundles, test workers).
export function isExactNumber(v: unknown): v is ExactNumber {
  return (
    v instanceof ExactNumber ||
    (typeof v === 'object' &&
      v !== null &&
      v.constructor?.name === 'ExactNumber' &&
      typeof (v as { text?: unknown }).text === 'string')
  );
}

/**
 * A DynamoDB number's text as a JS number when that is exact (the number prints back as the
 * same text), else as an ExactNumber. The `wrapNumbers` of every unmarshalling.
 */
export function numberFromText(text: string): number | ExactNumber {
  const n = Number(text);
  return Number.isFinite(n) && String(n) === text ? n : new ExactNumber(text);
}

/** Equality of attribute values as DynamoDB compares them, ExactNumbers by their text. */
export function sameScalar(a: unknown, b: unknown): boolean {
  if (isExactNumber(a) || isExactNumber(b)) {
    return isExactNumber(a) && isExactNumber(b) && a.text === b.text;
  }
  return a === b;
}
