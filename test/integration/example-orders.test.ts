// examples/orders as its users get it: the package packed and installed into an empty directory
// beside aws-cdk-lib, the example's files copied in, then the installed `streamfill` runs the
// example's own config on the local services — `config check`, `run` with live application
// writes during `backfill`, `verify` at 0 pending (items and search documents) — and the example's
// CDK app synthesizes, its bundled consumer running on the Lambda's Node 22.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { ensureLambdaNode } from '../../local/lambda-node.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { installPacked, ROOT } from '../support/packed.ts';

useLocalServices('example-orders');

const EXAMPLE = join(ROOT, 'examples/orders');
const ORDERS = 300;

let dir: string;
let clients: Clients;
const p = uniqueName('ex');
const names = {
  orders: `${p}-orders`,
  customers: `${p}-customers`,
  index: `${p}-orders`,
  queue: `${p}-work`,
  dlq: `${p}-dlq`,
  state: `${p}-state`,
};
// What every command of the example gets: its physical tables, queues, state table and index.
const settings = [
  '--table-name',
  `orders=${names.orders}`,
  '--table-name',
  `customers=${names.customers}`,
  '--queue-name',
  names.queue,
  '--dlq-name',
  names.dlq,
  '--search-index',
  names.index,
];

/** The installed `streamfill` (node runs it: a signal reaches the command, not an npx wrapper). */
const bin = () => join(dir, 'node_modules/.bin/streamfill');

/** The installed bin, asynchronously (the `run` child keeps being read meanwhile). */
const cli = (args: string[], timeoutMs = 180_000) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin(), ...args], {
      cwd: dir,
      env: { ...process.env, STREAMFILL_STATE_TABLE: names.state },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });

const isoAt = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s)).toISOString();

beforeAll(async () => {
  clients = makeClients();
  dir = mkdtempSync(join(tmpdir(), 'streamfill-example-'));
  installPacked(dir, 'example-orders');
  for (const f of readdirSync(EXAMPLE).filter((f) => f !== 'package.json'))
    cpSync(join(EXAMPLE, f), join(dir, f));

  // The app's tables, from the example's own definitions, and its history.
  const { createTableInput } = (await import(join(dir, 'tables.mjs'))) as {
    createTableInput: (
      name: string,
      physical: string,
    ) => ConstructorParameters<typeof CreateTableCommand>[0];
  };
  for (const t of ['orders', 'customers'] as const) {
    await clients.dynamodb.send(new CreateTableCommand(createTableInput(t, names[t])));
    await waitUntilTableExists(
      { client: clients.dynamodb, maxWaitTime: 60 },
      { TableName: names[t] },
    );
  }
  const customers = Array.from({ length: 20 }, (_, i) => ({
    customer_id: `c${i}`,
    ...(i % 3 === 0 ? {} : { tier: i % 2 ? 'gold' : 'silver' }),
  }));
  const orders = Array.from({ length: ORDERS }, (_, i) => ({
    tenant_id: `t${i % 4}`,
    order_no: 1000 + i,
    ...(i % 5 === 0 ? {} : { status: 'placed' }),
    created_at: isoAt(i),
    updated_at: isoAt(i),
    customer_id: `c${i % 25}`, // c20..c24 do not exist: the default tier
  }));
  for (const [table, items] of [
    [names.customers, customers],
    [names.orders, orders],
  ] as const) {
    for (let i = 0; i < items.length; i += 25) {
      await clients.doc.send(
        new BatchWriteCommand({
          RequestItems: {
            [table]: items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } })),
          },
        }),
      );
    }
  }
  // The app's search index, with each order's document (its own indexer writes them).
  await clients.search!.indices.create({ index: names.index });
  await clients.search!.helpers.bulk({
    datasource: orders,
    onDocument: (o) => ({ index: { _index: names.index, _id: `${o.tenant_id}/${o.order_no}` } }),
    refreshOnCompletion: true,
  });
}, 600_000);

afterAll(() => {
  destroyClients(clients);
  rmSync(dir, { recursive: true, force: true });
});

describe('examples/orders from the packed tarball', () => {
  it('config check passes the example config', async () => {
    const r = await cli(['config', 'check', ...settings.slice(0, 4)]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('order-status-sk');
  });

  it(
    'run + backfill under live application writes converge: verify finds nothing pending',
    { timeout: 300_000 },
    async () => {
      const run: ChildProcess = spawn(
        process.execPath,
        [bin(), 'run', ...settings, '--starting-position', 'LATEST'],
        {
          cwd: dir,
          env: { ...process.env, STREAMFILL_STATE_TABLE: names.state },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let runErr = '';
      run.stderr?.on('data', (d: Buffer) => (runErr += d.toString()));
      try {
        // The application keeps changing orders (and their documents) while the scan runs.
        let writes = 0;
        let stop = false;
        const app = (async () => {
          while (!stop) {
            const i = writes++ % ORDERS;
            const key = { tenant_id: `t${i % 4}`, order_no: 1000 + i };
            const updated = isoAt(10_000 + writes);
            // Its indexer writes the whole document first (a full reindex drops fields it does
            // not know; after it, the stream record of the item's write adds the keyword).
            await clients.search!.index({
              index: names.index,
              id: `${key.tenant_id}/${key.order_no}`,
              body: { ...key, status: `shipped-${writes}`, updated_at: updated },
            });
            await clients.doc.send(
              new UpdateCommand({
                TableName: names.orders,
                Key: key,
                UpdateExpression: 'SET #s = :s, updated_at = :u',
                ExpressionAttributeNames: { '#s': 'status' },
                ExpressionAttributeValues: { ':s': `shipped-${writes}`, ':u': updated },
              }),
            );
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        const backfill = await cli(['backfill', '--table', 'all', ...settings], 150_000);
        stop = true;
        await app;
        expect(backfill.status, backfill.stdout + backfill.stderr + runErr).toBe(0);
        expect(writes).toBeGreaterThan(10);

        // The live path catches up with the last application writes; verify decides.
        let last = { status: 1 as number | null, stdout: '', stderr: '' };
        for (let attempt = 0; attempt < 20; attempt++) {
          last = await cli(['verify', '--json', ...settings]);
          if (last.status === 0) break;
          await new Promise((r) => setTimeout(r, 2_000));
        }
        expect(last.status, last.stdout + last.stderr + runErr).toBe(0);
        const report = JSON.parse(last.stdout) as {
          checked: number;
          pending: number;
          search: { pending: number; missing: number };
        };
        expect(report).toMatchObject({ checked: ORDERS, pending: 0 });
        expect(report.search).toMatchObject({ pending: 0, missing: 0 });
      } finally {
        const closed = new Promise((r) => run.once('close', r));
        run.kill('SIGINT');
        const killer = setTimeout(() => run.kill('SIGKILL'), 15_000);
        await closed;
        clearTimeout(killer);
      }
      // Derived values, computed independently of the engine.
      const item = (
        await clients.doc.send(
          new (await import('@aws-sdk/lib-dynamodb')).GetCommand({
            TableName: names.orders,
            Key: { tenant_id: 't1', order_no: 1001 + 4 * 50 },
            ConsistentRead: true,
          }),
        )
      ).Item!;
      expect(item.status_sk).toBe(`${String(item.status ?? 'new')}#${String(item.created_at)}`);
      expect(['gold', 'silver', 'standard']).toContain(item.customer_tier);
    },
  );

  it('the CDK app synthesizes and its bundled consumer runs the example config on Node 22', async () => {
    const out = join(dir, 'cdk.out');
    const synth = spawnSync('node', ['cdk-app.mjs'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, CDK_OUTDIR: out },
      timeout: 180_000,
    });
    expect(synth.status, synth.stderr).toBe(0);
    const template = JSON.parse(readFileSync(join(out, 'Orders.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
    const fns = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    const consumer = fns.find((f) =>
      JSON.stringify(f.Properties.Environment ?? {}).includes('STREAMFILL_TABLES'),
    )!;
    const env = (consumer.Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    const code = consumer.Properties.Code as { S3Key: string };
    const bundle = join(out, `asset.${code.S3Key.replace(/\.zip$/, '')}`, 'index.mjs');
    const node = await ensureLambdaNode();
    // Without STREAMFILL_TABLES the bundle refuses to start, naming the tables its config
    // declares: the config it runs is the example's.
    const probe = `const { handler } = await import(${JSON.stringify(bundle)});
try { await handler({ Records: [] }, {}); console.log('started'); } catch (e) { console.log(String(e.message)); }`;
    const r = spawnSync(node, ['--input-type=module', '-e', probe], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'us-east-1',
        ...(typeof env.STREAMFILL_CONFIG_FINGERPRINT === 'string' && {
          STREAMFILL_CONFIG_FINGERPRINT: env.STREAMFILL_CONFIG_FINGERPRINT,
        }),
      },
      timeout: 60_000,
    });
    expect(r.stdout, r.stdout + r.stderr).toContain(
      'STREAMFILL_TABLES is required: a JSON object naming the physical table of orders, customers',
    );
  });
});
