// Issue 14 item 1 on the real local services: a scan run without search, whose projection lacks
// `invocation_mode`, sent through the queue to a worker deployed with search. The worker must
// not plan the keyword migration from a projection that does not carry its inputs (it would
// remove `invocation_mode_keyword` at the item's version, and the guard would keep that for
// good); it says the sets differ; and `verify --repair` mends a document left wrong at its
// own version.
import { Logger } from '@aws-lambda-powertools/logger';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillWorker } from '../../handlers/backfill-worker.ts';
import { FileStateStore } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { KEYWORDS_VERSION_FIELD } from '../../lib/core/config/plan-search.ts';
import type { Item } from '../../lib/core/types.ts';
import { versionMillis } from '../../lib/core/version.ts';
import { runBackfill } from '../../lib/engine/backfill.ts';
import { bundledPlanner } from '../../lib/engine/bundled-config.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { migrateItems } from '../../lib/engine/migrate-items.ts';
import { collectStatus } from '../../lib/engine/status.ts';
import { verifyAll } from '../../lib/engine/verify.ts';
import { renderStatus } from '../../scripts/commands/status.ts';
import type { WorkBatchSummary } from '../../lib/engine/work-batch.ts';
import { createLambdaContext } from '../../local/event-source/lambda-context.ts';
import { putItems } from '../../local/pika-tables.ts';
import { freshSessionStack } from '../support/session-stack.ts';
import { useLocalServices } from '../support/env.ts';
import { sqsEvent, takeAllMessages } from '../support/work-queue.ts';
import { PIKA } from '../support/pika.ts';

useLocalServices('scannedfor');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

let clients: Clients;
beforeAll(() => {
  clients = makeClients();
});
afterAll(() => destroyClients(clients));

const T = '2025-03-01T10:00:00.000Z';

describe('item 1: what a work message was scanned for', () => {
  it('item 1: a scan without search, a worker with search: no keyword planned from a projection without its inputs; the mismatch is told; keywords converge', async () => {
    const { tables, index, prefix } = await freshSessionStack(clients, 'scanned');
    const queues = await ensureQueues(clients.sqs, {
      queueName: `${prefix}-work`,
      dlqName: `${prefix}-dlq`,
    });
    const legacy: Item = {
      user_id: 'u1',
      session_id: 's-chat',
      chat_app_id: 'app1',
      last_update: T,
      invocation_mode: 'chat-app',
    };
    await putItems(clients.doc, tables.session, [legacy]);
    // The app's indexer: the whole document, without the keyword twins.
    await clients.search!.index({
      index,
      id: 's-chat',
      body: { session_id: 's-chat', user_id: 'u1', invocation_mode: 'chat-app', last_update: T },
      refresh: true,
    });

    // The scanner, run without a search endpoint: no search migration, no invocation_mode.
    const dir = mkdtempSync(join(tmpdir(), 'sf-scanned-'));
    const state = new FileStateStore(join(dir, 'state.json'));
    const scan = await runBackfill(
      { table: 'session', tableName: tables.session, searchEnabled: false, segments: 1 },
      {
        planner: bundledPlanner(),
        doc: clients.doc,
        dynamodb: clients.dynamodb,
        sqs: clients.sqs,
        queueUrl: queues.work,
        state,
      },
    );
    expect(scan.enqueued).toBe(1);
    expect(scan.projection).not.toContain('invocation_mode');

    // The deployed worker, with search and every default migration.
    const deps = engineDeps(clients, { tables, searchIndex: index });
    let summary: WorkBatchSummary | undefined;
    const worker = createBackfillWorker({
      deps,
      stateStore: state,
      logger: new Logger({ logLevel: 'SILENT' }),
      onResults: (s) => {
        summary = s;
      },
    });
    const res = await worker(
      sqsEvent(await takeAllMessages(clients.sqs, queues.work)),
      createLambdaContext({ functionName: 'test-worker' }),
    );
    expect(res.batchItemFailures).toEqual([]);
    expect(summary?.items.map((r) => r.outcome)).toEqual(['migrated']);
    // No keyword update was planned from the projection: nothing was sent to search.
    expect(summary?.items[0]?.search).toBeUndefined();
    expect(summary?.mismatches.map((m) => m.onlyWorker)).toEqual([['session-search-keywords']]);
    expect((await state.getSetMismatch(tables.session))?.text).toContain('session-search-keywords');
    // status shows it, by table.
    const status = await collectStatus({
      sqs: clients.sqs,
      dynamodb: clients.dynamodb,
      store: state,
      queues: {
        work: { name: 'work', url: queues.work },
        dlq: { name: 'dlq', url: queues.dlq },
      },
      tableName: tables.session,
      mode: 'local',
    });
    expect(status.migrationSetMismatch?.text).toContain(
      'run by this worker but not scanned for: session-search-keywords',
    );
    expect(renderStatus(status)).toContain("Worker migration set differs from the scanner's");
    await clients.search!.indices.refresh({ index });
    const afterWorker = (await clients.search!.get({ index, id: 's-chat' })).body._source as Item;
    expect(afterWorker[KEYWORDS_VERSION_FIELD]).toBeUndefined();

    // The stream consumer then sees our write's record (the same last_update) and sends the
    // keywords from the whole item: they land, because no wrong update took version T first.
    const item = (
      await clients.doc.send(
        new GetCommand({ TableName: tables.session, Key: { user_id: 'u1', session_id: 's-chat' } }),
      )
    ).Item as Item;
    await migrateItems('session', [item], deps, { refresh: true });
    const doc = (await clients.search!.get({ index, id: 's-chat' })).body._source as Item;
    expect(doc).toMatchObject({
      invocation_mode_keyword: 'chat-app',
      source_keyword: 'user',
      user_type_keyword: 'internal-user',
      [KEYWORDS_VERSION_FIELD]: versionMillis(T),
    });
    const report = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables,
      search: deps.search!,
    });
    expect(report.pending).toBe(0);
    expect(report.search).toMatchObject({ pending: 0, missing: 0 });
  });

  it('item 1: verify --repair mends keywords left wrong at their own version, and never goes over a newer one', async () => {
    const { tables, index } = await freshSessionStack(clients, 'repair');
    const migrated = (id: string, last_update: string): Item => ({
      user_id: 'u1',
      session_id: id,
      chat_app_id: 'app1',
      last_update,
      invocation_mode: 'chat-app',
      source: 'user',
      chat_app_sk: `app1#user#${last_update}`,
      user_type: 'internal-user',
    });
    const deps = engineDeps(clients, { tables, searchIndex: index });
    await deps.search!.ensureReady(); // the keyword mapping, as the consumer adds it at start
    const later = '2025-03-01T10:00:05.000Z';
    await putItems(clients.doc, tables.session, [migrated('s-wrong', T), migrated('s-newer', T)]);
    // What an earlier worker left: invocation_mode_keyword removed at version T. And a
    // document whose keywords already come from a newer version than the item we read.
    const wrongAtT = {
      user_id: 'u1',
      invocation_mode: 'chat-app',
      last_update: T,
      source_keyword: 'user',
      user_type_keyword: 'internal-user',
      [KEYWORDS_VERSION_FIELD]: versionMillis(T),
    };
    await clients.search!.index({
      index,
      id: 's-wrong',
      body: { session_id: 's-wrong', ...wrongAtT },
    });
    await clients.search!.index({
      index,
      id: 's-newer',
      body: {
        session_id: 's-newer',
        ...wrongAtT,
        last_update: later,
        [KEYWORDS_VERSION_FIELD]: versionMillis(later),
      },
      refresh: true,
    });

    // The consumer's update at the same version is a no-op: the guard keeps version T.
    const [again] = await deps.search!.applyUpdates(
      [
        {
          id: 's-wrong',
          doc: {
            invocation_mode_keyword: 'chat-app',
            source_keyword: 'user',
            user_type_keyword: 'internal-user',
          },
          version: T,
        },
      ],
      true,
    );
    expect(again?.outcome).toBe('unchanged');
    const before = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables,
      search: deps.search!,
    });
    expect(before.search?.pending).toBe(2);

    const repaired = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables,
      search: deps.search!,
      repair: true,
    });
    expect(repaired.search?.repaired).toBe(1);
    expect(repaired.search?.pending).toBe(1); // s-newer: its document is newer than the item
    const after = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables,
      search: deps.search!,
    });
    expect(after.search?.pending).toBe(1);
    expect(after.samples.map((s) => s.key)).toEqual(['s-newer']);
    const doc = (await clients.search!.get({ index, id: 's-wrong' })).body._source as Item;
    expect(doc.invocation_mode_keyword).toBe('chat-app');
    const newer = (await clients.search!.get({ index, id: 's-newer' })).body._source as Item;
    expect(newer[KEYWORDS_VERSION_FIELD]).toBe(versionMillis(later));
    expect(newer.invocation_mode_keyword).toBeUndefined();
  });
});
