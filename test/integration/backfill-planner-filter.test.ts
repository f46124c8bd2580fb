// The planner scan filter on the real local services, with the orders fixture config: a partly
// migrated table. A pass leaves out the orders the planner finds settled and enqueues the pending
// ones and those needing a lookup; the worker converges them (verify: 0 pending). The filter is
// off, saying why, until a full unfiltered pass has finished under an unbroken consumer, after a
// consumer break, and with --no-filter. The dry run reports the same split. An app write that
// lands between the scan's read and its skip decision is converged by the stream consumer.
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateTableCommand, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillWorker } from '../../handlers/backfill-worker.ts';
import { FileStateStore } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { heartbeatProbe } from '../../lib/adapters/consumer-probe.ts';
import { LookupReader } from '../../lib/adapters/lookup-reader.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { CONSUMER_HEARTBEAT, consumerHeartbeatId } from '../../lib/config/defaults.ts';
import { continuityBreak, type ConsumerHeartbeat } from '../../lib/core/backfill-run.ts';
import { PLANNER_FILTER } from '../../lib/core/backfill-filter.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import { resolveConfig } from '../../lib/core/config/resolve.ts';
import type { Item } from '../../lib/core/types.ts';
import { decodeWorkMessage } from '../../lib/core/work-message.ts';
import { runBackfill, type BackfillDeps, type BackfillOptions } from '../../lib/engine/backfill.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { verifyAll } from '../../lib/engine/verify.ts';
import { ensurePikaTables, putItems } from '../../local/pika-tables.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { createLambdaContext } from '../../local/event-source/lambda-context.ts';
import ordersConfig from '../fixtures/configs/orders.config.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { PIKA } from '../support/pika.ts';
import { sqsEvent, takeAllMessages } from '../support/work-queue.ts';

useLocalServices('plannerfilter');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const planner = compilePlanner(resolveConfig(ordersConfig));
const MIGRATIONS = ['order-status-sk'];
const HOUR = 3_600_000;

let clients: Clients;
beforeAll(() => {
  clients = makeClients({ searchEndpoint: undefined });
});
afterAll(() => destroyClients(clients));

async function createTable(TableName: string, key: readonly [string, 'S' | 'N'][]): Promise<void> {
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: key.map(([AttributeName, AttributeType]) => ({
        AttributeName,
        AttributeType,
      })),
      KeySchema: key.map(([AttributeName], i): KeySchemaElement => ({
        AttributeName,
        KeyType: i === 0 ? 'HASH' : 'RANGE',
      })),
    }),
  );
}

const idOf = (k: Record<string, unknown>): string => `${String(k.tenant_id)}|${String(k.order_no)}`;

interface Fixture {
  tables: { orders: string; customers: string };
  queueUrl: string;
  state: FileStateStore;
  /** Orders the planner settles without a lookup: migrated, no customer. */
  settled: Set<string>;
  /** Orders still to migrate (no status_sk). */
  pending: Set<string>;
  /** Migrated orders with a customer: settling them needs the lookup, so they are enqueued. */
  lookup: Set<string>;
}

/** 90 orders: a third migrated, a third pending, a third migrated but reading a customer. */
async function fixture(name: string): Promise<Fixture> {
  const p = uniqueName(name);
  const tables = { orders: `${p}-orders`, customers: `${p}-customers` };
  await createTable(tables.orders, [
    ['tenant_id', 'S'],
    ['order_no', 'N'],
  ]);
  await createTable(tables.customers, [['customer_id', 'S']]);
  await putItems(clients.doc, tables.customers, [{ customer_id: 'c1', tier: 'gold' }]);
  const settled = new Set<string>();
  const pending = new Set<string>();
  const lookup = new Set<string>();
  const orders: Item[] = Array.from({ length: 90 }, (_, i) => {
    const base = {
      tenant_id: `t${i % 3}`,
      order_no: i,
      status: 'paid',
      created_at: `2026-01-${i}`,
    };
    const done = { status_sk: `paid#2026-01-${i}` };
    const kind = i % 3;
    (kind === 0 ? settled : kind === 1 ? pending : lookup).add(idOf(base));
    if (kind === 0) return { ...base, ...done, customer_tier: 'standard' };
    if (kind === 1) return base;
    return { ...base, ...done, customer_id: 'c1', customer_tier: 'gold' };
  });
  await putItems(clients.doc, tables.orders, orders);
  const queues = await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
  const state = new FileStateStore(join(mkdtempSync(join(tmpdir(), 'sf-filter-')), 's.json'));
  return { tables, queueUrl: queues.work, state, settled, pending, lookup };
}

/** A running, caught-up consumer that has read without a break since `sinceMs`. */
async function consumerSince(f: Fixture, firstSeenMs: number, sinceMs = firstSeenMs) {
  const at = Date.now() + 60_000;
  const hb: ConsumerHeartbeat = {
    component: consumerHeartbeatId(f.tables.orders),
    lastBatchAtMs: at,
    lagMs: 0,
    caughtUp: true,
    updatedAtMs: at,
    firstSeenMs,
    continuousSinceMs: sinceMs,
  };
  await f.state.putHeartbeat(hb);
}

const options = (f: Fixture, over: Partial<BackfillOptions> = {}): BackfillOptions => ({
  table: 'orders',
  tableName: f.tables.orders,
  searchEnabled: false,
  segments: 3,
  pageSize: 20,
  pollMs: 50,
  ...over,
});
/** What the CLI wires: the heartbeat probe, and continuity from the heartbeat and last run. */
const deps = (f: Fixture): BackfillDeps => ({
  planner,
  doc: clients.doc,
  dynamodb: clients.dynamodb,
  sqs: clients.sqs,
  queueUrl: f.queueUrl,
  state: f.state,
  consumer: heartbeatProbe(f.state, consumerHeartbeatId(f.tables.orders), {
    staleMs: CONSUMER_HEARTBEAT.staleAfterMs,
  }),
  continuity: async (lastRun) =>
    continuityBreak(
      await f.state.getHeartbeat(consumerHeartbeatId(f.tables.orders)),
      lastRun,
      Date.now(),
    ),
  lookups: new LookupReader(clients.doc, f.tables),
});

/** The keys of the items messages on the queue (taking them off it), and the bodies. */
async function queued(f: Fixture): Promise<{ ids: string[]; bodies: string[] }> {
  const bodies = await takeAllMessages(clients.sqs, f.queueUrl);
  const ids: string[] = [];
  for (const b of bodies) {
    const m = decodeWorkMessage(b);
    if (m.kind === 'items') for (const it of m.items) ids.push(idOf(it.key));
  }
  return { ids: ids.sort(), bodies };
}

const sorted = (...sets: Set<string>[]): string[] => sets.flatMap((s) => [...s]).sort();

/** A finished pass of `f` (new run), its summary and what it put on the queue. */
async function pass(f: Fixture, over: Partial<BackfillOptions> = {}) {
  const logs: string[] = [];
  const summary = await runBackfill(options(f, over), deps(f), { log: (l) => logs.push(l) });
  expect(summary.outcome).toBe('finished');
  // Every scanned item is enqueued or skipped (none parked here).
  expect(summary.scanned).toBe(summary.enqueued + summary.skipped);
  return { summary, logs, ...(await queued(f)) };
}

describe('the planner scan filter', () => {
  it('is off for the first pass under a consumer, then leaves out only the settled orders; the worker converges the rest', async () => {
    const f = await fixture('pf-split');
    await consumerSince(f, Date.now() - HOUR);

    // No full pass without the filter since the consumer began: this one enqueues every order.
    const first = await pass(f);
    expect(first.summary.filter).toMatch(/^none: no full pass without the filter has finished/);
    expect(first.logs.some((l) => l.startsWith('scanning without the filter:'))).toBe(true);
    expect(first.summary).toMatchObject({ scanned: 90, enqueued: 90, skippedSettled: 0 });
    expect(first.ids).toEqual(sorted(f.settled, f.pending, f.lookup));
    const run1 = await f.state.getRun(f.tables.orders);
    expect(run1?.options.unfiltered).toBe(true);
    // (Its messages are dropped unprocessed, so the next pass meets the same pending orders.)

    // The dry run reports the split the filtered pass makes.
    const dry = await runBackfill(options(f, { dryRun: true }), deps(f));
    expect(dry).toMatchObject({ scanned: 90, enqueued: 0, skipped: 30, skippedSettled: 30 });
    expect(dry.filter).toBe(PLANNER_FILTER);

    const second = await pass(f);
    expect(second.summary.filter).toBe(PLANNER_FILTER);
    expect(second.summary).toMatchObject({
      scanned: 90,
      enqueued: 60,
      skipped: 30,
      skippedSettled: 30,
    });
    // Pending and lookup-needing orders, each once; no settled one.
    expect(second.ids).toEqual(sorted(f.pending, f.lookup));
    const run2 = await f.state.getRun(f.tables.orders);
    expect(run2?.options.unfiltered).toBe(false);
    const cps = await f.state.getCheckpoints(run2!.runId);
    expect(cps.reduce((n, c) => n + (c.counts.skippedSettled ?? 0), 0)).toBe(30);

    const worker = createBackfillWorker({
      deps: engineDeps(clients, { tables: f.tables, planner }),
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    for (let i = 0; i < second.bodies.length; i += 10) {
      const res = await worker(
        sqsEvent(second.bodies.slice(i, i + 10)),
        createLambdaContext({ functionName: 'filter-worker' }),
      );
      expect(res.batchItemFailures).toEqual([]);
    }
    const report = await verifyAll({
      doc: clients.doc,
      planner,
      tables: f.tables,
      migrations: MIGRATIONS,
    });
    expect(report).toMatchObject({ checked: 90, pending: 0, malformed: 0 });
  });

  it('enqueues every order after a consumer break, and with --no-filter', async () => {
    const f = await fixture('pf-break');
    const t0 = Date.now() - 3 * HOUR;
    await consumerSince(f, t0);
    const first = await pass(f);
    expect(first.summary.enqueued).toBe(90);

    // A stop longer than the stream's retention, after that unfiltered pass: the filter is off.
    await new Promise((r) => setTimeout(r, 5));
    await consumerSince(f, t0, Date.now());
    const broken = await pass(f);
    expect(broken.summary.filter).toMatch(
      /^none: the stream consumer was stopped for longer than the stream's 24 h retention/,
    );
    expect(broken.summary).toMatchObject({ enqueued: 90, skippedSettled: 0 });
    expect(broken.ids).toEqual(sorted(f.settled, f.pending, f.lookup));

    // That pass repaired the break: the next one filters, unless told not to.
    const noFilter = await pass(f, { filter: false });
    expect(noFilter.summary.filter).toMatch(/--no-filter/);
    expect(noFilter.summary).toMatchObject({ enqueued: 90, skippedSettled: 0 });
    expect((await f.state.getRun(f.tables.orders))?.options.unfiltered).toBe(true);
    const filtered = await pass(f);
    expect(filtered.summary).toMatchObject({ enqueued: 60, skippedSettled: 30 });
  });

  it('an app write between the scan read and its skip decision is converged by the consumer', async () => {
    const p = uniqueName('pf-race');
    const tables = { session: `${p}-s`, user: `${p}-u`, tag: `${p}-t` };
    await ensurePikaTables(clients.dynamodb, tables);
    const at = (i: number) => `2026-01-01T00:00:${String(i).padStart(2, '0')}.000Z`;
    // Every session migrated: the filtered pass leaves them all out.
    const sessions: Item[] = Array.from({ length: 40 }, (_, i) => ({
      user_id: `u${i % 4}`,
      session_id: `s${i}`,
      chat_app_id: 'weather',
      last_update: at(i),
      source: 'user',
      chat_app_sk: `weather#user#${at(i)}`,
      user_type: 'internal-user',
    }));
    await putItems(clients.doc, tables.session, sessions);
    const queues = await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
    const state = new FileStateStore(join(mkdtempSync(join(tmpdir(), 'sf-race-')), 's.json'));
    const migrations = ['session-sort-key', 'session-user-type'];
    const enqueued: string[] = [];
    const runner = await startLocalRunner({
      clients,
      deps: { ...engineDeps(clients, { tables }), search: undefined, migrations },
      tables,
      queueName: `${p}-work`,
      dlqName: `${p}-dlq`,
      stateStore: state,
      heartbeatIntervalMs: 100,
      logger: { info: () => {}, warn: () => {}, error: () => {} },
      handlerLogLevel: 'SILENT',
      onWorkerResults: (_, event) => {
        for (const r of event.Records) {
          const m = decodeWorkMessage(r.body);
          if (m.kind === 'items') for (const i of m.items) enqueued.push(String(i.key.session_id));
        }
      },
    });
    try {
      await runner.waitForIdle(60_000);
      const heartbeat = consumerHeartbeatId(tables.session);
      const passDeps = (doc: DynamoDBDocumentClient): BackfillDeps => ({
        planner: PIKA,
        doc,
        dynamodb: clients.dynamodb,
        sqs: clients.sqs,
        queueUrl: queues.work,
        state,
        consumer: heartbeatProbe(state, heartbeat, { staleMs: CONSUMER_HEARTBEAT.staleAfterMs }),
        continuity: async (lastRun) =>
          continuityBreak(await state.getHeartbeat(heartbeat), lastRun, Date.now()),
      });
      const opts: BackfillOptions = {
        table: 'session',
        tableName: tables.session,
        searchEnabled: false,
        segments: 1,
        pageSize: 100,
        pollMs: 50,
      };
      // The first pass under this consumer runs without the filter (and repairs continuity).
      const first = await runBackfill(opts, passDeps(clients.doc));
      expect(first).toMatchObject({ outcome: 'finished', enqueued: 40, skippedSettled: 0 });
      await runner.waitForIdle(60_000);
      enqueued.length = 0;

      // The app changes s7 once the scan has read its page and before it decides: the read is
      // stale (s7 looks settled, and is left out), the consumer migrates the new version.
      const racing = {
        send: async (command: unknown) => {
          const out = await clients.doc.send(command as ScanCommand);
          if (command instanceof ScanCommand) {
            await clients.doc.send(
              new UpdateCommand({
                TableName: tables.session,
                Key: { user_id: 'u3', session_id: 's7' },
                UpdateExpression: 'SET last_update = :t',
                ExpressionAttributeValues: { ':t': '2026-06-01T00:00:00.000Z' },
              }),
            );
          }
          return out;
        },
      } as unknown as DynamoDBDocumentClient;
      const second = await runBackfill(opts, passDeps(racing));
      expect(second.filter).toBe(PLANNER_FILTER);
      expect(second).toMatchObject({ scanned: 40, enqueued: 0, skippedSettled: 40 });
      await runner.waitForIdle(60_000);
      expect(enqueued).toEqual([]);
      const s7 = await clients.doc.send(
        new GetCommand({ TableName: tables.session, Key: { user_id: 'u3', session_id: 's7' } }),
      );
      expect(s7.Item?.chat_app_sk).toBe('weather#user#2026-06-01T00:00:00.000Z');
      const report = await verifyAll({
        doc: clients.doc,
        planner: PIKA,
        tables,
        migrations,
        only: ['session'],
      });
      expect(report).toMatchObject({ checked: 40, pending: 0 });
    } finally {
      await runner.stop();
    }
  });
});
