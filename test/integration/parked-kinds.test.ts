// Issue 14 item 4 on the real local services: what the backfill worker parks itself — a search
// repair that gave up, a work message that does not decode — carries its table and document id
// or item keys, is classed by kind by status, verify and redrive, and redrive returns it.
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillWorker } from '../../handlers/backfill-worker.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { peekQueue } from '../../lib/adapters/dlq-reader.ts';
import { ensureQueues, type QueueUrls } from '../../lib/adapters/queues.ts';
import { breakdownKind, classifyDlqBody } from '../../lib/core/dlq-message.ts';
import { decodeWorkMessage, encodeWorkMessage } from '../../lib/core/work-message.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { UNSTATED_TABLE } from '../../lib/engine/work-batch.ts';
import { redrive } from '../../lib/engine/redrive.ts';
import { SEARCH_REPAIR_MAX_ATTEMPTS } from '../../lib/engine/search-repair.ts';
import { collectStatus } from '../../lib/engine/status.ts';
import { verifyAll } from '../../lib/engine/verify.ts';
import { createLambdaContext } from '../../local/event-source/lambda-context.ts';
import { putItems, type PikaTableNames } from '../../local/pika-tables.ts';
import { freshSessionStack } from '../support/session-stack.ts';
import { useLocalServices } from '../support/env.ts';
import { sqsEvent, takeAllMessages } from '../support/work-queue.ts';
import { PIKA } from '../support/pika.ts';

useLocalServices('parkedkinds');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

let clients: Clients;
let tables: PikaTableNames;
let index: string;
let queues: QueueUrls;
beforeAll(async () => {
  clients = makeClients();
  const s = await freshSessionStack(clients, 'parked');
  tables = s.tables;
  index = s.index;
  queues = await ensureQueues(clients.sqs, {
    queueName: `${s.prefix}-work`,
    dlqName: `${s.prefix}-dlq`,
  });
  // An item of the table (its search document does not exist: the app never indexed it).
  await putItems(clients.doc, tables.session, [
    {
      user_id: 'u1',
      session_id: 's-undecodable',
      chat_app_id: 'app1',
      last_update: '2025-01-01T00:00:00.000Z',
    },
  ]);
});
afterAll(() => destroyClients(clients));

describe('item 4: parked repairs and undecodable messages', () => {
  it('item 4: are parked with their table and document id or keys, classed by kind, and redrive returns them', async () => {
    const deps = engineDeps(clients, { tables, searchIndex: index });
    const worker = createBackfillWorker({
      deps,
      deadLetters: new DeadLetters(clients.sqs, queues.dlq),
      workQueue: { sqs: clients.sqs, url: queues.work },
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    const lastRepair = encodeWorkMessage({
      v: 1,
      kind: 'search-repair',
      table: 'session',
      key: { user_id: 'u1', session_id: 's-never-indexed' },
      docId: 's-never-indexed',
      keywords: { source_keyword: 'user' },
      version: '2025-01-01T00:00:00.000Z',
      attempt: SEARCH_REPAIR_MAX_ATTEMPTS,
      reason: 'search document missing',
    });
    // Valid JSON naming a table and a key, but not a valid message (an unknown field).
    const undecodable = JSON.stringify({
      v: 1,
      kind: 'items',
      table: 'session',
      items: [
        {
          key: { user_id: 'u1', session_id: 's-undecodable' },
          inputs: { chat_app_id: 'app1' },
          note: 'a field no version of the codec knows',
        },
      ],
    });
    // A repair that does not decode names a document, not its item's table or key.
    const brokenRepair = JSON.stringify({ v: 1, kind: 'search-repair', docId: 's-doc-only' });
    const res = await worker(
      sqsEvent([lastRepair, undecodable, 'not json at all', brokenRepair]),
      createLambdaContext({ functionName: 'test-worker' }),
    );
    expect(res.batchItemFailures).toEqual([]);

    const parked = (await peekQueue(clients.sqs, queues.dlq)).map((e) => classifyDlqBody(e.body));
    expect(parked.map(breakdownKind).sort()).toEqual([
      'parked-search-repair',
      'parked-undecodable',
      'parked-undecodable',
      'parked-undecodable',
    ]);
    expect(parked).toContainEqual(
      expect.objectContaining({
        parked: expect.objectContaining({ docId: 's-doc-only', table: UNSTATED_TABLE }),
      }),
    );
    for (const p of parked) {
      if (p.kind !== 'parked') throw new Error('not parked');
      expect(p.parked.table).not.toBe('');
      expect(p.parked.reason).not.toBe('');
    }
    const repair = parked.find((p) => breakdownKind(p) === 'parked-search-repair');
    expect(repair).toMatchObject({
      parked: {
        table: tables.session,
        key: { user_id: 'u1', session_id: 's-never-indexed' },
        docId: 's-never-indexed',
        kind: 'search-repair',
      },
    });
    expect(parked).toContainEqual(
      expect.objectContaining({
        parked: expect.objectContaining({
          kind: 'undecodable',
          table: tables.session,
          key: { user_id: 'u1', session_id: 's-undecodable' },
        }),
      }),
    );

    // status and verify name each kind.
    const status = await collectStatus({
      sqs: clients.sqs,
      dynamodb: clients.dynamodb,
      queues: {
        work: { name: 'work', url: queues.work },
        dlq: { name: 'dlq', url: queues.dlq },
      },
      tableName: tables.session,
      mode: 'local',
    });
    expect(status.dlq.byKind).toMatchObject({
      'parked-search-repair': 1,
      'parked-undecodable': 3,
      unknown: 0,
    });
    const report = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables,
      dlq: { sqs: clients.sqs, url: queues.dlq },
    });
    expect(report.dlq?.byKind).toMatchObject({
      'parked-search-repair': 1,
      'parked-undecodable': 3,
      unknown: 0,
    });

    // redrive: the repair goes back as a first attempt, the undecodable message's item is
    // re-read and enqueued; the bodies naming no item stay, with advice.
    const r = await redrive({
      ...clients,
      planner: PIKA,
      tables,
      workQueueUrl: queues.work,
      dlqUrl: queues.dlq,
    });
    expect(r.byKind['parked-search-repair']).toEqual({ found: 1, moved: 1, kept: 0 });
    expect(r.byKind['parked-undecodable']).toEqual({ found: 3, moved: 1, kept: 2 });
    expect(r.byKind.unknown.found).toBe(0);
    expect(r.advice.join('\n')).toContain('undecodable');
    const work = (await takeAllMessages(clients.sqs, queues.work)).map(decodeWorkMessage);
    expect(work).toContainEqual(
      expect.objectContaining({ kind: 'search-repair', docId: 's-never-indexed', attempt: 1 }),
    );
    const items = work.flatMap((m) => (m.kind === 'items' ? m.items : []));
    expect(items.map((i) => i.key)).toEqual([{ user_id: 'u1', session_id: 's-undecodable' }]);
    expect(items[0]?.inputs).toMatchObject({ last_update: '2025-01-01T00:00:00.000Z' });
  });

  it('item 4: a parked item whose key is partial stays parked, reported, even with --include-malformed', async () => {
    const dlq = (
      await ensureQueues(clients.sqs, {
        queueName: `${queues.work.split('/').pop()}-p`,
        dlqName: `${queues.dlq.split('/').pop()}-p`,
      })
    ).dlq;
    await new DeadLetters(clients.sqs, dlq).park([
      {
        source: 'stream-consumer',
        reason: 'session item {user_id="u1"}: field "session_id" is missing',
        table: tables.session,
        key: { user_id: 'u1' },
        record: {},
      },
    ]);
    const r = await redrive(
      { ...clients, planner: PIKA, tables, workQueueUrl: queues.work, dlqUrl: dlq },
      { includeMalformed: true },
    );
    expect(r.byKind.parked).toEqual({ found: 1, moved: 0, kept: 1 });
    expect(r.entries[0]?.detail).toContain('is not a whole session key');
  });
});
