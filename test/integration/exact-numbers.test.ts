// Issue 14 item 6 on the real local services: an app number a JS number cannot hold
// (9007199254740993.5) is carried exactly — through the stream images (as an attribute no
// migration reads), and through the scan, the work message and the conditional write (as an
// input the write is conditioned on).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillWorker } from '../../handlers/backfill-worker.ts';
import { createStreamConsumer } from '../../handlers/stream-consumer.ts';
import { FileStateStore } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { ensureQueues, type QueueUrls } from '../../lib/adapters/queues.ts';
import { queueStats } from '../../lib/adapters/work-queue.ts';
import { withContract } from '../support/pika.ts';
import { runBackfill } from '../../lib/engine/backfill.ts';
import { bundledPlanner } from '../../lib/engine/bundled-config.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import type { ItemResult } from '../../lib/engine/migrate-items.ts';
import type { WorkBatchSummary } from '../../lib/engine/work-batch.ts';
import { MemoryCheckpointStore } from '../../local/event-source/checkpoint.ts';
import { DynamoDBStreamMapping } from '../../local/event-source/dynamodb-stream-mapping.ts';
import { createLambdaContext } from '../../local/event-source/lambda-context.ts';
import { ensurePikaTables, putItems, type PikaTableNames } from '../../local/pika-tables.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { sqsEvent, takeAllMessages } from '../support/work-queue.ts';

useLocalServices('exactnumbers');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const BIG = '9007199254740993.5'; // above 2^53, and a fraction: no double holds it
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

let clients: Clients;
let tables: PikaTableNames;
let queues: QueueUrls;
beforeAll(async () => {
  clients = makeClients({ searchEndpoint: undefined });
  const p = uniqueName('exact');
  tables = { session: `${p}-s`, user: `${p}-u`, tag: `${p}-t` };
  await ensurePikaTables(clients.dynamodb, tables);
  await putItems(clients.doc, tables.user, [{ user_id: 'u1', user_type: 'internal-user' }]);
  queues = await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
});
afterAll(() => destroyClients(clients));

const deps = () => ({
  ...engineDeps(clients, { tables, searchIndex: 'unused' }),
  search: undefined,
});

describe('item 6: numbers are carried exactly', () => {
  it('item 6: a non-input number past 2^53 in a stream image: the change is migrated, not parked; the number is untouched', async () => {
    await clients.dynamodb.send(
      new PutItemCommand({
        TableName: tables.session,
        Item: {
          user_id: { S: 'u1' },
          session_id: { S: 's-big' },
          chat_app_id: { S: 'app1' },
          last_update: { S: '2025-03-01T10:00:00.000Z' },
          token_count: { N: BIG },
        },
      }),
    );
    const results: ItemResult[] = [];
    const consumer = createStreamConsumer({
      deps: deps(),
      deadLetters: new DeadLetters(clients.sqs, queues.dlq),
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'test' }),
      onResults: (r) => results.push(...r.values()),
    });
    const stream = new DynamoDBStreamMapping({
      tableName: tables.session,
      handler: consumer,
      streams: clients.streams,
      dynamodb: clients.dynamodb,
      maximumRetryAttempts: 0,
      retryBackoffMs: 10,
      startingPosition: 'TRIM_HORIZON',
      onFailure: { queueUrl: queues.dlq, sqs: clients.sqs },
      checkpoint: new MemoryCheckpointStore(),
      logger: quiet,
    });
    await stream.start();
    try {
      await stream.waitForIdle(60_000);
    } finally {
      await stream.stop();
    }
    expect(results[0]).toMatchObject({ outcome: 'migrated' });
    expect((await queueStats(clients.sqs, queues.dlq)).backlog).toBe(0);
    const item = (
      await clients.dynamodb.send(
        new GetItemCommand({
          TableName: tables.session,
          Key: { user_id: { S: 'u1' }, session_id: { S: 's-big' } },
          ConsistentRead: true,
        }),
      )
    ).Item!;
    expect(item.token_count).toEqual({ N: BIG });
    expect(item.chat_app_sk).toEqual({ S: 'app1#user#2025-03-01T10:00:00.000Z' });
  });

  it('item 6: an input number past 2^53 goes through the scan, the work message and the conditional write exactly', async () => {
    // Expanded tags whose chat_app_id is a number: the contract removes it, conditioned on it.
    for (const [tag, n] of [
      ['big', BIG],
      ['small', '42'],
    ] as const) {
      await clients.dynamodb.send(
        new PutItemCommand({
          TableName: tables.tag,
          Item: {
            scope: { S: 'chat-app' },
            tag: { S: tag },
            usage_mode: { S: 'chat-app' },
            chat_app_id: { N: n },
          },
        }),
      );
    }
    const state = new FileStateStore(join(mkdtempSync(join(tmpdir(), 'sf-exact-')), 's.json'));
    const scan = await runBackfill(
      {
        table: 'tag',
        tableName: tables.tag,
        searchEnabled: false,
        segments: 1,
        migrations: withContract(true),
      },
      {
        planner: bundledPlanner(),
        doc: clients.doc,
        dynamodb: clients.dynamodb,
        sqs: clients.sqs,
        queueUrl: queues.work,
        state,
      },
    );
    expect(scan.enqueued).toBe(2);
    const bodies = await takeAllMessages(clients.sqs, queues.work);
    expect(bodies.join()).toContain(BIG); // its text, not 9007199254740994
    let summary: WorkBatchSummary | undefined;
    const worker = createBackfillWorker({
      deps: deps(),
      deadLetters: new DeadLetters(clients.sqs, queues.dlq),
      logger: new Logger({ logLevel: 'SILENT' }),
      onResults: (s) => {
        summary = s;
      },
    });
    const res = await worker(sqsEvent(bodies), createLambdaContext({ functionName: 'w' }));
    expect(res.batchItemFailures).toEqual([]);
    // A rounded value would fail `chat_app_id = :read` and show as a conflict.
    expect(summary?.items.map((r) => r.outcome)).toEqual(['migrated', 'migrated']);
    for (const tag of ['big', 'small']) {
      const item = (
        await clients.dynamodb.send(
          new GetItemCommand({
            TableName: tables.tag,
            Key: { scope: { S: 'chat-app' }, tag: { S: tag } },
            ConsistentRead: true,
          }),
        )
      ).Item!;
      expect(item.chat_app_id).toBeUndefined();
    }
  });
});
