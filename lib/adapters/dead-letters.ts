// Parking: items that can never be migrated as they stand go to the dead-letter queue at once,
// with their reason, instead of holding up their shard or queue. Messages are sized to SQS's
// limits (≤ 256 KiB each and per SendMessageBatch); a record too big is truncated with a note,
// its reason and key always kept.
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { randomUUID } from 'node:crypto';
import { dlqKeepImages, type ServiceName } from '../config/defaults.ts';
import type { ParkedKind } from '../core/dlq-message.ts';
import { sqsJson, toWireRecord, toWireValue, WireEncodeError } from '../core/wire-values.ts';
import {
  DEFAULT_MESSAGE_BUDGET_BYTES,
  batchForSend,
  encodeWorkMessage,
  utf8ByteLength,
  type WorkMessage,
} from '../core/work-message.ts';

/**
 * A record parked by streamfill itself: an item that can never be migrated as it stands
 * (malformed), so retrying would only hold up its shard; a search repair that gave up; a work
 * message that does not decode. It carries the reason, the table and the key(s), so an operator
 * can fix the item and redrive (which re-reads the item). The item image (`record`) is kept
 * only when asked (ENV.dlqKeepImages): parked messages stay 14 days, and items hold chat
 * contents. A search repair keeps its own message (derived keywords, no item attribute).
 */
export interface ParkedRecord {
  version: 'streamfill.parked/1';
  /** The entry point that parked it. */
  source: ServiceName;
  reason: string;
  /** What was parked (status, verify and redrive class it by this). @default 'malformed' */
  kind?: ParkedKind;
  /** The real table name (for a search repair: the table its document mirrors). */
  table: string;
  /** In the body: a wire record (lib/core/wire-values.ts), so binary and big-number keys survive. */
  key: Record<string, unknown>;
  /** Every item key an undecodable message named (wire records in a body). */
  keys?: Record<string, unknown>[];
  /** A search repair's document id. */
  docId?: string;
  parkedAt: string;
  /**
   * The record, or (when it would not fit one SQS message) a truncated copy with a note.
   * Absent unless images are kept (`imageOmitted` says so).
   */
  record?: unknown;
  /** The record was not kept (STREAMFILL_DLQ_KEEP_IMAGES is not set). */
  imageOmitted?: true;
}

/** What replaces a record too big for one SQS message. */
export interface TruncatedRecord {
  truncated: true;
  note: string;
  /** The record's JSON, cut to fit. */
  head: string;
}

export type ParkEntry = Omit<ParkedRecord, 'version' | 'parkedAt' | 'imageOmitted'> & {
  record: unknown;
};

/**
 * Sends parked records to a dead-letter queue.
 *
 * @example
 * await new DeadLetters(sqs, dlqUrl).park([{ source: 'stream-consumer', reason, table, key, record }]);
 */
export class DeadLetters {
  /** Whether parked messages keep the item image. @default ENV.dlqKeepImages (false) */
  readonly keepImages: boolean;

  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
    options: { keepImages?: boolean } = {},
  ) {
    this.keepImages = options.keepImages ?? dlqKeepImages();
  }

  /** Sends every entry or throws (then the caller fails the records, and nothing is lost). */
  async park(entries: readonly ParkEntry[]): Promise<void> {
    const parkedAt = new Date().toISOString();
    const bodies = entries.map(({ record, ...e }) =>
      parkedBody({
        version: 'streamfill.parked/1',
        parkedAt,
        ...e,
        ...(this.keepImages || e.kind === 'search-repair'
          ? { record }
          : { imageOmitted: true as const }),
      }),
    );
    for (const chunk of batchForSend(bodies)) {
      const res = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((b) => ({ Id: randomUUID(), MessageBody: b.body })),
        }),
      );
      if (res.Failed?.length) {
        throw new Error(
          `parking in ${this.queueUrl} failed: ${res.Failed.map((f) => f.Message).join('; ')}`,
        );
      }
    }
  }
}

// A parked record is never refused for how its key is spelled: a key value no wire value
// holds (never produced by the engine) is left out rather than failing the park.
function wireKey(key: Record<string, unknown>): Record<string, unknown> {
  try {
    return toWireRecord(key, 'key');
  } catch (e) {
    if (!(e instanceof WireEncodeError)) throw e;
    return Object.fromEntries(
      Object.entries(key).flatMap(([k, v]) => {
        try {
          return Object.entries(toWireRecord({ [k]: v }));
        } catch {
          return [];
        }
      }),
    );
  }
}

function isWorkMessage(v: unknown): v is WorkMessage {
  const m = v as { v?: unknown; kind?: unknown } | null;
  return typeof m === 'object' && m !== null && m.v === 1 && typeof m.kind === 'string';
}

// A work message (a given-up search repair) as its own body's JSON, which redrive decodes;
// an item image with its sets, binary and big numbers as wire values when it has only
// DynamoDB values; anything else (a stream record of other shapes) as plain JSON.
function wireRecord(record: unknown): unknown {
  try {
    if (isWorkMessage(record)) return JSON.parse(encodeWorkMessage(record)) as unknown;
    return toWireValue(record, 'record');
  } catch {
    return record;
  }
}

/**
 * The message body of a parked record, within `budget` bytes: keys and record as wire values
 * (dlq-message.ts reads them back); when the whole record does not fit, it is replaced by a
 * truncated copy with a note (reason, key and table are never cut).
 */
export function parkedBody(
  entry: ParkedRecord,
  budget = DEFAULT_MESSAGE_BUDGET_BYTES,
): { body: string; bytes: number } {
  const parked: ParkedRecord = {
    ...entry,
    key: wireKey(entry.key),
    ...(entry.keys && { keys: entry.keys.map(wireKey) }),
    ...('record' in entry && { record: wireRecord(entry.record) }),
  };
  // sqsJson: a body SQS accepts whatever characters the item holds.
  const body = sqsJson(parked);
  const bytes = utf8ByteLength(body);
  if (bytes <= budget) return { body, bytes };
  const json = sqsJson(parked.record ?? null);
  const without = utf8ByteLength(sqsJson({ ...parked, record: null }));
  const note = `record of ${utf8ByteLength(json)} bytes truncated to fit one SQS message`;
  // JSON escaping can grow a character up to 6×: cut by characters until it fits.
  let keep = Math.max(0, budget - without - note.length - 200);
  for (;;) {
    const record: TruncatedRecord = { truncated: true, note, head: json.slice(0, keep) };
    const cut = sqsJson({ ...parked, record });
    const cutBytes = utf8ByteLength(cut);
    if (cutBytes <= budget || keep === 0) return { body: cut, bytes: cutBytes };
    keep = Math.floor(keep * 0.9);
  }
}
