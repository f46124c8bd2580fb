// `streamfill seed --preset bedrock-chat-v3` on the real binary against DynamoDB Local: the V2
// table and the two V3 tables with Bedrock Chat's real keys, indexes and NEW_IMAGE streams, and
// V2 items of every kind the V2 → V3 copy handles; the same data again for the same seed.
import { DescribeTableCommand, type TableDescription } from '@aws-sdk/client-dynamodb';
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import { resolveConfig } from '../../lib/core/config/resolve.ts';
import type { Item } from '../../lib/core/types.ts';
import { copyItems } from '../../lib/engine/copy-items.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import bedrock, { v2Kind, v3BotItem } from '../../lib/presets/bedrock-chat-v3.ts';
import { runCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('seed-bedrock');

const p = uniqueName('bedrock');
const names = { v2: `${p}-v2`, v3c: `${p}-v3c`, v3b: `${p}-v3b` };
const tableFlags = [
  ...['--table-name', `bedrock-v2-conversation=${names.v2}`],
  ...['--table-name', `bedrock-v3-conversation=${names.v3c}`],
  ...['--table-name', `bedrock-v3-bot=${names.v3b}`],
];
const seedArgs = ['seed', '--preset', 'bedrock-chat-v3', '--users', '12', '--json', ...tableFlags];

let clients: Clients;
let seeded: Record<string, unknown>;
beforeAll(async () => {
  clients = makeClients({});
  const out = await runCli(seedArgs);
  expect(out.code, out.stderr).toBe(0);
  seeded = JSON.parse(out.stdout) as Record<string, unknown>;
}, 120_000);
afterAll(() => destroyClients(clients));

const describeTable = async (TableName: string): Promise<TableDescription> =>
  (await clients.dynamodb.send(new DescribeTableCommand({ TableName }))).Table ?? {};
const keys = (schema: TableDescription['KeySchema']) =>
  (schema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`);
const indexes = (list: { IndexName?: string; KeySchema?: TableDescription['KeySchema'] }[] = []) =>
  Object.fromEntries(list.map((i) => [i.IndexName, keys(i.KeySchema)]));
async function scanAll(TableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients.doc.send(new ScanCommand({ TableName, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as Item[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

describe('seed --preset bedrock-chat-v3', () => {
  it('creates the V2 ConversationTable as V2 defines it', async () => {
    expect(seeded.createdTables).toEqual([names.v2, names.v3c, names.v3b]);
    const t = await describeTable(names.v2);
    expect(keys(t.KeySchema)).toEqual(['PK:HASH', 'SK:RANGE']);
    expect(indexes(t.GlobalSecondaryIndexes)).toEqual({
      SKIndex: ['SK:HASH'],
      PublicBotIdIndex: ['PublicBotId:HASH'],
    });
    expect(indexes(t.LocalSecondaryIndexes)).toEqual({
      LastBotUsedIndex: ['PK:HASH', 'LastBotUsed:RANGE'],
    });
    expect(t.StreamSpecification).toEqual({ StreamEnabled: true, StreamViewType: 'NEW_IMAGE' });
  });

  it('creates the V3 ConversationTable and BotTable with their keys, indexes and streams', async () => {
    const conv = await describeTable(names.v3c);
    expect(keys(conv.KeySchema)).toEqual(['PK:HASH', 'SK:RANGE']);
    expect(indexes(conv.GlobalSecondaryIndexes)).toEqual({ SKIndex: ['SK:HASH'] });
    expect(conv.StreamSpecification?.StreamViewType).toBe('NEW_IMAGE');

    const bot = await describeTable(names.v3b);
    expect(keys(bot.KeySchema)).toEqual(['PK:HASH', 'SK:RANGE']);
    expect(indexes(bot.LocalSecondaryIndexes)).toEqual({
      StarredIndex: ['PK:HASH', 'IsStarred:RANGE'],
      LastUsedTimeIndex: ['PK:HASH', 'LastUsedTime:RANGE'],
    });
    expect(indexes(bot.GlobalSecondaryIndexes)).toEqual({
      BotIdIndex: ['BotId:HASH'],
      SharedScopeIndex: ['SharedScope:HASH', 'SharedStatus:RANGE'],
      ItemTypeIndex: ['ItemType:HASH'],
      SyncStatusIndex: ['SyncStatus:HASH'],
    });
    expect(bot.StreamSpecification?.StreamViewType).toBe('NEW_IMAGE');
    // The V3 tables start empty: filling them is the copy's job.
    expect(await scanAll(names.v3c)).toEqual([]);
    expect(await scanAll(names.v3b)).toEqual([]);
  });

  it('writes V2 items of every kind, as many as it reports', async () => {
    const items = await scanAll(names.v2);
    const byKind = new Map<string | null, Item[]>();
    for (const i of items) byKind.set(v2Kind(i), [...(byKind.get(v2Kind(i)) ?? []), i]);
    expect([...byKind.keys()].sort()).toEqual(['alias', 'bot', 'conversation', 'related-document']);
    const bots = byKind.get('bot') ?? [];
    const aliases = byKind.get('alias') ?? [];
    expect(bots).toHaveLength(seeded.bots as number);
    expect(aliases).toHaveLength(seeded.aliases as number);
    expect(byKind.get('conversation')).toHaveLength(seeded.conversations as number);
    expect(byKind.get('related-document')).toHaveLength(seeded.relatedDocuments as number);

    // Published and private, pinned and not.
    expect(bots.some((b) => b.PublicBotId !== undefined)).toBe(true);
    expect(bots.some((b) => b.PublicBotId === undefined)).toBe(true);
    expect(bots.some((b) => b.IsPinned === true)).toBe(true);
    expect(bots.some((b) => b.IsPinned === false)).toBe(true);

    // Aliases whose bot is published (an owner exists), and others, as counted.
    const published = new Set(bots.flatMap((b) => (b.PublicBotId ? [b.PublicBotId] : [])));
    const owned = aliases.filter((a) => published.has(a.OriginalBotId as string));
    expect(owned.length).toBeGreaterThan(0);
    expect(aliases.length - owned.length).toBe(seeded.aliasesWithoutOwner);
    expect(seeded.aliasesWithoutOwner).toBeGreaterThan(0);
    // The alias id is its bot's id, as V2 stores it.
    for (const a of aliases)
      expect(String(a.SK).endsWith(`#${String(a.OriginalBotId)}`)).toBe(true);

    // A message tree rooted at "system", ending at LastMessageId.
    for (const c of byKind.get('conversation') ?? []) {
      const map = JSON.parse(c.MessageMap as string) as Record<string, { children: string[] }>;
      expect(map.system?.children.length).toBe(1);
      expect(map[c.LastMessageId as string]?.children).toEqual([]);
    }
  });

  it("finds an alias's owner through PublicBotIdIndex, the copy's lookup", async () => {
    const bots = (await scanAll(names.v2)).filter((i) => v2Kind(i) === 'bot' && i.PublicBotId);
    const bot = bots[0] as Item;
    const found = await clients.doc.send(
      new QueryCommand({
        TableName: names.v2,
        IndexName: 'PublicBotIdIndex',
        KeyConditionExpression: 'PublicBotId = :id',
        ExpressionAttributeValues: { ':id': bot.PublicBotId },
      }),
    );
    expect(found.Items?.map((i) => i.PK)).toEqual([bot.PK]);
  });

  it('writes the same data again for the same seed (tables kept)', async () => {
    const before = await scanAll(names.v2);
    const again = await runCli(seedArgs);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({
      ...seeded,
      createdTables: [],
      ms: expect.any(Number),
    });
    const sortKey = (i: Item) => `${String(i.PK)} ${String(i.SK)}`;
    const sorted = (xs: Item[]) => [...xs].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
    expect(sorted(await scanAll(names.v2))).toEqual(sorted(before));
  }, 120_000);

  it('copies the seeded bots, conversations and documents through the engine into the real V3 indexes', async () => {
    // Aliases read PublicBotIdIndex, which the engine's lookups are being taught; the other
    // three copies run here, so the V3 tables' key types accept what they derive.
    const stateTable = `${p}-state`;
    await ensureStateTable(clients.dynamodb, stateTable);
    const deps = engineDeps(clients, {
      tables: {
        'bedrock-v2-conversation': names.v2,
        'bedrock-v3-conversation': names.v3c,
        'bedrock-v3-bot': names.v3b,
      },
      planner: compilePlanner(resolveConfig(bedrock)),
      stateTable,
      searchIndex: 'unused',
      migrations: ['bedrock-v3-bots', 'bedrock-v3-conversations', 'bedrock-v3-related-documents'],
    });
    const source = await scanAll(names.v2);
    const results = await copyItems(
      'bedrock-v2-conversation',
      source.map((image) => ({ key: { PK: String(image.PK), SK: String(image.SK) }, image })),
      deps,
    );
    expect(results.filter((r) => r.outcome === 'failed' || r.outcome === 'malformed')).toEqual([]);

    const bots = source.filter((i) => v2Kind(i) === 'bot');
    const v3Bots = await scanAll(names.v3b);
    expect(v3Bots).toHaveLength(bots.length);
    const strip = (i: Item) =>
      Object.fromEntries(Object.entries(i).filter(([k]) => !k.startsWith('streamfill_')));
    const bySk = new Map(v3Bots.map((b) => [`${String(b.PK)} ${String(b.SK)}`, strip(b)]));
    for (const bot of bots) {
      const want = v3BotItem(bot);
      expect(bySk.get(`${String(want.PK)} ${String(want.SK)}`)).toEqual(want);
    }
    const starred = await clients.doc.send(
      new QueryCommand({
        TableName: names.v3b,
        IndexName: 'StarredIndex',
        KeyConditionExpression: 'PK = :pk AND IsStarred = :t',
        ExpressionAttributeValues: { ':pk': bots.find((b) => b.IsPinned)?.PK, ':t': 'TRUE' },
      }),
    );
    expect(starred.Items?.length).toBeGreaterThan(0);
    const shared = await clients.doc.send(
      new QueryCommand({
        TableName: names.v3b,
        IndexName: 'SharedScopeIndex',
        KeyConditionExpression: 'SharedScope = :all',
        ExpressionAttributeValues: { ':all': 'all' },
      }),
    );
    expect(shared.Items).toHaveLength(bots.filter((b) => b.PublicBotId !== undefined).length);

    const conversational = source.filter(
      (i) => v2Kind(i) === 'conversation' || v2Kind(i) === 'related-document',
    );
    const sortKey = (i: Item) => `${String(i.PK)} ${String(i.SK)}`;
    const sorted = (xs: Item[]) => [...xs].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : 1));
    expect(sorted((await scanAll(names.v3c)).map(strip))).toEqual(sorted(conversational));
  }, 120_000);

  it('refuses a DynamoDB endpoint that is not this machine, before writing anything', async () => {
    const out = await runCli(seedArgs, {
      ...process.env,
      AWS_ENDPOINT_URL_DYNAMODB: 'https://dynamodb.us-east-1.amazonaws.com',
    });
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('is not this machine');
  });

  it('refuses the Pika-only flags with the Bedrock preset', async () => {
    const out = await runCli([...seedArgs, '--sessions', '3']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toContain('--sessions only apply to the Pika data set');
  });
});
