// What the stream consumer does with records it cannot use, and what it checks before it starts
// (issue 7 items 5, 9 and the item 10 index typo), on real DynamoDB Local, ElasticMQ and OpenSearch.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { SearchIndex } from '../../lib/adapters/search-index.ts';
import { PIKA_SEARCH_SPEC } from '../support/pika.ts';
import type { Item } from '../../lib/core/types.ts';
import { checkConsumerStart } from '../../lib/engine/consumer-start.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import type { ItemResult } from '../../lib/engine/migrate-items.ts';
import { processStreamBatch } from '../../lib/engine/stream-batch.ts';
import { freshSessionStack, sessionTableDef } from '../support/session-stack.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('streamrecords');

let clients: Clients;
beforeAll(() => {
  clients = makeClients();
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});
afterAll(() => destroyClients(clients));

async function stack(name: string) {
  const { tables, index, prefix: p } = await freshSessionStack(clients, name);
  const deps = engineDeps(clients, { tables, searchIndex: index });
  const queues = await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
  return { tables, index, deps, queues };
}
type Stack = Awaited<ReturnType<typeof stack>>;

const session = (id: string): Item => ({
  user_id: 'u1',
  session_id: id,
  chat_app_id: 'weather',
  last_update: '2025-03-01T10:00:00.000Z',
});

function rec(s: Stack, seq: string, over: Partial<NonNullable<DynamoDBRecord['dynamodb']>>) {
  return {
    eventID: seq,
    eventName: 'INSERT',
    eventSource: 'aws:dynamodb',
    eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${s.tables.session}/stream/x`,
    dynamodb: { SequenceNumber: seq, StreamViewType: 'NEW_AND_OLD_IMAGES', ...over },
  } as DynamoDBRecord;
}
const good = (s: Stack, seq: string, item: Item) =>
  rec(s, seq, {
    Keys: marshall({ user_id: item.user_id, session_id: item.session_id }) as never,
    NewImage: marshall(item) as never,
  });

async function run(s: Stack, records: DynamoDBRecord[]) {
  const results = new Map<string, ItemResult>();
  const response = await processStreamBatch({ Records: records } as DynamoDBStreamEvent, {
    deps: s.deps,
    deadLetters: new DeadLetters(clients.sqs, s.queues.dlq, { keepImages: true }),
    logger: new Logger({ logLevel: 'SILENT' }),
    metrics: new Metrics({ namespace: 'test' }),
    source: 'stream-consumer',
    onResults: (r) => r.forEach((v, k) => results.set(k, v)),
  });
  return { response, results };
}

async function drain(queueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (;;) {
    const res = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    if (!res.Messages?.length) return bodies;
    bodies.push(...res.Messages.map((m) => m.Body!));
  }
}

describe('item 5: the stream must carry new images', () => {
  it('item 5: the consumer refuses to start on a KEYS_ONLY stream, naming the view type', async () => {
    const table = uniqueName('keys-only');
    await clients.dynamodb.send(
      new CreateTableCommand(
        sessionTableDef(table, {
          StreamSpecification: { StreamEnabled: true, StreamViewType: 'KEYS_ONLY' },
        }),
      ),
    );
    await expect(
      checkConsumerStart({ dynamodb: clients.dynamodb, tableName: table }),
    ).rejects.toThrow(/view type KEYS_ONLY.*NEW_AND_OLD_IMAGES/);
    const s = await stack('start-ok');
    await expect(
      checkConsumerStart({
        dynamodb: clients.dynamodb,
        tableName: s.tables.session,
        search: s.deps.search!,
      }),
    ).resolves.toBeUndefined();
  });

  it('item 5: an INSERT record without NewImage fails (never silently acknowledged)', async () => {
    const s = await stack('no-image');
    const item = session('k1');
    await clients.doc.send(new PutCommand({ TableName: s.tables.session, Item: item }));
    const keysOnly = rec(s, '100', {
      Keys: marshall({ user_id: 'u1', session_id: 'k1' }) as never,
      StreamViewType: 'KEYS_ONLY',
    });
    const { response, results } = await run(s, [keysOnly]);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '100' }]);
    expect(results.get('100')).toMatchObject({ outcome: 'failed' });
    expect(results.get('100')?.reason).toMatch(/without NewImage.*KEYS_ONLY/);
  });
});

describe('item 10: a typo in the search index at start', () => {
  it('item 10: the consumer refuses to start against an index that does not exist, and does not create it', async () => {
    const s = await stack('typo-start');
    const typo = uniqueName('no-such-index');
    const search = new SearchIndex(clients.search!, typo, PIKA_SEARCH_SPEC);
    await expect(
      checkConsumerStart({ dynamodb: clients.dynamodb, tableName: s.tables.session, search }),
    ).rejects.toThrow(/does not exist/);
    expect((await clients.search!.indices.exists({ index: typo })).body).toBe(false);
  });
});

describe('item 9: records that cannot be processed are parked alone, within SQS limits', () => {
  it('item 9: a record without Keys and one that cannot be unmarshalled are parked; the rest migrates', async () => {
    const s = await stack('bad-records');
    const a = session('g1');
    const b = session('g2');
    for (const i of [a, b])
      await clients.doc.send(new PutCommand({ TableName: s.tables.session, Item: i }));
    const noKeys = rec(s, '200', { NewImage: marshall(a) as never });
    const garbage = rec(s, '300', {
      Keys: { user_id: { Q: 'nope' } } as never,
      NewImage: marshall(b) as never,
    });
    const { response, results } = await run(s, [
      good(s, '100', a),
      noKeys,
      garbage,
      good(s, '400', b),
    ]);
    expect(response.batchItemFailures).toEqual([]);
    expect(results.get('100')).toMatchObject({ outcome: 'migrated' });
    expect(results.get('400')).toMatchObject({ outcome: 'migrated' });
    expect(results.get('200')).toMatchObject({ outcome: 'malformed' });
    expect(results.get('300')).toMatchObject({ outcome: 'malformed' });
    const parked = (await drain(s.queues.dlq)).map((b) => JSON.parse(b));
    expect(parked.map((p) => p.record.dynamodb.SequenceNumber).sort()).toEqual(['200', '300']);
    expect(parked.find((p) => p.record.dynamodb.SequenceNumber === '200').reason).toMatch(/Keys/);
  });

  it('item 9: ten large malformed records are parked in messages ≤ 256 KiB; one too big is truncated, reason and key kept', async () => {
    const s = await stack('park-size');
    const dl = new DeadLetters(clients.sqs, s.queues.dlq, { keepImages: true });
    const big = (n: number, bytes: number) => ({
      source: 'stream-consumer' as const,
      reason: `malformed ${n}: "chat_app_id" is missing`,
      table: s.tables.session,
      key: { user_id: 'u1', session_id: `big-${n}` },
      record: { blob: 'x'.repeat(bytes) },
    });
    await dl.park([...Array.from({ length: 10 }, (_, n) => big(n, 100_000)), big(10, 400_000)]);
    const bodies = await drain(s.queues.dlq);
    expect(bodies).toHaveLength(11);
    for (const body of bodies) expect(Buffer.byteLength(body)).toBeLessThanOrEqual(262_144);
    const huge = bodies.map((b) => JSON.parse(b)).find((p) => p.key.session_id === 'big-10');
    expect(huge.reason).toBe('malformed 10: "chat_app_id" is missing');
    expect(huge.record).toMatchObject({ truncated: true });
    expect(huge.record.note).toMatch(/truncated/);
  });
});
