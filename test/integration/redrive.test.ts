// `redrive` on the real local services: every kind of DLQ body (real stream on-failure records
// made by the local stream mapping with a handler that always fails) goes where it should.
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import {
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { queueStats } from '../../lib/adapters/work-queue.ts';
import { peekQueue } from '../../lib/adapters/dlq-reader.ts';
import { classifyDlqBody } from '../../lib/core/dlq-message.ts';
import {
  decodeWorkMessage,
  encodeWorkMessage,
  packItems,
  type ItemsMessage,
} from '../../lib/core/work-message.ts';
import { redrive } from '../../lib/engine/redrive.ts';
import { repairMessagesFor } from '../../lib/engine/search-repair.ts';
import { DynamoDBStreamMapping } from '../../local/event-source/dynamodb-stream-mapping.ts';
import type { StreamOnFailureMessage } from '../../local/event-source/stream-event.ts';
import { ensurePikaTables, putItems, type PikaTableNames } from '../../local/pika-tables.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { PIKA } from '../support/pika.ts';

useLocalServices('redrive');

let clients: Clients;
let tables: PikaTableNames;
let queues: { work: string; dlq: string };
let streamArn: string;
const sessions = Array.from({ length: 6 }, (_, i) => ({
  user_id: `u${i % 2}`,
  session_id: `s${i}`,
  chat_app_id: 'app1',
  last_update: `2024-01-0${i + 1}T00:00:00Z`,
  title: `session ${i}`,
}));

async function drain(queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let empty = 0; empty < 2;) {
    const res = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
      }),
    );
    if (!res.Messages?.length) {
      empty++;
      continue;
    }
    for (const m of res.Messages) {
      bodies.push(m.Body ?? '');
      await clients.sqs.send(
        new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }),
      );
    }
  }
  return bodies;
}

const send = (queueUrl: string, body: string) =>
  clients.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));

const depth = async (queueUrl: string) => (await queueStats(clients.sqs, queueUrl)).backlog;

/** Real on-failure bodies: the stream mapping with a handler that always fails, no retries. */
async function streamFailureBodies(): Promise<StreamOnFailureMessage[]> {
  const { dlq: onFailure } = await ensureQueues(clients.sqs, {
    queueName: uniqueName('redrive-onf-work'),
    dlqName: uniqueName('redrive-onf'),
  });
  const m = new DynamoDBStreamMapping({
    streams: clients.streams,
    dynamodb: clients.dynamodb,
    tableName: tables.session,
    handler: async () => {
      throw new Error('handler always fails');
    },
    maximumRetryAttempts: 0,
    bisectBatchOnFunctionError: false,
    onFailure: { queueUrl: onFailure, sqs: clients.sqs },
    retryBackoffMs: 10,
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
  });
  try {
    await m.start();
    await m.waitForIdle(60_000);
  } finally {
    await m.stop();
  }
  return (await drain(onFailure)).map((b) => JSON.parse(b) as StreamOnFailureMessage);
}

beforeAll(async () => {
  clients = makeClients();
  const p = uniqueName('rd');
  tables = { session: `${p}-s`, user: `${p}-u`, tag: `${p}-t` };
  await ensurePikaTables(clients.dynamodb, tables);
  queues = await ensureQueues(clients.sqs, {
    queueName: `${p}-work`,
    dlqName: `${p}-dlq`,
  });
  await putItems(clients.doc, tables.session, sessions);
  const bodies = await streamFailureBodies();
  expect(bodies.length).toBeGreaterThan(0);
  streamArn = bodies[0]!.DDBStreamBatchInfo.streamArn;
  // As on AWS, the record carries the range only, never the records.
  for (const b of bodies) {
    expect(Object.keys(b).sort()).toEqual([
      'DDBStreamBatchInfo',
      'requestContext',
      'responseContext',
      'timestamp',
      'version',
    ]);
    await send(queues.dlq, JSON.stringify(b));
  }
});

afterAll(() => destroyClients(clients));

describe('redrive', () => {
  let before: number;
  const itemsMsg: ItemsMessage = {
    v: 1,
    kind: 'items',
    table: 'session',
    runId: 'r1',
    items: [{ key: { user_id: 'u0', session_id: 's0' }, inputs: { chat_app_id: 'app1' } }],
  };
  const [repair] = repairMessagesFor('session', [
    {
      change: { id: 's1', doc: { source_keyword: 'user' } },
      key: { user_id: 'u0', session_id: 's1' },
      reason: 'search down',
    },
  ]);
  const repairBody = encodeWorkMessage(repair!);

  it('puts every kind in the DLQ', async () => {
    await send(queues.dlq, packItems('session', itemsMsg.items, { runId: 'r1' })[0]!.body);
    await send(queues.dlq, repairBody);
    await new DeadLetters(clients.sqs, queues.dlq).park([
      {
        source: 'stream-consumer',
        reason: 'chat_app_id is a number',
        table: tables.session,
        key: { user_id: 'u1', session_id: 's3' },
        record: {},
      },
    ]);
    // A range that cannot be read: a shard this stream never had (as after the 24 h trim). Its
    // body is all AWS gives: the range, not the records.
    const gone: StreamOnFailureMessage = {
      requestContext: {
        requestId: 'r',
        functionArn: 'arn:aws:lambda:us-east-1:000000000000:function:f',
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: 1,
      },
      responseContext: { statusCode: 200, executedVersion: '$LATEST' },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId: 'shardId-00000001700000000000-deadbeef',
        startSequenceNumber: '100',
        endSequenceNumber: '200',
        batchSize: 1,
        streamArn,
      },
    };
    await send(queues.dlq, JSON.stringify(gone));
    await send(queues.dlq, 'not json at all');
    const peeked = await peekQueue(clients.sqs, queues.dlq);
    const kinds = peeked.map((e) => classifyDlqBody(e.body).kind).sort();
    expect(kinds.filter((k) => k === 'work')).toHaveLength(2);
    expect(kinds.filter((k) => k === 'parked')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'unknown')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'stream-failure').length).toBeGreaterThanOrEqual(2);
    before = await depth(queues.dlq);
    expect(before).toBe(peeked.length);
  });

  it('--dry-run says what it would do and moves nothing', async () => {
    const r = await redrive(
      { ...clients, planner: PIKA, tables, workQueueUrl: queues.work, dlqUrl: queues.dlq },
      {
        dryRun: true,
      },
    );
    expect(r.examined).toBe(before);
    expect(r.byKind.items).toEqual({ found: 1, moved: 1, kept: 0 });
    expect(r.byKind['search-repair']).toEqual({ found: 1, moved: 1, kept: 0 });
    expect(r.byKind.parked).toEqual({ found: 1, moved: 0, kept: 1 });
    expect(r.entries.every((e) => e.action !== 'moved')).toBe(true);
    expect(await depth(queues.dlq)).toBe(before);
    expect(await depth(queues.work)).toBe(0);
  });

  it('moves worker messages and on-failure ranges; keeps parked, unreadable and unknown', async () => {
    // Deleted since it failed: reported missing, not enqueued.
    await clients.dynamodb.send(
      new DeleteItemCommand({
        TableName: tables.session,
        Key: { user_id: { S: 'u1' }, session_id: { S: 's5' } },
      }),
    );
    const r = await redrive({
      ...clients,
      planner: PIKA,
      tables,
      workQueueUrl: queues.work,
      dlqUrl: queues.dlq,
    });
    expect(r.byKind.items).toEqual({ found: 1, moved: 1, kept: 0 });
    expect(r.byKind['search-repair']).toEqual({ found: 1, moved: 1, kept: 0 });
    expect(r.byKind.parked).toEqual({ found: 1, moved: 0, kept: 1 });
    expect(r.byKind.unknown).toEqual({ found: 1, moved: 0, kept: 1 });
    const sf = r.byKind['stream-failure'];
    expect(sf.kept).toBe(1);
    expect(sf.moved).toBe(sf.found - 1);
    // Gone from the stream: its keys are unknown, and redrive says so instead of pretending.
    const unreadable = r.entries.find((e) => e.recoveredKeys);
    expect(unreadable?.recoveredKeys).toEqual([]);
    expect(unreadable?.action).toBe('kept');
    expect(unreadable?.detail).toContain('streamfill backfill --table session');
    expect(r.advice.join('\n')).toContain('streamfill backfill --table session');
    expect(r.advice.join('\n')).not.toContain('--keys FILE');
    expect(r.advice.join('\n')).toContain('--include-malformed');
    expect(r.missingItems).toBe(1);
    expect(r.itemsEnqueued).toBe(5);

    const work = (await drain(queues.work)).map(decodeWorkMessage);
    expect(work.filter((m) => m.kind === 'search-repair')).toHaveLength(1);
    // Re-enqueued items messages carry no runId; the original one carries r1.
    const redriven = work.flatMap((m) => (m.kind === 'items' && !m.runId ? m.items : []));
    const keys = redriven.map((i) => `${i.key.user_id}/${i.key.session_id}`).sort();
    expect(keys).toEqual(['u0/s0', 'u0/s2', 'u0/s4', 'u1/s1', 'u1/s3']);
    // The inputs the worker conditions on, read from the current items.
    const s2 = redriven.find((i) => i.key.session_id === 's2');
    expect(s2?.inputs).toMatchObject({
      chat_app_id: 'app1',
      last_update: '2024-01-03T00:00:00Z',
      user_id: 'u0',
      session_id: 's2',
    });
    // The original items message came back unchanged.
    expect(work).toContainEqual(itemsMsg);
    expect(await depth(queues.dlq)).toBe(3);
  });

  it('moves a parked item only with --include-malformed, re-read by key', async () => {
    await clients.doc.send(
      new PutCommand({ TableName: tables.session, Item: { ...sessions[3], title: 'fixed' } }),
    );
    const r = await redrive(
      { ...clients, planner: PIKA, tables, workQueueUrl: queues.work, dlqUrl: queues.dlq },
      { includeMalformed: true },
    );
    expect(r.byKind.parked).toEqual({ found: 1, moved: 1, kept: 0 });
    const work = (await drain(queues.work)).map(decodeWorkMessage);
    expect(work).toHaveLength(1);
    expect(work[0]).toMatchObject({
      kind: 'items',
      items: [{ key: { user_id: 'u1', session_id: 's3' } }],
    });
    expect(await depth(queues.dlq)).toBe(2);
  });
});
