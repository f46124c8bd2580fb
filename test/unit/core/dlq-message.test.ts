// Classification of dead-letter bodies and the small pure helpers redrive relies on.
import { describe, expect, it } from 'vitest';
import {
  breakdownKind,
  classifyDlqBody,
  compareSequence,
  migratedTableOf,
  tableNameOfStreamArn,
  uniqueKeys,
} from '../../../lib/core/dlq-message.ts';
import { parkedBody, type ParkedRecord } from '../../../lib/adapters/dead-letters.ts';
import { ExactNumber } from '../../../lib/core/exact-number.ts';
import {
  encodeWorkMessage,
  packItems,
  type SearchRepairMessage,
} from '../../../lib/core/work-message.ts';
import { buildStreamOnFailureMessage } from '../../../local/event-source/stream-event.ts';

const arn =
  'arn:aws:dynamodb:us-east-1:123456789012:table/chat-session-x/stream/2024-01-01T00:00:00.000';

const onFailure = () =>
  buildStreamOnFailureMessage({
    condition: 'RetryAttemptsExhausted',
    requestId: 'r',
    functionArn: 'arn:aws:lambda:us-east-1:1:function:f',
    approximateInvokeCount: 1,
    shardId: 'shardId-1',
    streamArn: arn,
    records: [
      {
        dynamodb: {
          SequenceNumber: '100',
          Keys: { user_id: { S: 'u1' }, session_id: { S: 's1' } },
        },
      },
      {
        dynamodb: {
          SequenceNumber: '205',
          Keys: { user_id: { S: 'u1' }, session_id: { S: 's2' } },
        },
      },
    ],
  });

describe('classifyDlqBody', () => {
  it('reads a work message by its own kind', () => {
    const body = packItems('session', [{ key: { user_id: 'u', session_id: 's' }, inputs: {} }])[0]!
      .body;
    const m = classifyDlqBody(body);
    expect(m.kind).toBe('work');
    expect(breakdownKind(m)).toBe('items');
    const task = encodeWorkMessage({
      v: 1,
      kind: 'scan-segment',
      table: 'session',
      runId: 'r',
      segment: 1,
      totalSegments: 4,
      pageSize: 100,
    });
    expect(breakdownKind(classifyDlqBody(task))).toBe('scan-segment');
  });

  it("reads Lambda's on-failure record: the range only", () => {
    const m = classifyDlqBody(JSON.stringify(onFailure()));
    expect(m).toStrictEqual({
      kind: 'stream-failure',
      condition: 'RetryAttemptsExhausted',
      info: {
        shardId: 'shardId-1',
        startSequenceNumber: '100',
        endSequenceNumber: '205',
        batchSize: 2,
        streamArn: arn,
      },
    });
  });

  it('reads a parked record', () => {
    const body = JSON.stringify({
      version: 'streamfill.parked/1',
      source: 'stream-consumer',
      reason: 'chat_app_id missing',
      table: 't',
      key: { user_id: 'u' },
      parkedAt: 'now',
      record: {},
    });
    expect(classifyDlqBody(body)).toMatchObject({
      kind: 'parked',
      parked: { reason: 'chat_app_id missing', key: { user_id: 'u' } },
    });
  });

  it('calls anything else unknown, saying why, and never throws', () => {
    expect(classifyDlqBody('nope')).toMatchObject({
      kind: 'unknown',
      problem: expect.stringContaining('not JSON'),
    });
    expect(classifyDlqBody('[1]')).toMatchObject({ kind: 'unknown' });
    expect(classifyDlqBody('{"v":1,"kind":"items","table":"session","items":[]}')).toMatchObject({
      kind: 'unknown',
      problem: expect.stringContaining('items: is empty'),
    });
    expect(classifyDlqBody('{"DDBStreamBatchInfo":{"shardId":"x"}}').kind).toBe('unknown');
    expect(classifyDlqBody('{"version":"streamfill.parked/1"}').kind).toBe('unknown');
  });
});

describe('redrive helpers', () => {
  it('finds the table of a stream ARN and its declared table under the configured names', () => {
    expect(tableNameOfStreamArn(arn)).toBe('chat-session-x');
    expect(tableNameOfStreamArn('garbage')).toBeUndefined();
    const tables = { session: 'chat-session-x', user: 'u', tag: 'tg', orders: 'orders-prod' };
    const migrated = ['session', 'tag', 'orders'];
    expect(migratedTableOf(tables, migrated, 'chat-session-x')).toBe('session');
    expect(migratedTableOf(tables, migrated, 'tg')).toBe('tag');
    expect(migratedTableOf(tables, migrated, 'orders-prod')).toBe('orders');
    // A looked-up table drives no migration: its items are never redriven.
    expect(migratedTableOf(tables, migrated, 'u')).toBeUndefined();
    // The declared name is not the physical one.
    expect(migratedTableOf(tables, migrated, 'orders')).toBeUndefined();
  });

  it('drops repeated keys whatever their attribute order, numbers included', () => {
    expect(
      uniqueKeys('orders', [
        { tenant_id: 't', order_no: 7 },
        { order_no: 7, tenant_id: 't' },
        { tenant_id: 't', order_no: 70 },
      ]),
    ).toEqual([
      { tenant_id: 't', order_no: 7 },
      { tenant_id: 't', order_no: 70 },
    ]);
    expect(
      uniqueKeys('session', [
        { user_id: 'u', session_id: 's' },
        { session_id: 's', user_id: 'u' },
        { user_id: 'u', session_id: 't' },
      ]),
    ).toEqual([
      { user_id: 'u', session_id: 's' },
      { user_id: 'u', session_id: 't' },
    ]);
  });

  it('compares sequence numbers numerically, beyond 2^53', () => {
    expect(compareSequence('9', '10')).toBe(-1);
    expect(compareSequence('100000000000000000000000001', '100000000000000000000000000')).toBe(1);
    expect(compareSequence('42', '42')).toBe(0);
  });
});

describe('parked bodies carry keys of any type', () => {
  const parked = (over: Partial<ParkedRecord>): ParkedRecord => ({
    version: 'streamfill.parked/1',
    source: 'backfill-worker',
    reason: 'odd \uFFFF reason',
    table: 'blobs-physical',
    key: {},
    parkedAt: 'now',
    ...over,
  });

  it('binary and big-number keys read back as they were parked', () => {
    const key = { hash: new Uint8Array([0, 255]), n: new ExactNumber('123456789012345678901') };
    const { body } = parkedBody(
      parked({
        kind: 'undecodable',
        key,
        keys: [key, { hash: new Uint8Array([1]), n: 2 }],
        record: { payload: new Set([new Uint8Array([9])]), text: '\uFFFE' },
      }),
    );
    // SQS refuses U+FFFE/U+FFFF raw in a body
    expect(body).not.toMatch(/[\uFFFE\uFFFF]/);
    const m = classifyDlqBody(body);
    if (m.kind !== 'parked') throw new Error(JSON.stringify(m));
    expect(m.parked.key).toStrictEqual(key);
    expect(m.parked.keys).toStrictEqual([key, { hash: new Uint8Array([1]), n: 2 }]);
    expect(m.parked.reason).toBe('odd \uFFFF reason');
  });

  it("a given-up search repair keeps its item's binary key for redrive", () => {
    const repair: SearchRepairMessage = {
      v: 1,
      kind: 'search-repair',
      docId: 'd1',
      table: 'blobs',
      key: { hash: new Uint8Array([7, 7]) },
      keywords: { a: 'b' },
      attempt: 3,
      reason: 'search 503',
    };
    const { body } = parkedBody(
      parked({ kind: 'search-repair', key: repair.key!, docId: 'd1', record: repair }),
    );
    const m = classifyDlqBody(body);
    if (m.kind !== 'parked') throw new Error(JSON.stringify(m));
    expect(m.parked.repair).toStrictEqual(repair);
    expect(m.parked.key).toStrictEqual(repair.key);
  });

  it('an empty key (nobody could name the item) is kept; a broken key makes the body unknown', () => {
    const m = classifyDlqBody(parkedBody(parked({})).body);
    expect(m).toMatchObject({ kind: 'parked', parked: { key: {} } });
    const broken = JSON.stringify({ ...parked({}), key: { hash: { '$streamfill.binary': '*' } } });
    expect(classifyDlqBody(broken)).toMatchObject({
      kind: 'unknown',
      problem: expect.stringMatching(/key: key\.hash: binary must be base64 text/),
    });
  });
});
