// A copy kept live from the source's stream by the local runner's consumer (the library form of
// `streamfill run`), on a NEW_IMAGE stream like Bedrock Chat V2's: creates, two updates within
// one second, a change of a target's key and deletes all reach the targets, and a REMOVE (which
// carries no old image) deletes every target through the ledger.
import { DeleteCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { COPY_ATTRIBUTES } from '../../lib/core/config/plan-copy.ts';
import type { Item } from '../../lib/core/types.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { createCopyTables, planner } from '../support/v2-copy.ts';

useLocalServices('copy-stream');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

let clients: Clients;
const tables = { v2: uniqueName('v2s'), bots: uniqueName('botss'), convs: uniqueName('convss') };
const stateTable = uniqueName('states');

beforeAll(async () => {
  clients = makeClients({ searchEndpoint: undefined });
  await createCopyTables(clients.dynamodb, tables, stateTable, 'v2');
});
afterAll(() => destroyClients(clients));

const put = (Item: Item) => clients.doc.send(new PutCommand({ TableName: tables.v2, Item }));
const del = (SK: string) =>
  clients.doc.send(new DeleteCommand({ TableName: tables.v2, Key: { PK: 'u1', SK } }));
const contents = async (table: 'bots' | 'convs') =>
  (
    (await clients.doc.send(new ScanCommand({ TableName: tables[table], ConsistentRead: true })))
      .Items ?? []
  )
    .map((i) => `${String(i.PK)}/${String(i.SK)}=${String(i.Title)}`)
    .sort();

it('keeps the targets equal to the derivation of every live change, deletes included', async () => {
  const { search: _none, ...deps } = engineDeps(clients, {
    tables,
    planner,
    stateTable,
    searchIndex: 'unused',
  });
  const runner = await startLocalRunner({
    clients,
    deps,
    tables,
    queueName: uniqueName('copyq'),
    dlqName: uniqueName('copydlq'),
    startingPosition: 'TRIM_HORIZON',
    worker: false,
    handlerLogLevel: 'SILENT',
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  });
  try {
    await put({ PK: 'u1', SK: 'u1#BOT#b1', Title: 'one', Shared: 'u2' });
    await put({ PK: 'u1', SK: 'u1#CONV#c1', Title: 'hello' });
    await put({ PK: 'u1', SK: 'u1#CONV#c2', Title: 'bye' });
    // Two updates within one second: the second is what stays.
    await put({ PK: 'u1', SK: 'u1#BOT#b1', Title: 'two', Shared: 'u3' });
    await put({ PK: 'u1', SK: 'u1#BOT#b1', Title: 'three', Shared: 'u3' });
    await del('u1#CONV#c2');
    const want = {
      bots: ['u1/BOT#b1=three', 'u3/ALIAS#b1=three'],
      convs: ['u1/CONV#c1=hello'],
    };
    const deadline = Date.now() + 60_000;
    let got = { bots: [] as string[], convs: [] as string[] };
    while (Date.now() < deadline) {
      got = { bots: await contents('bots'), convs: await contents('convs') };
      if (JSON.stringify(got) === JSON.stringify(want)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(got).toEqual(want);

    // The bot deleted: the REMOVE record has only the key; the ledger names both targets.
    await del('u1#BOT#b1');
    const gone = Date.now() + 60_000;
    while (Date.now() < gone && (await contents('bots')).length > 0)
      await new Promise((r) => setTimeout(r, 250));
    expect(await contents('bots')).toEqual([]);
    const [conv] =
      (await clients.doc.send(new ScanCommand({ TableName: tables.convs }))).Items ?? [];
    expect(conv?.[COPY_ATTRIBUTES.source]).toBe('v2:{"PK":"u1","SK":"u1#CONV#c1"}');
  } finally {
    await runner.stop();
  }
}, 150_000);
