// A config that is not Pika's: orders keyed by tenant_id (S) + order_no (N), each given the
// tier of its customer through a lookup into a second table. backfill scans it onto the real
// work queue, the real worker plans each item with the same planner, and every order converges.
// The sort key is a number: the canary's nonce is a number too.
import { canaryNonce } from '../../lib/core/canary.ts';
import {
  canaryFit,
  removeGateCanaries,
  writeGateCanary,
} from '../../lib/engine/backfill-canary.ts';
import { CreateTableCommand, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ReceiveMessageCommand, DeleteMessageBatchCommand } from '@aws-sdk/client-sqs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillWorker } from '../../handlers/backfill-worker.ts';
import { FileStateStore } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { heartbeatProbe } from '../../lib/adapters/consumer-probe.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { LookupReader } from '../../lib/adapters/lookup-reader.ts';
import { CONSUMER_HEARTBEAT, consumerHeartbeatId } from '../../lib/config/defaults.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import { resolveConfig } from '../../lib/core/config/resolve.ts';
import { runBackfill } from '../../lib/engine/backfill.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { defineConfig, defineLookup, defineMigration, defineTable } from '../../lib/index.ts';
import { createLambdaContext } from '../../local/event-source/lambda-context.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { sqsEvent } from '../support/work-queue.ts';

useLocalServices('backfillorders');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const orders = defineTable({ name: 'orders', key: ['tenant_id', 'order_no'] });
const customers = defineTable({ name: 'customers', key: ['customer_id'] });
const customerOf = defineLookup({
  name: 'customer',
  table: customers,
  key: (o) => (typeof o.customer_id === 'string' ? { customer_id: o.customer_id } : null),
  attributes: ['tier'],
});
const orderTier = defineMigration({
  name: 'order-tier',
  table: orders,
  inputs: ['customer_id', 'total'],
  writes: ['tier', 'total_cents'],
  lookups: [customerOf],
  derive: (o, { lookup }) => ({
    tier: lookup(customerOf)?.tier ?? 'unknown',
    total_cents: Math.round(Number(o.total) * 100),
  }),
});
const planner = compilePlanner(
  resolveConfig(defineConfig({ tables: [orders, customers], migrations: [orderTier] })),
);

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

/** Runs the worker on the work queue's messages until it is empty; returns the messages seen. */
async function drainThroughWorker(url: string, tables: Record<string, string>): Promise<number> {
  const handler = createBackfillWorker({
    deps: engineDeps(clients, { tables, planner }),
    logger: new Logger({ logLevel: 'SILENT' }),
  });
  let seen = 0;
  for (;;) {
    const r = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    const messages = r.Messages ?? [];
    if (!messages.length) return seen;
    seen += messages.length;
    const res = await handler(
      sqsEvent(messages.map((m) => m.Body as string)),
      createLambdaContext({ functionName: 'orders-worker' }),
    );
    expect(res.batchItemFailures).toEqual([]);
    await clients.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: url,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
      }),
    );
  }
}

describe('backfill of a declared, non-Pika table', () => {
  it('scans orders (S + N key) to the worker, which derives each tier through the lookup', async () => {
    const p = uniqueName('orders');
    const tables = { orders: `${p}-orders`, customers: `${p}-customers` };
    await createTable(tables.orders, [
      ['tenant_id', 'S'],
      ['order_no', 'N'],
    ]);
    await createTable(tables.customers, [['customer_id', 'S']]);
    for (let c = 0; c < 5; c++) {
      await clients.doc.send(
        new PutCommand({
          TableName: tables.customers,
          Item: { customer_id: `c${c}`, tier: c % 2 ? 'gold' : 'silver' },
        }),
      );
    }
    const N = 120;
    for (let i = 0; i < N; i++) {
      await clients.doc.send(
        new PutCommand({
          TableName: tables.orders,
          // c5 has no customer item: the lookup finds nothing and the derive says 'unknown'.
          Item: { tenant_id: `t${i % 3}`, order_no: i, customer_id: `c${i % 6}`, total: i + 0.5 },
        }),
      );
    }
    const queues = await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
    const state = new FileStateStore(join(mkdtempSync(join(tmpdir(), 'sf-orders-')), 's.json'));
    const now = Date.now() + 60_000;
    await state.putHeartbeat({
      component: consumerHeartbeatId(tables.orders),
      lastBatchAtMs: now,
      lagMs: 0,
      caughtUp: true,
      updatedAtMs: now,
    });

    // A dry run plans with the lookups read for real, and writes nothing.
    const dry = await runBackfill(
      {
        table: 'orders',
        tableName: tables.orders,
        searchEnabled: false,
        dryRun: true,
        segments: 2,
      },
      {
        planner,
        doc: clients.doc,
        dynamodb: clients.dynamodb,
        sqs: clients.sqs,
        queueUrl: queues.work,
        state,
        lookups: new LookupReader(clients.doc, tables),
      },
    );
    expect(dry.dryRunCounts).toMatchObject({ wouldWrite: N, malformed: 0 });
    const sample = dry.samples![0]!;
    const customer = Number(
      String(
        (await clients.doc.send(new GetCommand({ TableName: tables.orders, Key: sample.key }))).Item
          ?.customer_id,
      ).slice(1),
    );
    const wantTier = customer === 5 ? 'unknown' : customer % 2 ? 'gold' : 'silver';
    expect(sample.changes.find((c) => c.attribute === 'tier')?.after).toBe(wantTier);

    const logs: string[] = [];
    const summary = await runBackfill(
      { table: 'orders', tableName: tables.orders, searchEnabled: false, segments: 3, pollMs: 50 },
      {
        planner,
        doc: clients.doc,
        dynamodb: clients.dynamodb,
        sqs: clients.sqs,
        queueUrl: queues.work,
        state,
        consumer: heartbeatProbe(state, consumerHeartbeatId(tables.orders), {
          staleMs: CONSUMER_HEARTBEAT.staleAfterMs,
        }),
      },
      { log: (l) => logs.push(l) },
    );
    expect(summary).toMatchObject({
      outcome: 'finished',
      table: 'orders',
      scanned: N,
      enqueued: N,
      migrations: ['order-tier'],
    });
    expect(summary.projection.sort()).toEqual(
      ['customer_id', 'order_no', 'tenant_id', 'tier', 'total', 'total_cents'].sort(),
    );
    // order_no is a number: the canary's nonce is one too, and reads back as the consumer
    // records it (String of the sort key value).
    const gate = { doc: clients.doc, table: orders, tableName: tables.orders, state };
    const fit = await canaryFit(clients.dynamodb, gate);
    expect(fit).toEqual({ sortKeyType: 'N' });
    const canary = await writeGateCanary(gate, Date.now(), 'N');
    const written = (
      await clients.doc.send(
        new GetCommand({ TableName: tables.orders, Key: canary.key, ConsistentRead: true }),
      )
    ).Item!;
    expect(typeof written.order_no).toBe('number');
    expect(canaryNonce(orders, written)).toBe(canary.nonce);
    await removeGateCanaries(gate, [canary]);
    expect(logs.some((l) => /no canary gate/.test(l))).toBe(false);

    expect(await drainThroughWorker(queues.work, tables)).toBeGreaterThan(0);
    const after =
      (await clients.doc.send(new ScanCommand({ TableName: tables.orders, ConsistentRead: true })))
        .Items ?? [];
    expect(after).toHaveLength(N);
    for (const o of after) {
      const c = Number(String(o.customer_id).slice(1));
      expect(o.tier).toBe(c === 5 ? 'unknown' : c % 2 ? 'gold' : 'silver');
      expect(o.total_cents).toBe(Math.round((Number(o.order_no) + 0.5) * 100));
    }

    // A second pass enqueues every item again (no attribute filter); the worker writes nothing.
    const again = await runBackfill(
      {
        table: 'orders',
        tableName: tables.orders,
        searchEnabled: false,
        segments: 1,
        restart: true,
      },
      {
        planner,
        doc: clients.doc,
        dynamodb: clients.dynamodb,
        sqs: clients.sqs,
        queueUrl: queues.work,
        state,
      },
    );
    expect(again.enqueued).toBe(N);
  });

  it('refuses a table that is not migrated, naming the declared migrated tables', async () => {
    const state = new FileStateStore(join(mkdtempSync(join(tmpdir(), 'sf-orders-')), 's.json'));
    await expect(
      runBackfill(
        { table: 'customers', tableName: 'x-customers', searchEnabled: false },
        {
          planner,
          doc: clients.doc,
          dynamodb: clients.dynamodb,
          sqs: clients.sqs,
          queueUrl: 'q',
          state,
        },
      ),
    ).rejects.toThrow(
      '--table customers: not a migrated table of the config (migrated tables: orders)',
    );
  });
});
