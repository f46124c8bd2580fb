// At least once, as on AWS: the same workload run once without redelivery and once with every
// successful delivery made again (stream batches re-invoked before their checkpoint and replayed
// from the previous one, SQS deletes skipped) ends in the same table, the same search documents
// and the same parked items — including a batch [A1, A2] delivered again after [A1, A2].
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { sendMessages } from '../../lib/adapters/work-queue.ts';
import { pikaMigrations } from '../support/pika.ts';
import type { Item } from '../../lib/core/types.ts';
import { packItems } from '../../lib/core/work-message.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import type { RedeliveryOptions } from '../../local/event-source/redelivery.ts';
import { legacySessions, legacyUsers } from '../../local/legacy-data.ts';
import {
  ensurePikaTables,
  ensureSessionIndex,
  indexSessionDocs,
  putItems,
} from '../../local/pika-tables.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { drainParked, scanAll, workItemsOf } from '../support/work-queue.ts';

useLocalServices('redelivery');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const NOW = 1_790_000_000;
const USERS = legacyUsers({ users: 8, seed: 41 });
const SESSIONS = legacySessions({
  sessions: 60,
  users: 8,
  seed: 42,
  migratedFraction: 0.2,
  malformed: 2,
  nowSeconds: NOW,
});
/** The item written twice in a row: A1 then A2 (one batch, thanks to the batching window). */
const A = SESSIONS.find((s) => typeof s.chat_app_id === 'string' && !s.chat_app_sk)!;

let clients: Clients;
beforeAll(() => {
  clients = makeClients({ searchEndpoint: process.env.SEARCH_ENDPOINT });
});
afterAll(() => destroyClients(clients));

const keyOf = (i: Item) => `${String(i.user_id)}/${String(i.session_id)}`;
const lastUpdateOf = (r: DynamoDBRecord) => r.dynamodb?.NewImage?.last_update?.S ?? '';

/** The same workload on fresh tables, queues and index: stream, worker and [A1, A2]. */
async function runWorkload(
  redelivery?: RedeliveryOptions & { visibilitySeconds?: number },
  parallelizationFactor = 1,
) {
  const p = uniqueName('rdl');
  const tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
  const index = uniqueName('rdl-idx');
  await ensurePikaTables(clients.dynamodb, tables);
  await ensureSessionIndex(clients.search!, index);
  await indexSessionDocs(clients.search!, index, SESSIONS);
  await putItems(clients.doc, tables.user, USERS);
  await putItems(clients.doc, tables.session, SESSIONS);

  /** What the consumer was handed, batch by batch: `key@last_update` of each record. */
  const batches: string[][] = [];
  const runner = await startLocalRunner({
    clients,
    deps: engineDeps(clients, { tables, searchIndex: index }),
    tables,
    queueName: `${p}-work`,
    dlqName: `${p}-dlq`,
    // The seeded puts reach the consumer through the stream, every item through the worker too.
    startingPosition: 'TRIM_HORIZON',
    batchingWindowMs: 300,
    parallelizationFactor,
    retryBackoffMs: 10,
    handlerLogLevel: 'SILENT',
    logger: quiet,
    ...(redelivery && { redelivery }),
    onResults: (_results, event) =>
      batches.push(
        event.Records.map(
          (r) =>
            `${r.dynamodb?.Keys?.user_id?.S}/${r.dynamodb?.Keys?.session_id?.S}@${lastUpdateOf(r)}`,
        ),
      ),
  });
  try {
    await runner.waitForIdle(120_000);
    const items = await workItemsOf(
      clients.doc,
      'session',
      tables.session,
      pikaMigrations('session'),
    );
    await sendMessages(
      clients.sqs,
      runner.queues.work,
      packItems('session', items, { maxItemsPerMessage: 5 }),
    );
    await runner.waitForIdle(120_000);
    // A1 then A2, written back to back: one batch of the consumer.
    for (const v of ['A1', 'A2'])
      await clients.doc.send(
        new UpdateCommand({
          TableName: tables.session,
          Key: { user_id: A.user_id, session_id: A.session_id },
          UpdateExpression: 'SET last_update = :v, title = :v',
          ExpressionAttributeValues: { ':v': `2030-01-01T00:00:0${v[1]}Z` },
        }),
      );
    await runner.waitForIdle(120_000);
  } finally {
    await runner.stop();
  }

  const table = (await scanAll(clients.doc, tables.session)).sort((a, b) =>
    keyOf(a).localeCompare(keyOf(b)),
  );
  // Search is near-real-time: make every update visible before reading.
  await clients.search!.indices.refresh({ index });
  const res = await clients.search!.search({
    index,
    body: { size: 1000, query: { match_all: {} } },
  });
  const docs = (res.body.hits.hits as { _id: string; _source: unknown }[])
    .map((h) => ({ id: h._id, source: h._source }))
    .sort((a, b) => a.id.localeCompare(b.id));
  // The same malformed item parked twice is one parked item: compare what is parked, and why.
  const parked = [
    ...new Set(
      (await drainParked(clients.sqs, runner.queues.dlq)).map((r) =>
        JSON.stringify({ source: r.source, reason: r.reason, key: r.key }),
      ),
    ),
  ].sort();
  return { table, docs, parked, batches, counts: runner.counts(), replays: runner.stats().replays };
}

/** The workload once without redelivery and once with every delivery made twice. */
async function onceAndTwice(factor: number) {
  const once = await runWorkload(undefined, factor);
  const twice = await runWorkload({ rate: 1, seed: 7, visibilitySeconds: 1 }, factor);

  expect(once.counts.duplicates).toBe(0);
  expect(twice.counts.duplicates).toBeGreaterThan(0);
  // The shard was re-read from an earlier checkpoint, not only batches re-invoked.
  expect(twice.replays).toBeGreaterThan(0);
  expect(twice.table).toEqual(once.table);
  expect(twice.docs).toEqual(once.docs);
  expect(twice.parked).toEqual(once.parked);
  // The 2 malformed items, parked by the consumer and by the worker.
  expect(once.parked).toHaveLength(4);
  // Sanity: the workload did migrate, and A ended at A2.
  expect(once.table.filter((i) => i.chat_app_sk).length).toBeGreaterThan(40);
  const a = twice.table.find((i) => keyOf(i) === keyOf(A));
  expect(a?.last_update).toBe('2030-01-01T00:00:02Z');

  // [A1, A2] was delivered again after [A1, A2].
  const a1a2 = [`${keyOf(A)}@2030-01-01T00:00:01Z`, `${keyOf(A)}@2030-01-01T00:00:02Z`];
  const isA1A2 = (b: string[]) => b.length === 2 && b[0] === a1a2[0] && b[1] === a1a2[1];
  const at = twice.batches.findIndex(isA1A2);
  expect(at).toBeGreaterThanOrEqual(0);
  expect(twice.batches.slice(at + 1).some(isA1A2)).toBe(true);
  expect(once.batches.filter(isA1A2)).toHaveLength(1);
}

describe('redelivery (at least once)', () => {
  it('every delivery made twice ends exactly where single delivery does', async () => {
    await onceAndTwice(1);
  });

  it('the same at ParallelizationFactor 10: the shard replayed from the contiguous checkpoint', async () => {
    await onceAndTwice(10);
  });
});
