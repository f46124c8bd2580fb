// The backfill worker on the real local services: items messages migrated from their carried
// inputs with no read, conflicts settled by the condition, malformed input parked, scan-segment
// tasks fanned out through the local runner, and the consumer heartbeat it publishes.
import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBackfillWorker,
  type BackfillWorkerOptions,
} from '../../handlers/backfill-worker.ts';
import { FileStateStore } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { ensureQueues, type QueueUrls } from '../../lib/adapters/queues.ts';
import { sendMessages } from '../../lib/adapters/work-queue.ts';
import { consumerHeartbeatId } from '../../lib/config/defaults.ts';
import type { Item } from '../../lib/core/types.ts';
import {
  decodeWorkMessage,
  packMessage,
  type ItemsMessage,
  type WorkItem,
} from '../../lib/core/work-message.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import type { EngineDeps } from '../../lib/engine/migrate-items.ts';
import type { WorkBatchSummary } from '../../lib/engine/work-batch.ts';
import { createLambdaContext } from '../../local/event-source/lambda-context.ts';
import { legacySessions, legacyTags, legacyUsers } from '../../local/legacy-data.ts';
import { ensurePikaTables, putItems, type PikaTableNames } from '../../local/pika-tables.ts';
import { startLocalRunner, type LocalRunnerOptions } from '../../local/runner.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { drainParked, itemsBodies, scanAll, sqsEvent, workItemsOf } from '../support/work-queue.ts';

useLocalServices('backfillworker');
// EMF lines are for CloudWatch; here they would drown the test output.
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const USERS = legacyUsers({ users: 10, seed: 5 });
const userTypes = new Map(USERS.map((u) => [u.user_id as string, u.user_type as string]));
/** The DynamoDB migrations (the search side has its own tests). */
const DYNAMO_MIGRATIONS = ['session-sort-key', 'session-user-type', 'tag-usage-mode'] as const;
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

let clients: Clients;
beforeAll(() => {
  clients = makeClients();
});
afterAll(() => destroyClients(clients));

interface Stack {
  tables: PikaTableNames;
  queues: QueueUrls;
}

async function stack(name: string, sessions: Item[]): Promise<Stack> {
  const p = uniqueName(name);
  const tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
  await ensurePikaTables(clients.dynamodb, tables);
  await putItems(clients.doc, tables.user, USERS);
  await putItems(clients.doc, tables.session, sessions);
  const queues = await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
  return { tables, queues };
}

/** Engine deps on a client of their own whose DynamoDB calls are counted by operation. */
function countingDeps(tables: PikaTableNames): { deps: EngineDeps; calls: Map<string, number> } {
  const c = makeClients();
  const calls = new Map<string, number>();
  c.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName).replace(/Command$/, '');
      calls.set(op, (calls.get(op) ?? 0) + 1);
      return next(args);
    },
    { step: 'initialize', name: 'countCalls' },
  );
  const deps: EngineDeps = {
    ...engineDeps(c, { tables, searchIndex: 'unused' }),
    search: undefined,
    migrations: DYNAMO_MIGRATIONS,
  };
  return { deps, calls };
}

/** Runner options on the stack's queues, quiet, with counting deps. */
function runnerOn(s: Stack, extra: Partial<LocalRunnerOptions> = {}): LocalRunnerOptions {
  return {
    clients,
    deps: countingDeps(s.tables).deps,
    tables: s.tables,
    queueName: s.queues.work.split('/').pop()!,
    dlqName: s.queues.dlq.split('/').pop()!,
    logger: quiet,
    handlerLogLevel: 'SILENT',
    ...extra,
  };
}

const reads = (calls: Map<string, number>): number =>
  (calls.get('GetItem') ?? 0) + (calls.get('Query') ?? 0) + (calls.get('Scan') ?? 0);

async function invoke(
  options: BackfillWorkerOptions,
  event: SQSEvent,
): Promise<{ failures: string[]; summary: WorkBatchSummary }> {
  let summary: WorkBatchSummary | undefined;
  const handler = createBackfillWorker({
    logger: new Logger({ logLevel: 'SILENT' }),
    ...options,
    onResults: (s) => {
      summary = s;
    },
  });
  const res = await handler(event, createLambdaContext({ functionName: 'test-worker' }));
  return {
    failures: res.batchItemFailures.map((f) => f.itemIdentifier),
    summary: summary as WorkBatchSummary,
  };
}

const get = async (TableName: string, Key: Item): Promise<Item | undefined> =>
  (await clients.doc.send(new GetCommand({ TableName, Key, ConsistentRead: true }))).Item;

/**
 * The session rules, computed independently of the planner from the item as seeded: `source`
 * and `user_type` keep a seeded value, else get their default / the user's type.
 */
function expectMigrated(item: Item | undefined, seeded: Item): void {
  const source = (seeded.source as string | undefined) ?? 'user';
  const kind = source === 'component' ? 'component' : 'user';
  expect(item?.source).toBe(source);
  expect(item?.chat_app_sk).toBe(`${seeded.chat_app_id}#${kind}#${seeded.last_update}`);
  expect(item?.user_type).toBe(
    seeded.user_type ?? userTypes.get(seeded.user_id as string) ?? 'external-user',
  );
}

/** Every seeded session is migrated in the table. */
async function expectAllMigrated(TableName: string, seeded: readonly Item[]): Promise<void> {
  const now = new Map((await scanAll(clients.doc, TableName)).map((i) => [i.session_id, i]));
  expect(now.size).toBe(seeded.length);
  for (const s of seeded) expectMigrated(now.get(s.session_id), s);
}

describe('backfill worker: items messages', () => {
  it('migrates from the carried inputs with one user lookup, conditional writes and 0 item reads', async () => {
    const sessions = legacySessions({ sessions: 60, users: 10, seed: 11, migratedFraction: 0.2 });
    const s = await stack('items', sessions);
    const work = await workItemsOf(clients.doc, 'session', s.tables.session, DYNAMO_MIGRATIONS);
    const { deps, calls } = countingDeps(s.tables);
    const options = { deps, deadLetters: new DeadLetters(clients.sqs, s.queues.dlq) };

    const first = await invoke(options, sqsEvent(itemsBodies('session', work, 20)));
    expect(first.failures).toEqual([]);
    expect(first.summary.items).toHaveLength(60);
    const migrated = first.summary.items.filter((r) => r.outcome === 'migrated').length;
    expect(migrated).toBe(48); // the 12 already-migrated ones need nothing
    expect(reads(calls)).toBe(0);
    expect(calls.get('BatchGetItem')).toBe(1); // one batched user lookup for the whole batch
    expect(calls.get('UpdateItem')).toBe(migrated);
    await expectAllMigrated(s.tables.session, sessions);

    // Redelivered (SQS is at-least-once): the condition finds the write already applied.
    const again = await invoke(options, sqsEvent(itemsBodies('session', work, 20), 2));
    expect(again.failures).toEqual([]);
    expect(again.summary.items.filter((r) => r.outcome === 'migrated')).toHaveLength(0);
    expect(again.summary.items.filter((r) => r.outcome === 'conflict')).toHaveLength(0);
    expect(reads(calls)).toBe(0);

    // The counter counts: a read through the same client shows up.
    await deps.writer['doc'].send(
      new GetCommand({ TableName: s.tables.session, Key: work[0]!.key }),
    );
    expect(reads(calls)).toBe(1);
  });

  it('leaves an item the app changed after the scan to the stream: conflict, settled, no lost update', async () => {
    const s = await stack('conflict', legacySessions({ sessions: 5, users: 10, seed: 12 }));
    const work = await workItemsOf(clients.doc, 'session', s.tables.session, DYNAMO_MIGRATIONS);
    const target = work[2] as WorkItem;
    const newer = '2030-01-01T00:00:00.000Z';
    await clients.doc.send(
      new UpdateCommand({
        TableName: s.tables.session,
        Key: target.key,
        UpdateExpression: 'SET last_update = :u, title = :t',
        ExpressionAttributeValues: { ':u': newer, ':t': 'renamed by the app' },
      }),
    );
    const { deps, calls } = countingDeps(s.tables);
    const r = await invoke({ deps }, sqsEvent(itemsBodies('session', work, 10)));
    expect(r.failures).toEqual([]);
    const conflicts = r.summary.items.filter((x) => x.outcome === 'conflict');
    expect(conflicts.map((x) => x.key)).toEqual([target.key]);
    const item = await get(s.tables.session, target.key);
    expect(item).toMatchObject({ last_update: newer, title: 'renamed by the app' });
    expect(item?.chat_app_sk).toBeUndefined(); // never written from the stale inputs
    // The conflict is told from the write's own ALL_OLD: still no read.
    expect(reads(calls)).toBe(0);
  });

  it('parks a malformed item alone and an undecodable message with its reason; the rest settles', async () => {
    const sessions = legacySessions({ sessions: 4, users: 10, seed: 13 });
    const s = await stack('malformed', sessions);
    const work = await workItemsOf(clients.doc, 'session', s.tables.session, DYNAMO_MIGRATIONS);
    const bad: WorkItem = {
      key: { user_id: 'u-bad', session_id: 'sess-bad' },
      inputs: { chat_app_id: 5, last_update: '2024-01-01T00:00:00.000Z', user_id: 'u-bad' },
    };
    const mixed = itemsBodies('session', [work[0]!, bad, work[1]!], 10);
    const bodies = [
      ...mixed,
      'this is not json',
      JSON.stringify({ v: 1, kind: 'items', table: 'session', items: [] }),
      JSON.stringify({ v: 2, kind: 'items' }),
    ];
    const { deps } = countingDeps(s.tables);
    const r = await invoke(
      { deps, deadLetters: new DeadLetters(clients.sqs, s.queues.dlq, { keepImages: true }) },
      sqsEvent(bodies),
    );
    expect(r.failures).toEqual([]);
    expect(r.summary.parked).toBe(4);
    const seeded = (w: WorkItem) => sessions.find((x) => x.session_id === w.key.session_id)!;
    expectMigrated(await get(s.tables.session, work[0]!.key), seeded(work[0]!));
    expectMigrated(await get(s.tables.session, work[1]!.key), seeded(work[1]!));

    const parked = await drainParked(clients.sqs, s.queues.dlq);
    expect(parked).toHaveLength(4);
    for (const p of parked) expect(p.source).toBe('backfill-worker');
    const item = parked.find((p) => p.key.session_id === 'sess-bad');
    expect(item?.reason).toContain('chat_app_id');
    // Parked as a one-item message: fixed, it goes back to the work queue as is.
    expect((item?.record as ItemsMessage).items).toEqual([bad]);
    const reasons = parked.map((p) => p.reason).join('\n');
    expect(reasons).toContain('body is not JSON');
    expect(reasons).toContain('items: is empty');
    expect(reasons).toContain('unsupported version v=2');
  });

  it('fails only the messages whose items failed in a way a retry can fix', async () => {
    const s = await stack('retryable', legacySessions({ sessions: 6, users: 10, seed: 14 }));
    await putItems(clients.doc, s.tables.tag, legacyTags());
    const sessions = await workItemsOf(clients.doc, 'session', s.tables.session, DYNAMO_MIGRATIONS);
    const tags = await workItemsOf(clients.doc, 'tag', s.tables.tag, DYNAMO_MIGRATIONS);
    // The user table is unreachable: session items cannot be planned (a retry can fix that).
    const { deps } = countingDeps({ ...s.tables, user: `${s.tables.user}-gone` });
    const bodies = [...itemsBodies('tag', tags, 100), ...itemsBodies('session', sessions, 100)];
    const r = await invoke({ deps }, sqsEvent(bodies));
    expect(r.failures).toEqual(['m1']);
    const tagItems = await scanAll(clients.doc, s.tables.tag);
    expect(tagItems.length).toBeGreaterThan(0);
    for (const t of tagItems) expect(t.usage_mode).toBeDefined();
  });
});

describe('backfill worker: scan-segment tasks through the local runner', () => {
  it('fans a table out completely: every item enqueued exactly once, each chain ends, checkpoints done', async () => {
    const total = 230;
    const sessions = legacySessions({ sessions: total, users: 10, seed: 15 });
    const s = await stack('fanout', sessions);
    const store = new FileStateStore(join(mkdtempSync(join(tmpdir(), 'sf-fanout-')), 'state.json'));
    const runId = 'run-fanout';
    const segments = 4;
    await store.startRun({
      runId,
      table: 'session',
      tableName: s.tables.session,
      totalSegments: segments,
      startedAtMs: Date.now(),
      updatedAtMs: Date.now(),
      status: 'running',
      pauseRequested: false,
      owner: 'scanner-test',
      options: {},
    });
    const enqueued: string[] = [];
    let pages = 0;
    const runner = await startLocalRunner(
      runnerOn(s, {
        // The seed's own records are not this test's business: the worker alone migrates.
        startingPosition: 'LATEST',
        stateStore: store,
        onWorkerResults: (summary, event) => {
          pages += summary.pages;
          for (const r of event.Records) {
            const m = decodeWorkMessage(r.body);
            if (m.kind === 'items')
              for (const i of m.items) enqueued.push(String(i.key.session_id));
          }
        },
      }),
    );
    try {
      await sendMessages(
        clients.sqs,
        s.queues.work,
        Array.from({ length: segments }, (_, segment) =>
          packMessage({
            v: 1,
            kind: 'scan-segment',
            table: 'session',
            runId,
            segment,
            totalSegments: segments,
            pageSize: 20,
          }),
        ),
      );
      await runner.waitForIdle(120_000);
      expect(enqueued).toHaveLength(total);
      expect(new Set(enqueued).size).toBe(total);
      const checkpoints = await store.getCheckpoints(runId);
      expect(checkpoints.map((c) => c.segment)).toEqual([0, 1, 2, 3]);
      for (const c of checkpoints) {
        expect(c.counts.done).toBe(true);
        expect(c.lastEvaluatedKey).toBeUndefined();
      }
      expect(checkpoints.reduce((n, c) => n + c.counts.scanned, 0)).toBe(total);
      expect(checkpoints.reduce((n, c) => n + c.counts.enqueued, 0)).toBe(total);
      // ≥ one page per 20 items of a segment, plus at most one empty last page per segment.
      expect(pages).toBeGreaterThanOrEqual(Math.ceil(total / 20));
      expect(pages).toBeLessThanOrEqual(Math.ceil(total / 20) + 2 * segments);
      await expectAllMigrated(s.tables.session, sessions);
      expect(runner.counts()).toMatchObject({ parked: 0, onFailure: 0 });
    } finally {
      await runner.stop();
    }
  });

  it('publishes the consumer heartbeat while running; it says stopped and goes stale after', async () => {
    const s = await stack('heartbeat', legacySessions({ sessions: 10, users: 10, seed: 16 }));
    const store = new FileStateStore(join(mkdtempSync(join(tmpdir(), 'sf-hb-')), 'state.json'));
    const component = consumerHeartbeatId(s.tables.session);
    // Before the start: the seed's batch may run while the runner is still starting.
    const started = Date.now();
    const runner = await startLocalRunner(
      runnerOn(s, { stateStore: store, heartbeatIntervalMs: 100 }),
    );
    try {
      await runner.waitForIdle(60_000);
      // Polls until a heartbeat written after the catch-up arrives (no timing asserted).
      let hb = await store.getHeartbeat(component);
      while (!hb?.caughtUp) {
        await new Promise((r) => setTimeout(r, 50));
        hb = await store.getHeartbeat(component);
      }
      expect(hb.component).toBe(component);
      expect(hb.lagMs).toBe(0);
      expect(hb.lastBatchAtMs).toBeGreaterThanOrEqual(started); // the seed's records were a batch
      expect(hb.updatedAtMs).toBeGreaterThanOrEqual(hb.lastBatchAtMs);
    } finally {
      await runner.stop();
    }
    const last = await store.getHeartbeat(component);
    expect(last?.caughtUp).toBe(false);
    await new Promise((r) => setTimeout(r, 500)); // 5 intervals
    expect((await store.getHeartbeat(component))?.updatedAtMs).toBe(last?.updatedAtMs);
  });
});

describe('backfill worker: maxReceiveCount', () => {
  it('a message failing its last allowed receive is counted on-failure and moved to the DLQ by the queue', async () => {
    const s = await stack('lastreceive', legacySessions({ sessions: 3, users: 10, seed: 17 }));
    const work = await workItemsOf(clients.doc, 'session', s.tables.session, DYNAMO_MIGRATIONS);
    // A retryable failure (the user table is unreachable), one receive allowed.
    const { deps } = countingDeps({ ...s.tables, user: `${s.tables.user}-gone` });
    const p = uniqueName('lastreceive');
    const runner = await startLocalRunner({
      clients,
      deps,
      tables: s.tables,
      queueName: `${p}-work`,
      dlqName: `${p}-dlq`,
      workQueueMaxReceives: 1,
      workQueueVisibilitySeconds: 2,
      workerFunctionTimeoutMs: 2_000,
      startingPosition: 'LATEST',
      logger: quiet,
      handlerLogLevel: 'SILENT',
    });
    try {
      const [body] = itemsBodies('session', work, 10);
      await sendMessages(clients.sqs, runner.queues.work, [{ body: body!, bytes: body!.length }]);
      await runner.waitForIdle(60_000);
      expect(runner.counts()).toMatchObject({ onFailure: 1, parked: 0 });
    } finally {
      await runner.stop();
    }
    const inDlq = await drainParked(clients.sqs, runner.queues.dlq);
    expect(inDlq).toHaveLength(1);
    expect((inDlq[0] as unknown as ItemsMessage).items).toHaveLength(3); // the message itself
  });
});
