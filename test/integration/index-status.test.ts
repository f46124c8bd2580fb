// `streamfill index status` against DynamoDB Local: a real GSI added with UpdateTable, its
// state from DescribeTable, and the count of items carrying its key, through the adapter and
// through the CLI as an operator runs it.
import {
  CreateTableCommand,
  UpdateTableCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { BatchWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import {
  describeIndex,
  IndexNotFoundError,
  scanCoverage,
  waitForIndex,
} from '../../lib/adapters/index-status.ts';
import { sessionTableDef } from '../support/session-stack.ts';
import { runCli, stderrBeyondTarget } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('index-status');

const streamfill = (...args: string[]) => runCli(args);

const INDEX = 'user-chat-app-sk-index';
let clients: Clients;
let table: string;

beforeAll(async () => {
  clients = makeClients();
  table = uniqueName('sessions');
  await clients.dynamodb.send(
    new CreateTableCommand(
      sessionTableDef(table, {
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    ),
  );
  await waitUntilTableExists({ client: clients.dynamodb, maxWaitTime: 60 }, { TableName: table });
  const items = [
    // 6 migrated, 3 legacy (base attributes, no key), 1 without the base attributes
    ...Array.from({ length: 6 }, (_, i) => ({
      user_id: `u${i % 2}`,
      session_id: `m${i}`,
      chat_app_id: 'app',
      last_update: '2026-01-01T00:00:00Z',
      chat_app_sk: 'app#user#2026-01-01T00:00:00Z',
      title: 'x'.repeat(200),
    })),
    ...Array.from({ length: 3 }, (_, i) => ({
      user_id: 'u9',
      session_id: `l${i}`,
      chat_app_id: 'app',
      last_update: '2026-01-01T00:00:00Z',
    })),
    { user_id: 'u9', session_id: 'bare' },
  ];
  await clients.doc.send(
    new BatchWriteCommand({
      RequestItems: { [table]: items.map((Item) => ({ PutRequest: { Item } })) },
    }),
  );
  await clients.dynamodb.send(
    new UpdateTableCommand({
      TableName: table,
      AttributeDefinitions: [
        { AttributeName: 'user_id', AttributeType: 'S' },
        { AttributeName: 'chat_app_sk', AttributeType: 'S' },
      ],
      GlobalSecondaryIndexUpdates: [
        {
          Create: {
            IndexName: INDEX,
            KeySchema: [
              { AttributeName: 'user_id', KeyType: 'HASH' },
              { AttributeName: 'chat_app_sk', KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        },
      ],
    }),
  );
});

afterAll(() => destroyClients(clients));

const SPEC = {
  baseAttributes: ['chat_app_id', 'last_update'],
  keyAttributes: ['chat_app_sk'],
  primaryKey: ['user_id', 'session_id'],
};

describe('index status adapter', () => {
  it('waits for the new index and describes its keys and projection', async () => {
    const d = await waitForIndex(clients.dynamodb, table, INDEX, { intervalMs: 200 });
    expect(d).toMatchObject({
      table,
      index: INDEX,
      status: 'ACTIVE',
      backfilling: false,
      keyAttributes: ['user_id', 'chat_app_sk'],
      tableKeyAttributes: ['user_id', 'session_id'],
      projection: { type: 'ALL' },
    });
  });

  it('names the indexes a table has when asked for one it lacks', async () => {
    const e = await describeIndex(clients.dynamodb, table, 'user-chat-app-index').catch((x) => x);
    expect(e).toBeInstanceOf(IndexNotFoundError);
    expect((e as Error).message).toBe(
      `table "${table}" has no global secondary index "user-chat-app-index" (it has: ${INDEX}); ` +
        "check --index, or deploy the 'expand' phase first",
    );
  });

  it('counts carrying vs. should with a projected segmented scan', async () => {
    const c = await scanCoverage(clients.doc, table, SPEC, { segments: 3, pageSize: 2 });
    expect(c).toMatchObject({ scanned: 10, should: 9, carrying: 6, missing: 3, extra: 0 });
    expect(c.samples.map((s) => s.session_id).sort()).toEqual(['l0', 'l1', 'l2']);
    // Only the requested attributes were read.
    expect(Object.keys(c.samples[0] ?? {}).sort()).toEqual(['session_id', 'user_id']);
  });
});

describe('streamfill index status', () => {
  const args = () => ['index', 'status', '--index', INDEX, '--table', table];

  it('exits 1 while items lack the key, with the counts and samples', async () => {
    const r = await streamfill(...args());
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`index ${INDEX} on ${table}: ACTIVE`);
    expect(r.stdout).toContain(
      'items scanned 10; with chat_app_id and last_update: 9; of those carrying user_id and chat_app_sk: 6; missing: 3',
    );
    expect(r.stdout).toContain(
      'index status: NOT READY: 3 of 9 items with chat_app_id and last_update lack user_id and chat_app_sk',
    );
    const json = await streamfill(...args(), '--json', '--key-attributes', 'chat_app_sk');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      status: 'ACTIVE',
      backfilling: false,
      keyAttributes: ['chat_app_sk'],
      coverage: { should: 9, carrying: 6, missing: 3 },
      ready: false,
    });
  });

  it('exits 0 with --wait once every item that should carry the key does', async () => {
    for (const session_id of ['l0', 'l1', 'l2']) {
      await clients.doc.send(
        new UpdateCommand({
          TableName: table,
          Key: { user_id: 'u9', session_id },
          UpdateExpression: 'SET chat_app_sk = :k',
          ExpressionAttributeValues: { ':k': 'app#user#2026-01-01T00:00:00Z' },
        }),
      );
    }
    const r = await streamfill(...args(), '--wait', '--interval', '1');
    expect(stderrBeyondTarget(r.stderr)).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`index status: READY: the app can read ${INDEX}`);
  });

  it('rejects a missing index, table or bad option with a specific message', async () => {
    const noIndex = await streamfill('index', 'status', '--index', 'nope', '--table', table);
    expect(noIndex.code).toBe(1);
    expect(noIndex.stderr).toContain(`table "${table}" has no global secondary index "nope"`);
    const noTable = await streamfill('index', 'status', '--index', INDEX, '--table', 'no-such');
    expect(noTable.code).toBe(1);
    expect(noTable.stderr).toContain('table "no-such" does not exist (set --table)');
    const bad = await streamfill(...args(), '--interval', 'soon');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--interval must be a non-negative number of seconds, got "soon"');
    const noFlag = await streamfill('index', 'status');
    expect(noFlag.code).toBe(1);
    expect(noFlag.stderr).toContain("required option '--index <name>' not specified");
  });
});
