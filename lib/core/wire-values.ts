// DynamoDB values (as our adapters unmarshal them) as JSON-safe values and back, exactly: work
// messages and parked records carry items through plain JSON, which has no sets, no binary and
// no numbers beyond a double. Pure.
//
// Encoding:
// - string, boolean, null, finite number: themselves (-0 travels as 0: DynamoDB has no -0).
// - ExactNumber (a number a double cannot hold): {"$streamfill.number": "<DynamoDB's text>"}
//   (the very tag ExactNumber.toJSON wrote in older bodies, so those still decode).
// - Uint8Array: {"$streamfill.binary": "<base64>"}.
// - Set: {"$streamfill.set": {"type": "S"|"N"|"B", "values": [...]}}; N values are JSON numbers
//   (plain numbers) or strings (ExactNumber texts), B values base64.
// - list: an array; map: an object.
// Escaping: a map key (or record attribute name) that starts with "$streamfill." or with the
// escape character U+FFFE gets one U+FFFE prepended, and decoding strips one. So an unescaped
// key starting with "$streamfill." only ever appears in a tag, and any user map round-trips.
import { ExactNumber, EXACT_NUMBER_TAG, isExactNumber } from './exact-number.ts';

/** A JSON value as carried in a message body. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export const BINARY_TAG = '$streamfill.binary';
export const SET_TAG = '$streamfill.set';
const RESERVED_PREFIX = '$streamfill.';
const ESCAPE = '\uFFFE';

/** A value the wire form cannot carry (a bigint, a function, a class instance, an empty set…). */
export class WireEncodeError extends Error {
  override readonly name = 'WireEncodeError';
  constructor(
    /** Where in the value, e.g. `inputs.tags[2]`. */
    readonly path: string,
    /** What is wrong, e.g. `is a bigint`. */
    readonly problem: string,
  ) {
    super(`${path} ${problem}`);
  }
}

/** JSON that is not a wire value (a bad tag, bad base64, a number that is not a number…). */
export class WireDecodeError extends Error {
  override readonly name = 'WireDecodeError';
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

// Own-property assignment: `o["__proto__"] = v` would set the prototype, not an attribute.
function setOwn(o: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  } else o[k] = v;
}

function escapeKey(k: string): string {
  return k.startsWith(RESERVED_PREFIX) || k.startsWith(ESCAPE) ? ESCAPE + k : k;
}

function isPlainMap(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (typeof v === 'bigint') return 'a bigint';
  if (typeof v === 'number') return `the number ${String(v)}`;
  if (typeof v === 'object' && v !== null) {
    return `an instance of ${v.constructor?.name ?? 'an unknown class'}`;
  }
  return `a ${typeof v}`;
}

function base64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** The JSON-safe form of one DynamoDB value; WireEncodeError naming `path` when impossible. */
export function toWireValue(value: unknown, path = 'value'): JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new WireEncodeError(path, `is ${describe(value)}`);
    return value;
  }
  if (isExactNumber(value)) return { [EXACT_NUMBER_TAG]: value.text };
  if (value instanceof Uint8Array) return { [BINARY_TAG]: base64(value) };
  if (Array.isArray(value)) {
    return value.map((v, i) => {
      if (v === undefined) throw new WireEncodeError(`${path}[${i}]`, 'is undefined');
      return toWireValue(v, `${path}[${i}]`);
    });
  }
  if (value instanceof Set) return { [SET_TAG]: setToWire(value, path) };
  if (typeof value === 'object' && isPlainMap(value)) {
    return toWireRecord(value as Record<string, unknown>, path);
  }
  throw new WireEncodeError(path, `is ${describe(value)}`);
}

function setToWire(set: Set<unknown>, path: string): JsonValue {
  const values = [...set];
  if (!values.length) throw new WireEncodeError(path, 'is an empty set (DynamoDB has none)');
  if (values.every((v) => typeof v === 'string')) return { type: 'S', values: values as string[] };
  if (values.every((v) => v instanceof Uint8Array)) {
    return { type: 'B', values: values.map((v) => base64(v as Uint8Array)) };
  }
  if (values.every((v) => (typeof v === 'number' && Number.isFinite(v)) || isExactNumber(v))) {
    return {
      type: 'N',
      values: values.map((v) => (isExactNumber(v) ? v.text : (v as number))),
    };
  }
  throw new WireEncodeError(
    path,
    'is a set mixing types or holding values other than strings, numbers or binary',
  );
}

/**
 * A record of attributes (an item's inputs, a key) as a JSON object: each value encoded, names
 * escaped as map keys are; undefined attributes are left out (absent, as in DynamoDB).
 */
export function toWireRecord(
  record: Readonly<Record<string, unknown>>,
  path = 'record',
): { [k: string]: JsonValue } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) {
    if (v !== undefined) setOwn(out, escapeKey(k), toWireValue(v, `${path}.${k}`));
  }
  return out as { [k: string]: JsonValue };
}

// ---------------------------------------------------------------------------------------------
// Message text

/**
 * JSON text an SQS body can hold: SQS refuses U+FFFE and U+FFFF (JSON.stringify already escapes
 * control characters and lone surrogates), so those two are written as JSON escapes, which
 * JSON.parse reads back as the same characters. Our own escape character is one of them.
 */
export function sqsJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\uFFFE\uFFFF]/g, (c) =>
    c === '\uFFFE' ? '\\ufffe' : '\\uffff',
  );
}

// ---------------------------------------------------------------------------------------------
// Decoding

const NUMBER_TEXT = /^-?\d+(\.\d+)?([eE][+-]?\d+)?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function numberText(v: unknown, path: string): ExactNumber {
  if (typeof v !== 'string' || !NUMBER_TEXT.test(v)) {
    throw new WireDecodeError(path, 'a tagged number must be a decimal number text');
  }
  return new ExactNumber(v);
}

function binaryOf(v: unknown, path: string): Uint8Array {
  if (typeof v !== 'string' || !BASE64.test(v)) {
    throw new WireDecodeError(path, 'binary must be base64 text');
  }
  return new Uint8Array(Buffer.from(v, 'base64'));
}

function setFrom(v: unknown, path: string): Set<unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new WireDecodeError(path, 'a set must be {"type": "S"|"N"|"B", "values": [...]}');
  }
  const { type, values, ...rest } = v as Record<string, unknown>;
  if (Object.keys(rest).length || !Array.isArray(values) || !values.length) {
    throw new WireDecodeError(path, 'a set must be {"type", "values": [at least one value]}');
  }
  const at = (i: number) => `${path}.values[${i}]`;
  if (type === 'S') {
    return new Set(
      values.map((x, i) => {
        if (typeof x !== 'string') throw new WireDecodeError(at(i), 'must be a string');
        return x;
      }),
    );
  }
  if (type === 'N') {
    return new Set(
      values.map((x, i) => {
        if (typeof x === 'number' && Number.isFinite(x)) return x;
        if (typeof x === 'string') return numberText(x, at(i));
        throw new WireDecodeError(at(i), 'must be a number or a decimal number text');
      }),
    );
  }
  if (type === 'B') return new Set(values.map((x, i) => binaryOf(x, at(i))));
  throw new WireDecodeError(`${path}.type`, 'must be "S", "N" or "B"');
}

/** The DynamoDB value of a wire value (a parsed JSON value); WireDecodeError naming `path`. */
export function fromWireValue(wire: unknown, path = 'value'): unknown {
  if (wire === null || typeof wire === 'string' || typeof wire === 'boolean') return wire;
  if (typeof wire === 'number') {
    if (!Number.isFinite(wire)) throw new WireDecodeError(path, 'number is not finite');
    return wire;
  }
  if (Array.isArray(wire)) return wire.map((v, i) => fromWireValue(v, `${path}[${i}]`));
  if (typeof wire !== 'object') throw new WireDecodeError(path, `is a ${typeof wire}`);
  const keys = Object.keys(wire);
  if (keys.length === 1 && keys[0]!.startsWith(RESERVED_PREFIX)) {
    const payload = (wire as Record<string, unknown>)[keys[0]!];
    if (keys[0] === EXACT_NUMBER_TAG) return numberText(payload, path);
    if (keys[0] === BINARY_TAG) return binaryOf(payload, path);
    if (keys[0] === SET_TAG) return setFrom(payload, path);
    throw new WireDecodeError(path, `unknown tag "${keys[0]}"`);
  }
  return fromWireRecord(wire, path);
}

/** The attributes of a wire record (toWireRecord's output, parsed); WireDecodeError naming `path`. */
export function fromWireRecord(wire: unknown, path = 'record'): Record<string, unknown> {
  if (typeof wire !== 'object' || wire === null || Array.isArray(wire)) {
    throw new WireDecodeError(path, 'must be a JSON object');
  }
  const out: Record<string, unknown> = {};
  for (const [wk, wv] of Object.entries(wire)) {
    if (wk.startsWith(RESERVED_PREFIX)) {
      throw new WireDecodeError(path, `key "${wk}" is reserved for tags (tags stand alone)`);
    }
    const k = wk.startsWith(ESCAPE) ? wk.slice(1) : wk;
    setOwn(out, k, fromWireValue(wv, `${path}.${k}`));
  }
  return out;
}
