// Copies on DynamoDB Local: one source item fans out into items of two tables with new keys, each
// write one transaction conditioned on the source. Each guarantee is broken on purpose: an app
// update between our read and our write (same second included), a delete during the scan, a
// target key that changes, a target another source owns, two writers of one source racing.
import { DeleteCommand, GetCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { CopyWriter, ledgerKey } from '../../lib/adapters/copy-writer.ts';
import { COPY_ATTRIBUTES } from '../../lib/core/config/plan-copy.ts';
import { keyId } from '../../lib/core/keys.ts';
import type { Item } from '../../lib/core/types.ts';
import { copyItems } from '../../lib/engine/copy-items.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import type { EngineDeps } from '../../lib/engine/migrate-items.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { createCopyTables, planner } from '../support/v2-copy.ts';

useLocalServices('copy-writer');

let clients: Clients;
let deps: EngineDeps;
const tables = { v2: uniqueName('v2'), bots: uniqueName('bots'), convs: uniqueName('convs') };
const stateTable = uniqueName('state');

beforeAll(async () => {
  clients = makeClients();
  await createCopyTables(clients.dynamodb, tables, stateTable);
  deps = engineDeps(clients, { tables, planner, stateTable, searchIndex: 'unused' });
});
afterAll(() => destroyClients(clients));

const put = (table: keyof typeof tables, item: Item) =>
  clients.doc.send(new PutCommand({ TableName: tables[table], Item: item }));
const get = async (table: keyof typeof tables, PK: string, SK: string) =>
  (
    await clients.doc.send(
      new GetCommand({ TableName: tables[table], Key: { PK, SK }, ConsistentRead: true }),
    )
  ).Item;
const readSource = (PK: string, SK: string) => get('v2', PK, SK);
const copyOf = async (PK: string, SK: string) => {
  const image = await readSource(PK, SK);
  return (await copyItems('v2', [{ key: { PK, SK }, image }], deps))[0]!;
};
const allOf = async (table: keyof typeof tables) =>
  (await clients.doc.send(new ScanCommand({ TableName: tables[table], ConsistentRead: true })))
    .Items ?? [];

describe('a copy', () => {
  it('fans one source item out into new keys, each target stamped with its source', async () => {
    await put('v2', { PK: 'u1', SK: 'u1#BOT#b1', Title: 'Helper', IsPinned: true, Shared: 'u2' });
    expect((await copyOf('u1', 'u1#BOT#b1')).outcome).toBe('migrated');
    const bot = await get('bots', 'u1', 'BOT#b1');
    expect(bot).toMatchObject({ Title: 'Helper', IsStarred: 'TRUE' });
    expect(bot?.[COPY_ATTRIBUTES.source]).toBe(keyId('v2', { PK: 'u1', SK: 'u1#BOT#b1' }));
    expect(bot?.[COPY_ATTRIBUTES.copy]).toBe('v2-to-v3');
    expect(typeof bot?.[COPY_ATTRIBUTES.version]).toBe('string');
    expect(await get('bots', 'u2', 'ALIAS#b1')).toMatchObject({ Title: 'Helper' });
    // Again: the ledger says nothing changed, nothing is written.
    expect((await copyOf('u1', 'u1#BOT#b1')).outcome).toBe('unchanged');
  });

  it('deletes a target the source no longer derives, and every target once the source is gone', async () => {
    await put('v2', { PK: 'u3', SK: 'u3#BOT#b3', Title: 'T', Shared: 'u4' });
    await copyOf('u3', 'u3#BOT#b3');
    expect(await get('bots', 'u4', 'ALIAS#b3')).toBeDefined();
    await put('v2', { PK: 'u3', SK: 'u3#BOT#b3', Title: 'T', Shared: 'u5' });
    expect((await copyOf('u3', 'u3#BOT#b3')).outcome).toBe('migrated');
    expect(await get('bots', 'u4', 'ALIAS#b3')).toBeUndefined();
    expect(await get('bots', 'u5', 'ALIAS#b3')).toBeDefined();

    await clients.doc.send(
      new DeleteCommand({ TableName: tables.v2, Key: { PK: 'u3', SK: 'u3#BOT#b3' } }),
    );
    const gone = await copyItems(
      'v2',
      [{ key: { PK: 'u3', SK: 'u3#BOT#b3' }, image: undefined }],
      deps,
    );
    expect(gone[0]?.outcome).toBe('migrated');
    expect(await get('bots', 'u3', 'BOT#b3')).toBeUndefined();
    expect(await get('bots', 'u5', 'ALIAS#b3')).toBeUndefined();
    const ledger = await clients.doc.send(
      new GetCommand({
        TableName: stateTable,
        Key: ledgerKey('v2-to-v3', keyId('v2', { PK: 'u3', SK: 'u3#BOT#b3' })),
      }),
    );
    expect(ledger.Item).toBeUndefined();
  });

  it('never lands a derivation of a version the app has since replaced, even within the same second', async () => {
    await put('v2', { PK: 'u6', SK: 'u6#CONV#c1', Title: 'first' });
    const v1 = await readSource('u6', 'u6#CONV#c1');
    // Two app updates within the same second; the newest record is copied first.
    await put('v2', { PK: 'u6', SK: 'u6#CONV#c1', Title: 'second' });
    await put('v2', { PK: 'u6', SK: 'u6#CONV#c1', Title: 'third' });
    expect((await copyOf('u6', 'u6#CONV#c1')).outcome).toBe('migrated');
    // The lagging page (read before both updates) comes last: it loses.
    const late = await copyItems('v2', [{ key: { PK: 'u6', SK: 'u6#CONV#c1' }, image: v1 }], deps);
    expect(late[0]?.outcome).toBe('conflict');
    expect((await get('convs', 'u6', 'CONV#c1'))?.Title).toBe('third');
  });

  it('never recreates the targets of a source deleted after the scan read it', async () => {
    await put('v2', { PK: 'u7', SK: 'u7#CONV#c2', Title: 'x' });
    const scanned = await readSource('u7', 'u7#CONV#c2');
    await clients.doc.send(
      new DeleteCommand({ TableName: tables.v2, Key: { PK: 'u7', SK: 'u7#CONV#c2' } }),
    );
    const r = await copyItems(
      'v2',
      [{ key: { PK: 'u7', SK: 'u7#CONV#c2' }, image: scanned }],
      deps,
    );
    expect(r[0]?.outcome).toBe('conflict');
    expect(await get('convs', 'u7', 'CONV#c2')).toBeUndefined();
  });

  it('never overwrites a target another source (or the new app) owns', async () => {
    await put('convs', { PK: 'u8', SK: 'CONV#c3', Title: 'written by the V3 app' });
    await put('v2', { PK: 'u8', SK: 'u8#CONV#c3', Title: 'old' });
    const r = await copyOf('u8', 'u8#CONV#c3');
    expect(r.outcome).toBe('malformed');
    expect(r.reason).toMatch(/not this source's copy/);
    expect((await get('convs', 'u8', 'CONV#c3'))?.Title).toBe('written by the V3 app');
  });

  it('parks a source its derive refuses, with the reason, and writes nothing', async () => {
    await put('v2', { PK: 'u9', SK: 'u9#BOT#b9' });
    const r = await copyOf('u9', 'u9#BOT#b9');
    expect(r.outcome).toBe('malformed');
    expect(r.reason).toMatch(/Title is missing/);
    expect(await get('bots', 'u9', 'BOT#b9')).toBeUndefined();
  });

  it('ends with the targets of the last version when writers of one source race', async () => {
    const SK = 'u10#BOT#b10';
    const images: Item[] = [];
    for (let i = 0; i < 6; i++) {
      await put('v2', { PK: 'u10', SK, Title: `v${i}`, Shared: `s${i % 3}` });
      images.push((await readSource('u10', SK))!);
    }
    // Every version at once, as redelivered records and a lagging worker page would.
    const results = await Promise.all(
      images.map((image) => copyItems('v2', [{ key: { PK: 'u10', SK }, image }], deps)),
    );
    expect(results.flat().filter((r) => r.outcome === 'failed')).toEqual([]);
    expect((await get('bots', 'u10', 'BOT#b10'))?.Title).toBe('v5');
    const aliases = (await allOf('bots')).filter((b) => String(b.SK) === 'ALIAS#b10');
    expect(aliases.map((a) => [a.PK, a.Title])).toEqual([['s2', 'v5']]);
  });
});

describe('the ledger', () => {
  it('keeps every target known when the source returns to an older version while a writer of it waits (A-B-A)', async () => {
    const SK = 'u11#BOT#b11';
    const key = { PK: 'u11', SK };
    const at = (Shared: string) => ({ ...key, Title: 't', Shared });
    await put('v2', at('a'));
    await copyOf('u11', SK);
    // Writer W derives version "b" and stalls after reading the ledger ({BOT, alias a}).
    await put('v2', at('b'));
    const b = (await readSource('u11', SK))!;
    let stalled: (() => void) | undefined;
    const released = new Promise<void>((resolve) => (stalled = resolve));
    let paused = false;
    const slow = new CopyWriter(clients.doc, tables, stateTable, (t) => planner.table(t).key, {
      afterLedgerRead: async () => {
        if (paused) return;
        paused = true;
        await released;
      },
    });
    const w = copyItems('v2', [{ key, image: b }], { ...deps, copies: slow });
    await new Promise((r) => setTimeout(r, 200));
    // Meanwhile: "b" is copied by another writer, the app moves to "c" (copied), then back to "b".
    await copyOf('u11', SK);
    await put('v2', at('c'));
    await copyOf('u11', SK);
    await put('v2', at('b'));
    stalled!();
    expect((await w)[0]?.outcome).not.toBe('failed');
    await copyOf('u11', SK);
    const aliases = (await allOf('bots')).filter((x) => String(x.SK) === 'ALIAS#b11');
    expect(aliases.map((x) => x.PK)).toEqual(['b']);
  });
});
