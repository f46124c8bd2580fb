// Items of a declared table carried through real work messages keep their DynamoDB types:
// a number sort key past 2^53, a binary key, 38-digit numbers, S/N/B sets, binary and nested
// maps are scanned from DynamoDB Local, packed, sent through ElasticMQ, received and decoded
// back to exactly what was read; a binary scan position resumes the scan where it stopped.
import {
  CreateTableCommand,
  DeleteTableCommand,
  PutItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, DeleteQueueCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { scanSegmentPage } from '../../lib/adapters/segment-scanner.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { sendMessages } from '../../lib/adapters/work-queue.ts';
import { classifyDlqBody } from '../../lib/core/dlq-message.ts';
import { defineTable } from '../../lib/core/config/define.ts';
import { ExactNumber } from '../../lib/core/exact-number.ts';
import { keyId } from '../../lib/core/keys.ts';
import type { Item } from '../../lib/core/types.ts';
import {
  decodeWorkMessage,
  packItems,
  packMessage,
  workItemOf,
  type WorkItem,
} from '../../lib/core/work-message.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { takeAllMessages } from '../support/work-queue.ts';

useLocalServices('workmessagetypes');

const BIG_KEY = '123456789012345678901'; // a sort key no double holds
const DIGITS_38 = '12345678901234567890123456789012345678';
const TINY = '0.00000000000000000000000000000000000123';

const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'] });
const blobs = defineTable({ name: 'blobs', key: ['hash'] });
const INPUTS = ['total', 'tags', 'scores', 'chunks', 'payload', 'doc', 'flag', 'none'];

let clients: Clients;
const cleanups: (() => Promise<unknown>)[] = [];
let ordersTable: string;
let blobsTable: string;
let queueUrl: string;

const bin = (...bytes: number[]): AttributeValue => ({ B: new Uint8Array(bytes) });
const orderItems: Record<string, AttributeValue>[] = [
  {
    tenant_id: { S: 't1' },
    order_no: { N: BIG_KEY },
    total: { N: DIGITS_38 },
    tags: { SS: ['a', 'b', '$streamfill.set'] },
    scores: { NS: ['1', '2.5', DIGITS_38, TINY, '-9007199254740993'] },
    chunks: { BS: [new Uint8Array([0]), new Uint8Array([255, 1])] },
    payload: bin(0, 1, 2, 254, 255),
    doc: {
      M: {
        '$streamfill.number': { S: 'a user map shaped like a tag' },
        // characters SQS refuses raw in a body
        text: { S: 'odd \uFFFE\uFFFF text' },
        nested: {
          L: [
            { N: TINY },
            { M: { '\uFFFEodd': { BOOL: true }, b: bin(9) } },
            { NULL: true },
            { SS: ['x'] },
          ],
        },
      },
    },
    flag: { BOOL: false },
    other: { S: 'not projected as an input' },
  },
  { tenant_id: { S: 't1' }, order_no: { N: '7' }, total: { N: '3' } },
  { tenant_id: { S: 't2' }, order_no: { N: '-0.5' }, payload: bin() },
];

beforeAll(async () => {
  clients = makeClients({ searchEndpoint: undefined });
  const p = uniqueName('wm-types');
  ordersTable = `${p}-orders`;
  blobsTable = `${p}-blobs`;
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: ordersTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'tenant_id', AttributeType: 'S' },
        { AttributeName: 'order_no', AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: 'tenant_id', KeyType: 'HASH' },
        { AttributeName: 'order_no', KeyType: 'RANGE' },
      ],
    }),
  );
  cleanups.push(() => clients.dynamodb.send(new DeleteTableCommand({ TableName: ordersTable })));
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: blobsTable,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'hash', AttributeType: 'B' }],
      KeySchema: [{ AttributeName: 'hash', KeyType: 'HASH' }],
    }),
  );
  cleanups.push(() => clients.dynamodb.send(new DeleteTableCommand({ TableName: blobsTable })));
  const q = await clients.sqs.send(new CreateQueueCommand({ QueueName: `${p}-work` }));
  queueUrl = q.QueueUrl!;
  cleanups.push(() => clients.sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })));
  for (const Item of orderItems) {
    await clients.dynamodb.send(new PutItemCommand({ TableName: ordersTable, Item }));
  }
  for (let i = 0; i < 5; i++) {
    await clients.dynamodb.send(
      new PutItemCommand({
        TableName: blobsTable,
        Item: { hash: bin(i, 0, 255 - i), size: { N: String(10n ** 30n + BigInt(i)) } },
      }),
    );
  }
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  destroyClients(clients);
});

/** Every item of a table as the scanner reads it (one segment, small pages). */
async function readAll(tableName: string, projection: readonly string[]): Promise<Item[]> {
  const out: Item[] = [];
  let exclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await scanSegmentPage(clients.doc, {
      tableName,
      projection,
      segment: 0,
      totalSegments: 1,
      pageSize: 2,
      consistentRead: true,
      ...(exclusiveStartKey && { exclusiveStartKey }),
    });
    out.push(...page.items);
    exclusiveStartKey = page.lastEvaluatedKey;
  } while (exclusiveStartKey);
  return out;
}

/** Sends `work` of `table` through the real queue; the decoded items that come back. */
async function throughQueue(table: string, work: readonly WorkItem[]): Promise<WorkItem[]> {
  // Several bodies, so that the items are split across messages too.
  const packed = packItems(table, work, { maxItemsPerMessage: 2, runId: 'run-types' });
  expect(packed.length).toBeGreaterThan(1);
  await sendMessages(clients.sqs, queueUrl, packed);
  const out: WorkItem[] = [];
  for (const body of await takeAllMessages(clients.sqs, queueUrl)) {
    const m = decodeWorkMessage(body);
    if (m.kind !== 'items') throw new Error(`unexpected ${m.kind} message`);
    expect(m.table).toBe(table);
    out.push(...m.items);
  }
  return out;
}

const byKey = (table: string) => (a: WorkItem, b: WorkItem) =>
  keyId(table, a.key) < keyId(table, b.key) ? -1 : 1;

describe('work messages carry every DynamoDB type of a declared table', () => {
  it('scanned items of a number-keyed table come back exactly as read', async () => {
    const read = await readAll(ordersTable, [...orders.key, ...INPUTS]);
    expect(read).toHaveLength(orderItems.length);
    // what the reader gives: the exact values DynamoDB holds
    const first = read.find((i) => i.tenant_id === 't1' && typeof i.order_no !== 'number')!;
    expect(first.order_no).toStrictEqual(new ExactNumber(BIG_KEY));
    expect(first.total).toStrictEqual(new ExactNumber(DIGITS_38));
    expect(first.payload).toBeInstanceOf(Uint8Array);
    expect(first.scores).toBeInstanceOf(Set);

    const work = read.map((item) => workItemOf(orders, item, INPUTS));
    expect(Object.keys(work[0]!.key)).toEqual(['tenant_id', 'order_no']);
    const back = await throughQueue('orders', work);
    expect(back.sort(byKey('orders'))).toStrictEqual([...work].sort(byKey('orders')));
    // and each decoded item is the item read (its key plus its inputs)
    for (const w of back) {
      const item = read.find(
        (i) => keyId('orders', w.key) === keyId('orders', workItemOf(orders, i, []).key),
      )!;
      expect({ ...w.key, ...w.inputs }).toStrictEqual(item);
    }
  });

  it('binary keys travel exactly, and a binary scan position resumes the scan', async () => {
    const projection = ['hash', 'size'];
    const read = await readAll(blobsTable, projection);
    expect(read).toHaveLength(5);
    const work = read.map((item) => workItemOf(blobs, item, ['size']));
    const back = await throughQueue('blobs', work);
    expect(back.sort(byKey('blobs'))).toStrictEqual([...work].sort(byKey('blobs')));
    expect(back[0]!.key.hash).toBeInstanceOf(Uint8Array);

    // A scan-segment task carrying the position after the first two items.
    const page = await scanSegmentPage(clients.doc, {
      tableName: blobsTable,
      projection,
      segment: 0,
      totalSegments: 1,
      pageSize: 2,
      consistentRead: true,
    });
    expect(page.lastEvaluatedKey?.hash).toBeInstanceOf(Uint8Array);
    await sendMessages(clients.sqs, queueUrl, [
      packMessage({
        v: 1,
        kind: 'scan-segment',
        table: 'blobs',
        runId: 'run-types',
        segment: 0,
        totalSegments: 1,
        pageSize: 10,
        exclusiveStartKey: workItemOf(blobs, page.lastEvaluatedKey!, []).key,
      }),
    ]);
    const [body] = await takeAllMessages(clients.sqs, queueUrl);
    const task = decodeWorkMessage(body!);
    if (task.kind !== 'scan-segment') throw new Error(task.kind);
    expect(task.exclusiveStartKey).toStrictEqual(page.lastEvaluatedKey);
    const rest = await scanSegmentPage(clients.doc, {
      tableName: blobsTable,
      projection,
      segment: 0,
      totalSegments: 1,
      consistentRead: true,
      exclusiveStartKey: task.exclusiveStartKey!,
    });
    expect([...page.items, ...rest.items]).toStrictEqual(read);
  });

  it('a big-number scan position from a message resumes the scan after that item', async () => {
    const start = { tenant_id: 't1', order_no: new ExactNumber(BIG_KEY) };
    await sendMessages(clients.sqs, queueUrl, [
      packMessage({
        v: 1,
        kind: 'scan-segment',
        table: 'orders',
        runId: 'run-types',
        segment: 0,
        totalSegments: 1,
        pageSize: 10,
        exclusiveStartKey: start,
      }),
    ]);
    const [body] = await takeAllMessages(clients.sqs, queueUrl);
    const task = decodeWorkMessage(body!);
    if (task.kind !== 'scan-segment') throw new Error(task.kind);
    expect(task.exclusiveStartKey).toStrictEqual(start);
    const all = await readAll(ordersTable, [...orders.key]);
    const at = all.findIndex((i) => keyId('orders', i as never) === keyId('orders', start));
    expect(at).toBeGreaterThanOrEqual(0);
    const rest = await scanSegmentPage(clients.doc, {
      tableName: ordersTable,
      projection: [...orders.key],
      segment: 0,
      totalSegments: 1,
      consistentRead: true,
      exclusiveStartKey: task.exclusiveStartKey!,
    });
    expect(rest.items).toStrictEqual(all.slice(at + 1));
  });

  it('a parked binary-keyed item reads back from the real queue with its key', async () => {
    const [item] = await readAll(blobsTable, ['hash', 'size']);
    const { key } = workItemOf(blobs, item!, []);
    await new DeadLetters(clients.sqs, queueUrl, { keepImages: true }).park([
      {
        source: 'backfill-worker',
        reason: 'odd \uFFFF reason',
        table: blobsTable,
        key,
        keys: [key],
        record: item,
      },
    ]);
    const [body] = await takeAllMessages(clients.sqs, queueUrl);
    const m = classifyDlqBody(body!);
    if (m.kind !== 'parked') throw new Error(JSON.stringify(m));
    expect(m.parked).toMatchObject({ table: blobsTable, reason: 'odd \uFFFF reason' });
    expect(m.parked.key).toStrictEqual(key);
    expect(m.parked.keys).toStrictEqual([key]);
  });
});
