// Issue 7 item 10: an OpenSearch outage during the live path. The stream consumer (the deployed
// handler on the local stream mapping) settles every record once its DynamoDB write stood and
// hands the keyword updates to delayed repair tasks on the work queue; a small repair handler on
// the real SQS mapping retries them until OpenSearch is back. Delays are scaled down (2 s).
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStreamConsumer } from '../../handlers/stream-consumer.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { queueStats } from '../../lib/adapters/work-queue.ts';
import { decodeWorkMessage, type SearchRepairMessage } from '../../lib/core/work-message.ts';
import type { Item } from '../../lib/core/types.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import type { ItemResult } from '../../lib/engine/migrate-items.ts';
import { processSearchRepairs } from '../../lib/engine/search-repair.ts';
import { AppSimulator } from '../../local/app-simulator.ts';
import { MemoryCheckpointStore } from '../../local/event-source/checkpoint.ts';
import { DynamoDBStreamMapping } from '../../local/event-source/dynamodb-stream-mapping.ts';
import { SqsMapping } from '../../local/event-source/sqs-mapping.ts';
import { ensurePikaTables, ensureSessionIndex, putItems } from '../../local/pika-tables.ts';
import { legacyUsers } from '../../local/legacy-data.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('searchrepair');

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const USERS = legacyUsers({ users: 20, seed: 5 });
let clients: Clients;
beforeAll(() => {
  clients = makeClients();
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});
afterAll(() => destroyClients(clients));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('item 10: an OpenSearch outage never holds up or dead-letters DynamoDB work', () => {
  it('item 10: search cut for ~25 s: the shard moves on, nothing reaches the DLQ, every document is repaired after', async () => {
    const p = uniqueName('outage');
    const tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
    await ensurePikaTables(clients.dynamodb, tables);
    await putItems(clients.doc, tables.user, USERS);
    const index = uniqueName('outage-idx');
    await ensureSessionIndex(clients.search!, index);
    const queues = await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
    const proxy = TcpProxy.forUrl(process.env.SEARCH_ENDPOINT!);
    await proxy.start();
    const viaProxy = makeClients({ searchEndpoint: proxy.url });
    const deps = engineDeps(viaProxy, { tables, searchIndex: index });
    const delaySeconds = () => 2;
    const results: ItemResult[] = [];
    const consumer = createStreamConsumer({
      deps,
      deadLetters: new DeadLetters(clients.sqs, queues.dlq),
      searchRepairs: { sqs: clients.sqs, workQueueUrl: queues.work, delaySeconds },
      logger: new Logger({ logLevel: 'SILENT' }),
      metrics: new Metrics({ namespace: 'test' }),
      onResults: (r) => results.push(...r.values()),
    });
    const stream = new DynamoDBStreamMapping({
      tableName: tables.session,
      handler: consumer,
      streams: clients.streams,
      dynamodb: clients.dynamodb,
      batchSize: 100,
      maximumBatchingWindowMs: 0,
      maximumRetryAttempts: 3,
      maximumRecordAgeSeconds: -1,
      retryBackoffMs: 100,
      startingPosition: 'TRIM_HORIZON',
      onFailure: { queueUrl: queues.dlq, sqs: clients.sqs },
      checkpoint: new MemoryCheckpointStore(),
      logger: quiet,
    });
    // The repair side, as the backfill worker will run it: failures past the attempts are parked.
    const parked = new DeadLetters(clients.sqs, queues.dlq);
    let repaired = 0;
    const repairHandler = async (event: SQSEvent): Promise<SQSBatchResponse> => {
      const messages = event.Records.map((r) => decodeWorkMessage(r.body) as SearchRepairMessage);
      const out = await processSearchRepairs(messages, {
        search: deps.search!,
        sqs: clients.sqs,
        workQueueUrl: queues.work,
        delaySeconds,
        maxAttempts: 60,
      });
      const failed = out.flatMap((o, i) =>
        o.outcome === 'failed' ? [{ o, m: messages[i]! }] : [],
      );
      repaired += out.filter((o) => o.outcome === 'repaired').length;
      if (failed.length)
        await parked.park(
          failed.map(({ o, m }) => ({
            source: 'backfill-worker',
            reason: o.reason ?? 'failed',
            table: index,
            key: { session_id: m.docId },
            record: m,
          })),
        );
      return { batchItemFailures: [] };
    };
    const worker = new SqsMapping({
      sqs: clients.sqs,
      queueUrl: queues.work,
      handler: repairHandler,
      batchSize: 10,
      logger: quiet,
    });
    const app = new AppSimulator({
      doc: clients.doc,
      sessionTable: tables.session,
      search: { client: clients.search!, index }, // the app's own indexer is not cut
      users: 20,
      seed: 11,
      idPrefix: p,
    });
    await stream.start();
    await worker.start();
    try {
      for (let i = 0; i < 10; i++) await app.insert();
      await stream.waitForIdle(30_000);
      await proxy.cut();
      const cutAt = Date.now();
      const ids = [...app.live.keys()];
      for (let i = 0; i < 10; i++) await app.insert();
      for (let i = 0; i < 10; i++) await app.update(ids[i]!, 'source');
      // The shard is caught up while search is still down: nothing waited on OpenSearch.
      await stream.waitForIdle(30_000);
      expect(stream.stats().failures).toBe(0);
      expect(stream.stats().recordsToOnFailure).toBe(0);
      const queued = results.filter((r) => r.search === 'repair-queued').length;
      expect(queued).toBeGreaterThanOrEqual(20);
      expect((await queueStats(clients.sqs, queues.work)).backlog).toBeGreaterThan(0);
      // Keep it down ~25 s: repairs fail and are rescheduled meanwhile.
      await sleep(Math.max(0, 25_000 - (Date.now() - cutAt)));
      expect(repaired).toBe(0);
      await proxy.start();
      for (let t = 0; t < 120; t++) {
        if ((await queueStats(clients.sqs, queues.work)).backlog === 0) break;
        await sleep(500);
      }
      expect((await queueStats(clients.sqs, queues.work)).backlog).toBe(0);
      expect((await queueStats(clients.sqs, queues.dlq)).backlog).toBe(0);
      expect(repaired).toBeGreaterThanOrEqual(20);
      // Every live session: DynamoDB migrated, and its document carries the current keywords.
      await clients.search!.indices.refresh({ index });
      for (const expected of app.live.values()) {
        const key = { user_id: expected.user_id, session_id: expected.session_id };
        const item = (
          await clients.doc.send(
            new GetCommand({ TableName: tables.session, Key: key, ConsistentRead: true }),
          )
        ).Item as Item;
        const doc = (await clients.search!.get({ index, id: expected.session_id as string })).body
          ._source as Item;
        expect(doc).toMatchObject({
          source_keyword: item.source,
          user_type_keyword: item.user_type,
          invocation_mode_keyword: item.invocation_mode,
        });
      }
    } finally {
      await worker.stop();
      await stream.stop();
      await proxy.cut();
      destroyClients(viaProxy);
    }
  });
});
