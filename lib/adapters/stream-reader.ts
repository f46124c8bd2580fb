// Re-reads one shard range of a DynamoDB stream (the range of a stream on-failure record) and
// returns the keys it holds, or says why the range can no longer be read (trimmed, shard gone).
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type DynamoDBStreamsClient,
} from '@aws-sdk/client-dynamodb-streams';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { compareSequence } from '../core/dlq-message.ts';
import type { Key } from '../core/types.ts';

export interface ShardRange {
  streamArn: string;
  shardId: string;
  startSequenceNumber: string;
  endSequenceNumber: string;
}

export type ShardRangeRead =
  /** Keys of the records in [start, end], in stream order (repeats kept). */
  | { status: 'read'; keys: Key[]; records: number }
  /** The range is gone from the stream: past its 24 h retention, or its shard/stream is. */
  | { status: 'unavailable'; reason: string; keys: Key[]; records: number };

/** Errors that mean the range cannot be read any more (anything else is thrown as is). */
const GONE = new Set([
  'TrimmedDataAccessException',
  'ResourceNotFoundException',
  'ExpiredIteratorException',
  'ValidationException',
]);

/**
 * GetShardIterator AT_SEQUENCE_NUMBER start, then GetRecords until a record past `end` (or the
 * shard's end). An open shard at its tip answers empty pages: after `maxEmptyPolls` of them
 * without reaching `end`, the range is reported unavailable with the keys read so far.
 */
export async function readShardRange(
  streams: DynamoDBStreamsClient,
  range: ShardRange,
  options: { maxEmptyPolls?: number; pollDelayMs?: number } = {},
): Promise<ShardRangeRead> {
  const keys: Key[] = [];
  let records = 0;
  const gone = (e: unknown): ShardRangeRead => {
    const err = e as Error;
    if (!GONE.has(err.name)) throw e;
    return { status: 'unavailable', reason: `${err.name}: ${err.message}`, keys, records };
  };
  let iterator: string | undefined;
  try {
    const it = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: range.streamArn,
        ShardId: range.shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        SequenceNumber: range.startSequenceNumber,
      }),
    );
    iterator = it.ShardIterator;
  } catch (e) {
    return gone(e);
  }
  let empty = 0;
  while (iterator) {
    let page;
    try {
      page = await streams.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 1000 }));
    } catch (e) {
      return gone(e);
    }
    for (const r of page.Records ?? []) {
      const seq = r.dynamodb?.SequenceNumber;
      if (!seq || compareSequence(seq, range.startSequenceNumber) < 0) continue;
      if (compareSequence(seq, range.endSequenceNumber) > 0)
        return { status: 'read', keys, records };
      records++;
      if (r.dynamodb?.Keys) {
        keys.push(unmarshall(r.dynamodb.Keys as Record<string, AttributeValue>) as Key);
      }
      if (compareSequence(seq, range.endSequenceNumber) === 0) {
        return { status: 'read', keys, records };
      }
    }
    iterator = page.NextShardIterator;
    if (page.Records?.length) empty = 0;
    else if (++empty >= (options.maxEmptyPolls ?? 10)) break;
    else await new Promise((r) => setTimeout(r, options.pollDelayMs ?? 100));
  }
  return {
    status: 'unavailable',
    reason: `${iterator ? `no more records after ${options.maxEmptyPolls ?? 10} empty reads` : 'the shard ended'} before sequence number ${range.endSequenceNumber} (${records} record(s) of the range read)`,
    keys,
    records,
  };
}
