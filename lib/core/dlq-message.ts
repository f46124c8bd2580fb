// What a dead-letter body is (a work message SQS moved, Lambda's stream on-failure record, an
// item streamfill parked, or something else) and what a redrive does with each: pure.
import { z } from 'zod';
import { WireDecodeError } from './wire-values.ts';
import {
  decodeWireKey,
  decodeWorkMessage,
  isWorkMessageDecodeError,
  type SearchRepairMessage,
  type WorkMessage,
} from './work-message.ts';
import { keyId } from './keys.ts';
import type { Key, TableNames } from './types.ts';

/** Lambda's `DDBStreamBatchInfo`: the range of one shard whose records a stream batch gave up on. */
export interface StreamBatchInfo {
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
  batchSize: number;
  streamArn: string;
  approximateArrivalOfFirstRecord?: string;
  approximateArrivalOfLastRecord?: string;
}

/**
 * What streamfill parked: an item that cannot be migrated as it stands (`malformed`, the
 * default of bodies that do not say), a search repair that gave up, or a work message that does
 * not decode.
 */
export type ParkedKind = 'malformed' | 'search-repair' | 'undecodable';
export const PARKED_KINDS: readonly ParkedKind[] = ['malformed', 'search-repair', 'undecodable'];

/** A record streamfill parked (`streamfill.parked/1`, lib/adapters/dead-letters.ts). */
export interface ParkedBody {
  source: string;
  reason: string;
  kind: ParkedKind;
  /** The physical table the item lives in (the caller maps it to a declared one). */
  table: string;
  key: Key;
  /** Every item key an undecodable message named (`key` is the first). */
  keys?: Key[];
  /** A given-up search repair's document id. */
  docId?: string;
  parkedAt?: string;
  /** A given-up search repair's own message: redrive sends it back as a first attempt. */
  repair?: SearchRepairMessage;
}

export type DlqMessage =
  | { kind: 'work'; message: WorkMessage }
  /** Lambda's body carries the range only, never the records: their keys come from the stream. */
  | { kind: 'stream-failure'; info: StreamBatchInfo; condition: string }
  | { kind: 'parked'; parked: ParkedBody }
  | { kind: 'unknown'; problem: string };

export type DlqKind = DlqMessage['kind'];
/**
 * The kinds status, verify and redrive count: work messages split by their own kind, parked
 * records by theirs (`parked` is a malformed item, for the name operators know).
 */
export type DlqBreakdownKind =
  | Exclude<DlqKind, 'work' | 'parked'>
  | WorkMessage['kind']
  | 'parked'
  | 'parked-search-repair'
  | 'parked-undecodable';
export const DLQ_BREAKDOWN_KINDS: readonly DlqBreakdownKind[] = [
  'items',
  'scan-segment',
  'search-repair',
  'stream-failure',
  'parked',
  'parked-search-repair',
  'parked-undecodable',
  'unknown',
];

const seq = z.string().regex(/^\d+$/, 'must be a decimal sequence number');
const batchInfoSchema = z.object({
  shardId: z.string().min(1),
  startSequenceNumber: seq,
  endSequenceNumber: seq,
  batchSize: z.number().int().min(0),
  streamArn: z.string().min(1),
  approximateArrivalOfFirstRecord: z.string().optional(),
  approximateArrivalOfLastRecord: z.string().optional(),
});
const onFailureSchema = z.object({
  requestContext: z.object({ condition: z.string() }).partial().optional(),
  DDBStreamBatchInfo: batchInfoSchema,
});
// Keys are wire records (binary, big numbers); older bodies' plain string/number keys read as is.
// A parked key may be empty: the item of an undecodable body or an old search repair is unknown.
const keyRecord = z.unknown().transform((wire, ctx): Key => {
  try {
    return decodeWireKey(wire, 'key', { allowEmpty: true });
  } catch (e) {
    if (!(e instanceof WireDecodeError)) throw e;
    ctx.addIssue({ code: 'custom', message: e.message });
    return z.NEVER;
  }
});
const parkedSchema = z.object({
  version: z.literal('streamfill.parked/1'),
  source: z.string(),
  reason: z.string(),
  // Bodies parked before kinds existed are malformed items.
  kind: z.enum(PARKED_KINDS).default('malformed'),
  table: z.string().min(1),
  key: keyRecord,
  keys: z.array(keyRecord).optional(),
  docId: z.string().min(1).optional(),
  parkedAt: z.string().optional(),
  record: z.unknown().optional(),
});

/** Classifies one dead-letter body; never throws (an unreadable body is `unknown`, with why). */
export function classifyDlqBody(body: string): DlqMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch (e) {
    return { kind: 'unknown', problem: `body is not JSON (${(e as Error).message})` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { kind: 'unknown', problem: 'body is not a JSON object' };
  }
  const r = raw as Record<string, unknown>;
  if ('DDBStreamBatchInfo' in r) {
    const p = onFailureSchema.safeParse(r);
    if (!p.success) {
      return {
        kind: 'unknown',
        problem: `stream on-failure record without a readable DDBStreamBatchInfo: ${p.error.issues[0]?.message ?? ''}`,
      };
    }
    return {
      kind: 'stream-failure',
      info: p.data.DDBStreamBatchInfo,
      condition: p.data.requestContext?.condition ?? 'unknown',
    };
  }
  if (r.version === 'streamfill.parked/1') {
    const p = parkedSchema.safeParse(r);
    if (!p.success) {
      return {
        kind: 'unknown',
        problem: `parked record: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      };
    }
    const { version: _v, record, ...parked } = p.data;
    let repair: SearchRepairMessage | undefined;
    if (parked.kind === 'search-repair' && record !== undefined) {
      try {
        const m = decodeWorkMessage(JSON.stringify(record));
        if (m.kind === 'search-repair') repair = m;
      } catch (e) {
        if (!isWorkMessageDecodeError(e)) throw e;
      }
    }
    return { kind: 'parked', parked: { ...parked, ...(repair && { repair }) } };
  }
  try {
    return { kind: 'work', message: decodeWorkMessage(body) };
  } catch (e) {
    if (!isWorkMessageDecodeError(e)) throw e;
    return { kind: 'unknown', problem: e.message };
  }
}

export function breakdownKind(m: DlqMessage): DlqBreakdownKind {
  if (m.kind === 'work') return m.message.kind;
  if (m.kind !== 'parked') return m.kind;
  return m.parked.kind === 'malformed' ? 'parked' : `parked-${m.parked.kind}`;
}

export function emptyBreakdown(): Record<DlqBreakdownKind, number> {
  return Object.fromEntries(DLQ_BREAKDOWN_KINDS.map((k) => [k, 0])) as Record<
    DlqBreakdownKind,
    number
  >;
}

/** The table name in a stream ARN (`arn:aws:dynamodb:…:table/NAME/stream/LABEL`). */
export function tableNameOfStreamArn(streamArn: string): string | undefined {
  return /:table\/([^/]+)\/stream\//.exec(streamArn)?.[1];
}

/**
 * The declared table, among `migrated` (the planner's migrated tables), whose physical name is
 * `tableName`; undefined for any other table (a lookup table's items are never redriven).
 */
export function migratedTableOf(
  tables: TableNames,
  migrated: readonly string[],
  tableName: string,
): string | undefined {
  return migrated.find((t) => tables[t] === tableName);
}

/** Keys in first-seen order without repeats (a range holds every change of a hot item). */
export function uniqueKeys(table: string, keys: readonly Key[]): Key[] {
  const byId = new Map<string, Key>();
  for (const k of keys) if (!byId.has(keyId(table, k))) byId.set(keyId(table, k), k);
  return [...byId.values()];
}

/** `a < b`, `=`, `>` for DynamoDB Streams sequence numbers (decimal strings of any length). */
export function compareSequence(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
