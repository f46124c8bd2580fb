// `verify` and `redrive` on a config that is not Pika (test/support/orders.ts): declared table
// names, a number sort key, a TTL, a lookup read per page, an opt-in step's phase, and a parked
// orders item redriven once fixed. Real DynamoDB Local and ElasticMQ.
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { LookupReader } from '../../lib/adapters/lookup-reader.ts';
import { SearchIndex } from '../../lib/adapters/search-index.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { decodeWorkMessage } from '../../lib/core/work-message.ts';
import { redrive } from '../../lib/engine/redrive.ts';
import { isConverged, verifyAll } from '../../lib/engine/verify.ts';
import { putItems } from '../../local/pika-tables.ts';
import { runCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { createCustomersTable, createOrdersTable, ordersPlanner } from '../support/orders.ts';

useLocalServices('verify-orders');

const planner = ordersPlanner();
const NOW = 1_800_000_000;
let clients: Clients;
let tables: { orders: string; customers: string };
let queues: { work: string; dlq: string };

const done = (order_no: number, extra: Record<string, unknown> = {}) => ({
  tenant_id: 'eu-t1',
  order_no,
  status: 'paid',
  created_at: '2026-01-01',
  customer_id: 'c-gold',
  status_sk: 'paid#2026-01-01',
  customer_tier: 'gold',
  updated_at: '2026-01-02T00:00:00Z',
  ...extra,
});

beforeAll(async () => {
  clients = makeClients();
  const p = uniqueName('vo');
  tables = { orders: `${p}-orders`, customers: `${p}-customers` };
  await Promise.all([
    createOrdersTable(clients.dynamodb, tables.orders),
    createCustomersTable(clients.dynamodb, tables.customers),
  ]);
  queues = await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
  await putItems(clients.doc, tables.customers, [{ customer_id: 'c-gold', tier: 'gold' }]);
  await putItems(
    clients.doc,
    tables.orders,
    [
      done(1),
      // 2 and 10: a number sort key, not its text ("10" < "2").
      done(2, { status_sk: undefined, customer_tier: undefined }),
      // Migrated before the customer became gold: the lookup says it is stale.
      done(10, { customer_tier: 'standard' }),
      // No created_at: the derive says it is malformed.
      done(11, { created_at: undefined, status_sk: undefined }),
      // Expired: left to TTL, whatever it lacks.
      done(12, { status_sk: undefined, expires_at: NOW - 60 }),
      // A customer with no item: the lookup reads null, the derive defaults it. No status.
      done(13, {
        customer_id: 'c-new',
        customer_tier: 'standard',
        status: undefined,
        status_sk: 'new#2026-01-01',
      }),
    ].map((i) => Object.fromEntries(Object.entries(i).filter(([, v]) => v !== undefined))),
  );
});

afterAll(() => destroyClients(clients));

describe('verify on a declared orders table', () => {
  it('counts pending, malformed and expired items, keyed by the number sort key', async () => {
    const report = await verifyAll({ doc: clients.doc, planner, tables, nowSeconds: NOW });
    // orders is the first migrated table: its counts are the top level; no other table.
    expect(report).toMatchObject({ checked: 6, pending: 2, malformed: 1, expired: 1, tables: {} });
    expect(report.search).toBeNull();
    const samples = report.samples.map((s) => `${s.table} ${s.key}: ${s.reason}`).sort();
    expect(samples).toEqual(
      [
        'orders {tenant_id="eu-t1", order_no=10}: not migrated yet',
        'orders {tenant_id="eu-t1", order_no=11}: migration "order-status-sk": created_at is missing',
        'orders {tenant_id="eu-t1", order_no=2}: not migrated yet',
      ].sort(),
    );
    // Each migration planned alone: the opt-in region step is still to do on every live item,
    // the one the other migration finds malformed included (it reads no created_at).
    expect(report.phases).toEqual({ 'order-status-sk': 2, 'order-region': 5 });
    expect(isConverged(report)).toBe(false);
  });

  it('the opt-in step counts as pending only once it must hold', async () => {
    const report = await verifyAll({
      doc: clients.doc,
      planner,
      tables,
      nowSeconds: NOW,
      migrations: planner.allMigrations,
    });
    // 2 and 10 as before, plus 1 and 13 that only lack their region.
    expect(report).toMatchObject({ checked: 6, pending: 4, malformed: 1, expired: 1 });
  });

  it('an item whose lookup cannot be read is pending, naming the lookup, never defaulted', async () => {
    const report = await verifyAll({
      doc: clients.doc,
      planner,
      tables,
      nowSeconds: NOW,
      lookups: new LookupReader(clients.doc, {
        ...tables,
        customers: `${tables.customers}-absent`,
      }),
    });
    // Every item that needs a customer (all but the malformed and the expired ones).
    expect(report).toMatchObject({ checked: 6, pending: 4, malformed: 1, expired: 1 });
    const reasons = report.samples.filter((s) => s.reason.startsWith('lookup'));
    expect(reasons).toHaveLength(4);
    expect(reasons[0]!.reason).toContain('lookup customer-tier not available');
    expect(reasons[0]!.reason).toContain(`${tables.customers}-absent`);
  });

  it('refuses a table the config does not migrate, naming the migrated ones', async () => {
    await expect(
      verifyAll({ doc: clients.doc, planner, tables, only: ['customers'] }),
    ).rejects.toThrow('"customers" is not a migrated table of the config (migrated: orders)');
  });
});

describe('verify of a declared search on orders', () => {
  it('compares each document with the declared fields: a stale or extra keyword is pending', async () => {
    const search = clients.search!;
    const index = uniqueName('vo-orders');
    await search.indices.create({ index });
    const spec = planner.searchSpecFor('orders', planner.allMigrations)!;
    const searchIndex = new SearchIndex(search, index, spec);
    await searchIndex.ensureMapping();
    // Order 1 as the migration writes it; order 13 has no status, yet its document keeps one.
    const put = (id: string, body: Record<string, string>) =>
      search.index({ index, id, body, refresh: true });
    await put('eu-t1#1', { status_keyword: 'paid', tier_keyword: 'gold' });
    await put('eu-t1#13', { status_keyword: 'paid', tier_keyword: 'standard' });
    const report = await verifyAll({
      doc: clients.doc,
      planner,
      tables,
      nowSeconds: NOW,
      search: searchIndex,
    });
    // Only items settled in DynamoDB (1 and 13) have their document checked.
    expect(report.search).toMatchObject({ checked: 2, pending: 1, missing: 0, mapping: [] });
    expect(report.samples).toContainEqual({
      table: 'search',
      key: 'eu-t1#13',
      reason: expect.stringContaining('keyword fields missing, stale or extra'),
    });
    expect(report).toMatchObject({ checked: 6, pending: 2, malformed: 1, expired: 1 });
  });
});

describe('redrive of a parked orders item', () => {
  it('stays parked until asked, then is re-read by its number key and re-enqueued', async () => {
    await new DeadLetters(clients.sqs, queues.dlq).park([
      {
        source: 'backfill-worker',
        reason: 'created_at is missing',
        table: tables.orders,
        key: { tenant_id: 'eu-t1', order_no: 11 },
        record: {},
      },
    ]);
    const deps = { ...clients, planner, tables, workQueueUrl: queues.work, dlqUrl: queues.dlq };
    const kept = await redrive(deps);
    expect(kept.byKind.parked).toEqual({ found: 1, moved: 0, kept: 1 });
    expect(kept.entries[0]?.detail).toContain('malformed {tenant_id="eu-t1", order_no=11}');

    // The operator fixed the item; now it is carried to the worker.
    await putItems(clients.doc, tables.orders, [done(11, { status_sk: undefined })]);
    const moved = await redrive(deps, { includeMalformed: true });
    expect(moved.entries[0]?.detail).toContain('1 item(s) re-enqueued');
    expect(moved.byKind.parked).toEqual({ found: 1, moved: 1, kept: 0 });
    expect(moved.itemsEnqueued).toBe(1);
    expect(moved.entries[0]).toMatchObject({
      table: tables.orders,
      keys: [{ tenant_id: 'eu-t1', order_no: 11 }],
    });
    const res = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queues.work, MaxNumberOfMessages: 10 }),
    );
    expect(res.Messages).toHaveLength(1);
    const message = decodeWorkMessage(res.Messages![0]!.Body!);
    expect(message).toMatchObject({
      kind: 'items',
      table: 'orders',
      scannedFor: { migrations: ['order-status-sk', 'order-keywords'] },
    });
    if (message.kind !== 'items') throw new Error('not an items message');
    expect(message.items[0]?.key).toEqual({ tenant_id: 'eu-t1', order_no: 11 });
    expect(message.items[0]?.inputs).toMatchObject({ created_at: '2026-01-01', status: 'paid' });
  });

  it('a parked item of a table the config does not migrate stays, naming the migrated tables', async () => {
    const dlq = (
      await ensureQueues(clients.sqs, {
        queueName: uniqueName('vo-work2'),
        dlqName: uniqueName('vo-dlq2'),
      })
    ).dlq;
    await new DeadLetters(clients.sqs, dlq).park([
      {
        source: 'backfill-worker',
        reason: 'bad',
        table: tables.customers,
        key: { customer_id: 'c-gold' },
        record: {},
      },
    ]);
    const r = await redrive(
      { ...clients, planner, tables, workQueueUrl: queues.work, dlqUrl: dlq },
      { includeMalformed: true },
    );
    expect(r.byKind.parked).toEqual({ found: 1, moved: 0, kept: 1 });
    expect(r.entries[0]?.detail).toContain(
      `table ${tables.customers} is not a migrated table under the configured names (orders → ${tables.orders}`,
    );
  });
});

describe('streamfill verify --config', () => {
  const CONFIG = 'test/fixtures/configs/orders.config.ts';
  // No search endpoint: only the DynamoDB side is judged here.
  const env = { ...process.env, SEARCH_ENDPOINT: '' };
  const args = () => [
    'verify',
    '--config',
    CONFIG,
    '--table-name',
    `orders=${tables.orders}`,
    '--table-name',
    `customers=${tables.customers}`,
    '--dlq-name',
    uniqueName('vo-none'),
  ];

  it('verifies the declared table; --table takes declared names only', async () => {
    const r = await runCli([...args(), '--json', '--table', 'orders'], env);
    expect(r.code, r.stderr).toBe(1); // items are pending
    const report = JSON.parse(r.stdout) as { checked: number; tables: object; samples: unknown[] };
    expect(report.checked).toBe(6);
    expect(report.tables).toEqual({});
    expect(report.samples).toContainEqual({
      table: 'orders',
      key: '{tenant_id="eu-t1", order_no=2}',
      reason: 'not migrated yet',
    });
    const human = await runCli(args(), env);
    expect(human.stdout).toMatch(/^│ orders /m);
    const bad = await runCli([...args(), '--table', tables.orders], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      `--table must name migrated tables of the config (orders, all), got "${tables.orders}"`,
    );
  });
});
