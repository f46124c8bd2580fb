// The SQS work-message codec of the historic path: versioned message kinds, greedy packing of
// scanned items into size-bounded bodies and SendMessageBatch groups, strict decoding.
import { z } from 'zod';
import {
  EXACT_NUMBER_TAG,
  isExactNumber,
  isExactNumberTag,
  reviveExactNumbers,
} from './exact-number.ts';
import { formatKey } from './key-format.ts';
import { keyOf } from './keys.ts';
import type { Item, Key, TableRole } from './types.ts';

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

/** A JSON value as carried in a message (what an attribute can be after a JSON round trip). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/**
 * One item to migrate: its key and the derivation inputs the scanner read. The worker plans
 * from these and conditions its write on them, so it needs no read of its own.
 */
export interface WorkItem {
  key: Key;
  inputs: Record<string, JsonValue>;
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
  table: TableRole;
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
  table: TableRole;
  runId: string;
  segment: number;
  totalSegments: number;
  /** Undefined for the segment's first page. */
  exclusiveStartKey?: Record<string, JsonValue>;
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
const tableRole = z.enum(['session', 'user', 'tag'], {
  error: 'must be one of "session", "user", "tag"',
});
const keySchema = z
  .record(
    z.string(),
    z.union([z.string(), z.number()], { error: 'key attributes must be strings or numbers' }),
  )
  .refine((k) => Object.keys(k).length > 0, 'key must have at least one attribute');
const jsonRecord = z.record(z.string(), z.json({ error: 'must be a JSON value' }));

const itemsSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal('items'),
  table: tableRole,
  runId: nonEmpty.optional(),
  scannedFor: z
    .strictObject({ migrations: z.array(nonEmpty), projection: z.array(nonEmpty) })
    .optional(),
  items: z.array(z.strictObject({ key: keySchema, inputs: jsonRecord })).min(1, 'is empty'),
});

const scanSegmentSchema = z
  .strictObject({
    v: z.literal(1),
    kind: z.literal('scan-segment'),
    table: tableRole,
    runId: nonEmpty,
    segment: z.int().min(0),
    totalSegments: z.int().min(1).max(1_000_000),
    exclusiveStartKey: jsonRecord.optional(),
    pageSize: z.int().min(1),
    migrations: z.array(nonEmpty).optional(),
    rate: z.number().positive().optional(),
  })
  .refine((m) => m.segment < m.totalSegments, {
    message: 'segment must be < totalSegments',
    path: ['segment'],
  });

const searchRepairSchema = z.strictObject({
  v: z.literal(1),
  kind: z.literal('search-repair'),
  docId: nonEmpty,
  keywords: z
    .record(z.string(), z.string())
    .refine((k) => Object.keys(k).length > 0, 'must name at least one keyword'),
  remove: z.array(nonEmpty).optional(),
  version: nonEmpty.optional(),
  attempt: z.int().min(1),
  reason: nonEmpty,
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
  const message = parsed.data as WorkMessage;
  if (message.kind === 'items') {
    // Numbers a JS number cannot hold exactly travel tagged (ExactNumber.toJSON).
    for (const item of message.items)
      item.inputs = reviveExactNumbers(item.inputs) as Record<string, JsonValue>;
  }
  return message;
}

/** What can still be read off a body that does not decode: its table and item keys, if any. */
export interface SalvagedMessage {
  table?: TableRole;
  keys: Key[];
  /** A search-repair's document id. */
  docId?: string;
}

/**
 * Best effort, never throws: the table role and the complete keys of a body that failed to
 * decode, so that it is parked with them (and a redrive can re-read those items) instead of
 * as an anonymous body.
 */
export function salvageWorkMessage(body: string): SalvagedMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    return { keys: [] };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { keys: [] };
  const r = raw as Record<string, unknown>;
  const role = tableRole.safeParse(r.table);
  const table = role.success ? role.data : r.kind === 'search-repair' ? 'session' : undefined;
  const keys: Key[] = [];
  if (table && Array.isArray(r.items)) {
    for (const it of r.items as unknown[]) {
      const k = keySchema.safeParse((it as { key?: unknown } | null)?.key);
      if (!k.success) continue;
      try {
        keys.push(keyOf(table, k.data));
      } catch {
        // an incomplete key names no item: leave it out
      }
    }
  }
  const docId = typeof r.docId === 'string' && r.docId ? r.docId : undefined;
  return { ...(table && { table }), keys, ...(docId && { docId }) };
}

export function encodeWorkMessage(message: WorkMessage): string {
  return JSON.stringify(message);
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

/** An item that cannot be carried in a message (too large, or a value JSON cannot carry). */
export class WorkItemError extends Error {
  override readonly name = 'WorkItemError';
  readonly key: Key;
  constructor(table: TableRole, key: Key, what: string) {
    super(`${table} item ${formatKey(key)}: ${what}`);
    this.key = key;
  }
}

function describeValue(value: unknown): string {
  if (value instanceof Set) return 'a set';
  if (value instanceof Uint8Array) return 'binary';
  if (typeof value === 'bigint') return 'a bigint';
  if (typeof value === 'number') return `the number ${String(value)}`;
  return typeof value;
}

// Values a JSON round trip keeps exactly; anything else would reach the worker changed and
// make its conditional write compare against the wrong value.
function checkJson(table: TableRole, key: Key, path: string, value: unknown): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number' && Number.isFinite(value)) return;
  // Travels as its tagged text (ExactNumber.toJSON) and is revived by decodeWorkMessage.
  if (isExactNumber(value)) return;
  if (isExactNumberTag(value)) {
    throw new WorkItemError(
      table,
      key,
      `attribute ${path} is a map shaped like streamfill's exact-number tag ({"${EXACT_NUMBER_TAG}": …}), which a work message cannot carry unambiguously`,
    );
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkJson(table, key, `${path}[${i}]`, v));
    return;
  }
  const proto: unknown = typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (proto === Object.prototype || proto === null) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      // JSON.parse and zod would turn it into a prototype, not an attribute.
      if (k === '__proto__') {
        throw new WorkItemError(table, key, `attribute ${path} has a map key "__proto__"`);
      }
      if (v !== undefined) checkJson(table, key, `${path}.${k}`, v);
    }
    return;
  }
  throw new WorkItemError(
    table,
    key,
    `attribute ${path} is ${describeValue(value)}, which a work message cannot carry`,
  );
}

/**
 * The work item of a scanned item: its validated key (MalformedItemError when broken) and the
 * named inputs it has (absent attributes stay absent: "missing" is itself an input).
 */
export function workItemOf(table: TableRole, item: Item, inputNames: readonly string[]): WorkItem {
  const key = keyOf(table, item);
  const inputs: Record<string, JsonValue> = {};
  for (const name of inputNames) {
    const value = item[name];
    if (value === undefined) continue;
    checkJson(table, key, name, value);
    inputs[name] = value as JsonValue;
  }
  return { key, inputs };
}

/** The JSON text of one item as it appears inside an items message. */
export function encodeWorkItem(table: TableRole, item: WorkItem): string {
  checkJson(table, item.key, 'inputs', item.inputs);
  return JSON.stringify({ key: item.key, inputs: item.inputs });
}

function itemsEnvelope(
  table: TableRole,
  runId: string | undefined,
  scannedFor: ScannedFor | undefined,
): { head: string; tail: string } {
  const head = `{"v":1,"kind":"items","table":${JSON.stringify(table)}${
    runId === undefined ? '' : `,"runId":${JSON.stringify(runId)}`
  }${
    scannedFor === undefined
      ? ''
      : `,"scannedFor":${JSON.stringify({ migrations: scannedFor.migrations, projection: scannedFor.projection })}`
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
  table: TableRole,
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
