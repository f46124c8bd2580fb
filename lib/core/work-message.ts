// The SQS work-message codec of the historic path: versioned message kinds, greedy packing of
// scanned items into size-bounded bodies and SendMessageBatch groups, strict decoding. Keys,
// inputs and scan positions travel as wire values (./wire-values.ts), so sets, binary and big
// numbers reach the worker as they were read; in memory they are the real values again.
import { z } from 'zod';
import type { TableDef } from './config/define.ts';
import { describeType, MalformedItemError } from './errors.ts';
import { isExactNumber } from './exact-number.ts';
import { formatKey } from './key-format.ts';
import type { Item, Key, KeyValue } from './types.ts';
import {
  fromWireRecord,
  sqsJson,
  toWireRecord,
  toWireValue,
  WireDecodeError,
  WireEncodeError,
} from './wire-values.ts';

export type { JsonValue } from './wire-values.ts';

export const WORK_MESSAGE_VERSION = 1;

/** SQS's (and ElasticMQ's) limit on one message, and on one SendMessageBatch in total. */
export const SQS_MAX_MESSAGE_BYTES = 262_144;
/** At most this many entries per SendMessageBatch. */
export const SQS_MAX_BATCH_ENTRIES = 10;
/**
 * Default byte budget of one body: the limit minus headroom for message attributes a
 * deployment may add (trace headers and the like count towards the same 256 KiB).
 */
export const DEFAULT_MESSAGE_BUDGET_BYTES = SQS_MAX_MESSAGE_BYTES - 2_048;

/**
 * One item to migrate: its key and the derivation inputs the scanner read. The worker plans
 * from these and conditions its write on them, so it needs no read of its own.
 */
export interface WorkItem {
  key: Key;
  /** Decoded DynamoDB values (sets, binary, ExactNumbers…), never their wire form. */
  inputs: Record<string, unknown>;
}

/**
 * What the items of a message were scanned for: the migrations the scanner planned for, and
 * the attributes it projected. An attribute outside `projection` is unknown, not absent: the
 * worker never plans a migration whose inputs the projection lacks.
 */
export interface ScannedFor {
  migrations: string[];
  projection: string[];
}

export interface ItemsMessage {
  v: 1;
  kind: 'items';
  /** A declared table name (the engine checks it against its config). */
  table: string;
  /** The backfill run that enqueued these items (logs, status). */
  runId?: string;
  /** Absent in messages of older scanners: the worker then plans no search migration. */
  scannedFor?: ScannedFor;
  items: WorkItem[];
}

/** `--distributed`: scan one page of a segment, enqueue its items and a continuation task. */
export interface ScanSegmentMessage {
  v: 1;
  kind: 'scan-segment';
  /** A declared table name (the engine checks it against its config). */
  table: string;
  runId: string;
  segment: number;
  totalSegments: number;
  /** Undefined for the segment's first page. */
  exclusiveStartKey?: Key;
  pageSize: number;
  /**
   * The migrations the scanner runs for: the worker scans for those it runs itself, plus the
   * opt-in contract steps named here. Absent (older scanners): the worker's own set.
   */
  migrations?: string[];
  /** `--rate` of the whole run, items/s (the segments share it); absent: unlimited. */
  rate?: number;
}

/** A delayed search-only keyword update (a search failure never holds up DynamoDB work). */
export interface SearchRepairMessage {
  v: 1;
  kind: 'search-repair';
  docId: string;
  /** The declared table whose item the document mirrors (absent in older messages). */
  table?: string;
  /** That item's key (absent in older messages); requires `table`. */
  key?: Key;
  keywords: Record<string, string>;
  /** Keyword fields to remove (their source attribute is gone from the item). */
  remove?: string[];
  /** The `last_update` the keywords were derived from (the version guard keeps the newest). */
  version?: string;
  /** 1 for the first repair; the sender gives up (DLQ) past its limit. */
  attempt: number;
  reason: string;
}

export type WorkMessage = ItemsMessage | ScanSegmentMessage | SearchRepairMessage;

// ---------------------------------------------------------------------------------------------
// Strict decoding

const nonEmpty = z.string().min(1, 'must be a non-empty string');
// Wire records are decoded after the envelope (below): zod would copy a "__proto__" map key
// into a prototype, and the wire decoder names the exact attribute at fault.
const wireRecord = z.custom<Record<string, unknown>>(
  (v) => typeof v === 'object' && v !== null && !Array.isArray(v),
  { error: 'must be a JSON object' },
);

const itemsSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal('items'),
  table: nonEmpty,
  runId: nonEmpty.optional(),
  scannedFor: z
    .strictObject({ migrations: z.array(nonEmpty), projection: z.array(nonEmpty) })
    .optional(),
  items: z.array(z.strictObject({ key: wireRecord, inputs: wireRecord })).min(1, 'is empty'),
});

const scanSegmentSchema = z
  .strictObject({
    v: z.literal(1),
    kind: z.literal('scan-segment'),
    table: nonEmpty,
    runId: nonEmpty,
    segment: z.int().min(0),
    totalSegments: z.int().min(1).max(1_000_000),
    exclusiveStartKey: wireRecord.optional(),
    pageSize: z.int().min(1),
    migrations: z.array(nonEmpty).optional(),
    rate: z.number().positive().optional(),
  })
  .refine((m) => m.segment < m.totalSegments, {
    message: 'segment must be < totalSegments',
    path: ['segment'],
  });

const searchRepairSchema = z
  .strictObject({
    v: z.literal(1),
    kind: z.literal('search-repair'),
    docId: nonEmpty,
    table: nonEmpty.optional(),
    key: wireRecord.optional(),
    // Checked on the raw object: a record schema would drop a "__proto__" field silently.
    keywords: z
      .custom<Record<string, string>>(
        (v) =>
          typeof v === 'object' &&
          v !== null &&
          !Array.isArray(v) &&
          Object.values(v).every((x) => typeof x === 'string'),
        { error: 'must be a JSON object of strings' },
      )
      .refine((k) => !Object.hasOwn(k, '__proto__'), 'must not name a field "__proto__"')
      .refine((k) => Object.keys(k).length > 0, 'must name at least one keyword'),
    remove: z.array(nonEmpty).optional(),
    version: nonEmpty.optional(),
    attempt: z.int().min(1),
    reason: nonEmpty,
  })
  .refine((m) => m.key === undefined || m.table !== undefined, {
    message: 'a key needs the table it belongs to',
    path: ['table'],
  });

const messageSchema = z.discriminatedUnion('kind', [
  itemsSchema,
  scanSegmentSchema,
  searchRepairSchema,
]);

/** A body that is not a valid work message; `message` says what is wrong (park it with that). */
export class WorkMessageDecodeError extends Error {
  override readonly name = 'WorkMessageDecodeError';
  /** Each problem as `path: what`. */
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`malformed work message: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

export function isWorkMessageDecodeError(e: unknown): e is WorkMessageDecodeError {
  return (
    e instanceof WorkMessageDecodeError ||
    (e instanceof Error && e.name === 'WorkMessageDecodeError')
  );
}

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(message)';
}

/** Why `value` cannot be a key attribute's value, or undefined when it can. */
function keyValueProblem(value: unknown): string | undefined {
  if (value === undefined) return 'is missing';
  if (value === '' || (value instanceof Uint8Array && value.length === 0)) return 'is empty';
  if (
    typeof value === 'string' ||
    (typeof value === 'number' && Number.isFinite(value)) ||
    isExactNumber(value) ||
    value instanceof Uint8Array
  ) {
    return undefined;
  }
  return `has type ${describeType(value)}, expected string, number or binary`;
}

/**
 * A key from its wire record: each attribute a valid key value, and at least one unless
 * `allowEmpty` (a parked record of an item nobody could name). WireDecodeError naming `path`.
 */
export function decodeWireKey(
  wire: unknown,
  path: string,
  options: { allowEmpty?: boolean } = {},
): Key {
  const key = fromWireRecord(wire, path);
  const names = Object.keys(key);
  if (!names.length && !options.allowEmpty) {
    throw new WireDecodeError(path, 'key must have at least one attribute');
  }
  for (const name of names) {
    const problem = keyValueProblem(key[name]);
    if (problem) throw new WireDecodeError(`${path}.${name}`, `key attribute ${problem}`);
  }
  return key as Key;
}

// Runs one wire decoding, turning its failure into a problem of the message.
function decodeInto<T>(problems: string[], decode: () => T): T | undefined {
  try {
    return decode();
  } catch (e) {
    if (!(e instanceof WireDecodeError)) throw e;
    problems.push(e.message);
    return undefined;
  }
}

/** Parses and validates one SQS body; throws WorkMessageDecodeError naming every problem. */
export function decodeWorkMessage(body: string): WorkMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (e) {
    throw new WorkMessageDecodeError([`body is not JSON (${(e as Error).message})`]);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new WorkMessageDecodeError(['body must be a JSON object']);
  }
  const v = (raw as { v?: unknown }).v;
  if (v !== WORK_MESSAGE_VERSION) {
    throw new WorkMessageDecodeError([
      v === undefined
        ? 'v is missing (expected 1)'
        : `unsupported version v=${JSON.stringify(v)} (this code reads v=1)`,
    ]);
  }
  const parsed = messageSchema.safeParse(raw);
  if (!parsed.success) {
    throw new WorkMessageDecodeError(
      parsed.error.issues.map((i) => `${pathText(i.path)}: ${i.message}`),
    );
  }
  const m = parsed.data;
  const problems: string[] = [];
  let message: WorkMessage;
  if (m.kind === 'items') {
    const items = m.items.map((it, i) => ({
      key: decodeInto(problems, () => decodeWireKey(it.key, `items[${i}].key`)) ?? {},
      inputs: decodeInto(problems, () => fromWireRecord(it.inputs, `items[${i}].inputs`)) ?? {},
    }));
    message = { ...m, items };
  } else if (m.kind === 'scan-segment') {
    const { exclusiveStartKey: start, ...rest } = m;
    const exclusiveStartKey =
      start && decodeInto(problems, () => decodeWireKey(start, 'exclusiveStartKey'));
    message = { ...rest, ...(exclusiveStartKey && { exclusiveStartKey }) };
  } else {
    const { key: wireKey, ...rest } = m;
    const key = wireKey && decodeInto(problems, () => decodeWireKey(wireKey, 'key'));
    message = { ...rest, ...(key && { key }) };
  }
  if (problems.length) throw new WorkMessageDecodeError(problems);
  return message;
}

/** What can still be read off a body that does not decode: its table and item keys, if any. */
export interface SalvagedMessage {
  table?: string;
  keys: Key[];
  /** A search-repair's document id. */
  docId?: string;
}

/** `wire` as a key of exactly `names` (in that order) with valid values, else undefined. */
function salvageKey(wire: unknown, names: readonly string[]): Key | undefined {
  let decoded: Record<string, unknown>;
  try {
    decoded = fromWireRecord(wire, 'key');
  } catch {
    return undefined;
  }
  if (Object.keys(decoded).length !== names.length) return undefined;
  const key: Key = {};
  for (const name of names) {
    if (keyValueProblem(decoded[name]) !== undefined) return undefined;
    key[name] = decoded[name] as KeyValue;
  }
  return key;
}

/**
 * Best effort, never throws: the table and the complete keys of a body that failed to decode,
 * so that it is parked with them (and a redrive can re-read those items) instead of as an
 * anonymous body. The table is whatever non-empty name the body gives; keys are kept only when
 * `keyNamesOf` knows that table's key and a key has exactly those attributes.
 */
export function salvageWorkMessage(
  body: string,
  keyNamesOf?: (table: string) => readonly string[] | undefined,
): SalvagedMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { keys: [] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { keys: [] };
  const r = raw as Record<string, unknown>;
  const table = typeof r.table === 'string' && r.table ? r.table : undefined;
  const keys: Key[] = [];
  let names: readonly string[] | undefined;
  try {
    names = table === undefined ? undefined : keyNamesOf?.(table);
  } catch {
    names = undefined;
  }
  if (names?.length) {
    const wireKeys =
      r.kind === 'search-repair'
        ? [r.key]
        : Array.isArray(r.items)
          ? (r.items as unknown[]).map((it) => (it as { key?: unknown } | null)?.key)
          : [];
    for (const wire of wireKeys) {
      // an incomplete or broken key names no item: leave it out
      const key = wire === undefined ? undefined : salvageKey(wire, names);
      if (key) keys.push(key);
    }
  }
  const docId = typeof r.docId === 'string' && r.docId ? r.docId : undefined;
  return { ...(table && { table }), keys, ...(docId && { docId }) };
}

/** The JSON text of a message (keys, inputs and scan positions as wire values). */
export function encodeWorkMessage(message: WorkMessage): string {
  if (message.kind === 'items') {
    const { items, ...rest } = message;
    const parts = items.map((item) => encodeWorkItem(message.table, item));
    return `${sqsJson(rest).slice(0, -1)},"items":[${parts.join(',')}]}`;
  }
  if (message.kind === 'scan-segment') {
    const { exclusiveStartKey: start, ...rest } = message;
    return sqsJson({
      ...rest,
      ...(start && { exclusiveStartKey: toWireRecord(start, 'exclusiveStartKey') }),
    });
  }
  const { key, ...rest } = message;
  return sqsJson({ ...rest, ...(key && { key: toWireRecord(key, 'key') }) });
}

// ---------------------------------------------------------------------------------------------
// Item encoding and packing

/** Bytes of `s` as UTF-8 (what SQS counts), without allocating an encoded copy. */
export function utf8ByteLength(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3; // lone surrogate: encoded as U+FFFD (3 bytes)
    } else n += 3;
  }
  return n;
}

/** An item that cannot be carried in a message (too large, or a value no wire value holds). */
export class WorkItemError extends Error {
  override readonly name = 'WorkItemError';
  readonly key: Key;
  constructor(table: string, key: Key, what: string) {
    super(`${table} item ${formatKey(key)}: ${what}`);
    this.key = key;
  }
}

// Its wire form, or a WorkItemError naming the attribute: a value that would reach the worker
// changed would make its conditional write compare against the wrong value.
function wireOf(table: string, key: Key, record: Record<string, unknown>, path: string) {
  try {
    return toWireRecord(record, path);
  } catch (e) {
    if (!(e instanceof WireEncodeError)) throw e;
    throw new WorkItemError(
      table,
      key,
      `attribute ${e.path} ${e.problem}, which a work message cannot carry`,
    );
  }
}

/** The key attributes of `item` that are valid key values: names a broken item, never throws. */
function partialKeyOf(table: TableDef, item: Item): Key {
  const key: Key = {};
  for (const name of table.key) {
    if (keyValueProblem(item[name]) === undefined) key[name] = item[name] as KeyValue;
  }
  return key;
}

/**
 * The work item of a scanned item: its validated key in the table's key order
 * (MalformedItemError when broken) and the named inputs it has (absent attributes stay absent:
 * "missing" is itself an input). WorkItemError when an input is no DynamoDB value.
 */
export function workItemOf(table: TableDef, item: Item, inputNames: readonly string[]): WorkItem {
  const key: Key = {};
  for (const name of table.key) {
    const value = item[name];
    if (value === undefined) {
      throw new MalformedItemError(table.name, partialKeyOf(table, item), name, 'missing');
    }
    const problem = keyValueProblem(value);
    if (problem === 'is empty') {
      throw new MalformedItemError(table.name, partialKeyOf(table, item), name, 'empty');
    }
    if (problem) {
      throw new MalformedItemError(table.name, partialKeyOf(table, item), name, 'wrong-type', {
        actualType: describeType(value),
        expectedType: 'string, number or binary',
      });
    }
    key[name] = value as KeyValue;
  }
  const inputs: Record<string, unknown> = {};
  for (const name of inputNames) {
    const value = item[name];
    if (value === undefined) continue;
    try {
      toWireValue(value, name);
    } catch (e) {
      if (!(e instanceof WireEncodeError)) throw e;
      throw new WorkItemError(
        table.name,
        key,
        `attribute ${e.path} ${e.problem}, which a work message cannot carry`,
      );
    }
    inputs[name] = value;
  }
  return { key, inputs };
}

/** The JSON text of one item as it appears inside an items message. */
export function encodeWorkItem(table: string, item: WorkItem): string {
  return sqsJson({
    key: wireOf(table, item.key, item.key, 'key'),
    inputs: wireOf(table, item.key, item.inputs, 'inputs'),
  });
}

function itemsEnvelope(
  table: string,
  runId: string | undefined,
  scannedFor: ScannedFor | undefined,
): { head: string; tail: string } {
  const head = `{"v":1,"kind":"items","table":${sqsJson(table)}${
    runId === undefined ? '' : `,"runId":${sqsJson(runId)}`
  }${
    scannedFor === undefined
      ? ''
      : `,"scannedFor":${sqsJson({ migrations: scannedFor.migrations, projection: scannedFor.projection })}`
  },"items":[`;
  return { head, tail: ']}' };
}

export interface PackOptions {
  /** Bytes (UTF-8) one body may take; default DEFAULT_MESSAGE_BUDGET_BYTES. */
  budgetBytes?: number;
  /** Items per message at most (bounds one worker invocation's work); default unlimited. */
  maxItemsPerMessage?: number;
  runId?: string;
  /** What the items were scanned for (every scanner stamps it; the worker relies on it). */
  scannedFor?: ScannedFor;
}

export interface PackedMessage {
  body: string;
  bytes: number;
  /** Items in this body, in input order. */
  count: number;
}

/**
 * Greedily packs `items`, in order, into as few `items` bodies as fit `budgetBytes` each.
 * An item that alone exceeds the budget is an error naming its key: it could never be sent.
 */
export function packItems(
  table: string,
  items: readonly WorkItem[],
  options: PackOptions = {},
): PackedMessage[] {
  const budget = options.budgetBytes ?? DEFAULT_MESSAGE_BUDGET_BYTES;
  const maxItems = options.maxItemsPerMessage ?? Number.POSITIVE_INFINITY;
  if (!Number.isInteger(budget) || budget < 1 || budget > SQS_MAX_MESSAGE_BYTES) {
    throw new RangeError(
      `budgetBytes must be an integer in 1..${SQS_MAX_MESSAGE_BYTES}, got ${budget}`,
    );
  }
  if (!(maxItems >= 1)) throw new RangeError(`maxItemsPerMessage must be >= 1, got ${maxItems}`);
  const { head, tail } = itemsEnvelope(table, options.runId, options.scannedFor);
  const envelopeBytes = utf8ByteLength(head) + utf8ByteLength(tail);
  const out: PackedMessage[] = [];
  let parts: string[] = [];
  let bytes = envelopeBytes;
  const flush = (): void => {
    if (!parts.length) return;
    out.push({ body: head + parts.join(',') + tail, bytes, count: parts.length });
    parts = [];
    bytes = envelopeBytes;
  };
  for (const item of items) {
    const text = encodeWorkItem(table, item);
    const size = utf8ByteLength(text);
    if (envelopeBytes + size > budget) {
      throw new WorkItemError(
        table,
        item.key,
        `encoded size ${size} bytes does not fit one work message (budget ${budget} bytes incl. ${envelopeBytes} bytes of envelope)`,
      );
    }
    const added = parts.length ? size + 1 : size; // the comma
    if (bytes + added > budget || parts.length >= maxItems) flush();
    bytes += parts.length ? size + 1 : size;
    parts.push(text);
  }
  flush();
  return out;
}

/**
 * Groups bodies, in order, into SendMessageBatch calls: ≤ 10 entries and ≤ 256 KiB in total
 * each. A body larger than the total alone is a programming error (pack first).
 */
export function batchForSend<T extends { bytes: number }>(
  messages: readonly T[],
  options: { maxEntries?: number; maxBatchBytes?: number } = {},
): T[][] {
  const maxEntries = options.maxEntries ?? SQS_MAX_BATCH_ENTRIES;
  const maxBytes = options.maxBatchBytes ?? SQS_MAX_MESSAGE_BYTES;
  const out: T[][] = [];
  let batch: T[] = [];
  let bytes = 0;
  for (const m of messages) {
    if (m.bytes > maxBytes) {
      throw new RangeError(`a message of ${m.bytes} bytes exceeds the batch limit ${maxBytes}`);
    }
    if (batch.length && (batch.length >= maxEntries || bytes + m.bytes > maxBytes)) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(m);
    bytes += m.bytes;
  }
  if (batch.length) out.push(batch);
  return out;
}

/** A non-items message as a sendable body with its size. */
export function packMessage(message: WorkMessage): PackedMessage {
  const body = encodeWorkMessage(message);
  const bytes = utf8ByteLength(body);
  if (bytes > SQS_MAX_MESSAGE_BYTES) {
    throw new RangeError(`${message.kind} message of ${bytes} bytes exceeds the SQS limit`);
  }
  return { body, bytes, count: message.kind === 'items' ? message.items.length : 1 };
}
