// The Bedrock Chat V2 application writer against DynamoDB Local: the V2 table holds exactly what
// its model says it wrote (seeded items edited and deleted, new ones put), and start/stop at a
// rate performs actions until stopped, counting each.
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import type { Item } from '../../lib/core/types.ts';
import { BEDROCK_OPERATIONS, BedrockAppWriter } from '../../local/bedrock-app-writer.ts';
import { seedBedrock } from '../../local/bedrock-seed.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('bedrock-app-writer');

let clients: Clients;
beforeAll(() => {
  clients = makeClients({});
});
afterAll(() => destroyClients(clients));

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

const byKey = (items: Item[]) =>
  Object.fromEntries(items.map((i) => [`${String(i.PK)} ${String(i.SK)}`, i]));

async function seeded() {
  const p = uniqueName('bedrock-app');
  const tables = { v2Conversation: `${p}-v2`, v3Conversation: `${p}-v3c`, v3Bot: `${p}-v3b` };
  const data = await seedBedrock(
    { dynamodb: clients.dynamodb, doc: clients.doc, tables },
    { users: 6, seed: 4 },
  );
  const items = [...data.bots, ...data.aliases, ...data.conversations, ...data.relatedDocuments];
  return { table: tables.v2Conversation, items };
}

describe('BedrockAppWriter', () => {
  it('leaves the V2 table holding exactly what its model says it wrote', async () => {
    const { table, items } = await seeded();
    const app = new BedrockAppWriter({ doc: clients.doc, table, seeded: items, seed: 11 });
    for (let i = 0; i < 250; i++) await app.step();

    const after = await scanAll(table);
    expect(byKey(after)).toEqual(byKey(app.model.all()));
    // It changed the seeded data, not only added to it.
    const before = byKey(items);
    const changed = Object.entries(before).filter(
      ([k, v]) => JSON.stringify(byKey(after)[k]) !== JSON.stringify(v),
    );
    expect(changed.length).toBeGreaterThan(5);
    expect(Object.keys(before).some((k) => !(k in byKey(after)))).toBe(true);
    const total = BEDROCK_OPERATIONS.reduce((n, op) => n + app.counts[op], 0);
    expect(total).toBe(250);
    expect(app.counts.requests).toBeGreaterThanOrEqual(250);
    // A published bot has PublicBotId = its id in the table, and the index serves it.
    const published = after.filter((i) => i.PublicBotId !== undefined);
    expect(published.length).toBeGreaterThan(0);
    for (const b of published)
      expect(String(b.SK).endsWith(`#BOT#${String(b.PublicBotId)}`)).toBe(true);
  });

  it('writes at a rate until stopped, then reports its counts and writes no more', async () => {
    const { table, items } = await seeded();
    const app = new BedrockAppWriter({ doc: clients.doc, table, seeded: items, seed: 12 });
    app.start(40);
    await new Promise((r) => setTimeout(r, 1_500));
    const counts = await app.stop();
    const total = BEDROCK_OPERATIONS.reduce((n, op) => n + counts[op], 0);
    expect(total).toBeGreaterThan(10);
    expect(total).toBeLessThanOrEqual(40 * 1.5 + 1);
    const after = await scanAll(table);
    await new Promise((r) => setTimeout(r, 300));
    expect(await scanAll(table)).toHaveLength(after.length);
    expect(byKey(after)).toEqual(byKey(app.model.all()));
  });
});
