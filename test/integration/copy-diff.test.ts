// The copy diff on DynamoDB Local: a V2-like copy (test/support/v2-copy.ts) plus an alias copy
// whose lookup may find nothing, copied through the real pipeline, then broken on purpose — a
// target edited or deleted by hand, a source deleted or changed without its stream record
// processed, an app item at a wanted key, a source the derive refuses — each found by its reason,
// and `verify` counting the same. Then each is mended and the diff is clean again.
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';

import { defineConfig, defineCopy, defineLookup } from '../../lib/core/config/define.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import { resolveConfig } from '../../lib/core/config/resolve.ts';
import { keyId } from '../../lib/core/keys.ts';
import type { Item } from '../../lib/core/types.ts';
import { copiesDone, diffCopies, type CopyDiffReport } from '../../lib/engine/copy-diff.ts';
import { copyItems } from '../../lib/engine/copy-items.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import type { EngineDeps } from '../../lib/engine/migrate-items.ts';
import { isConverged, verifyAll } from '../../lib/engine/verify.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { createCopyTables, bots, convs, copy, v2 } from '../support/v2-copy.ts';

useLocalServices('copy-diff');

// An alias `<user>#ALIAS#<bot id>` (Owner: the bot's user) copies only when its bot exists.
const aliasBot = defineLookup({
  name: 'alias-bot',
  table: v2,
  key: (item) => {
    const [, kind, id] = String(item.SK).split('#');
    return kind === 'ALIAS' && typeof item.Owner === 'string'
      ? { PK: item.Owner, SK: `${item.Owner}#BOT#${id}` }
      : null;
  },
  attributes: ['Title'],
});
const aliases = defineCopy({
  name: 'v2-aliases',
  from: v2,
  to: [bots],
  inputs: ['Owner'],
  lookups: [aliasBot],
  derive: (item, ctx) => {
    const [, kind, id] = String(item.SK).split('#');
    if (kind !== 'ALIAS') return [];
    const bot = ctx.lookup(aliasBot);
    return bot
      ? [{ table: bots, item: { PK: item.PK, SK: `ALIASED#${id}`, Owner: item.Owner } }]
      : [];
  },
});
const planner = compilePlanner(
  resolveConfig(defineConfig({ tables: [v2, bots, convs], migrations: [copy, aliases] })),
);

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

type T = keyof typeof tables;
const put = (table: T, item: Item) =>
  clients.doc.send(new PutCommand({ TableName: tables[table], Item: item }));
const del = (table: T, PK: string, SK: string) =>
  clients.doc.send(new DeleteCommand({ TableName: tables[table], Key: { PK, SK } }));
/** The pipeline copies a source as it is now (or, gone, deletes its targets). */
const copyNow = async (PK: string, SK: string) => {
  const { Item } = await clients.doc.send(
    new GetCommand({
      TableName: tables.v2,
      Key: { PK, SK },
      ConsistentRead: true,
    }),
  );
  return (await copyItems('v2', [{ key: { PK, SK }, image: Item }], deps))[0]!;
};
const diff = () =>
  diffCopies({ doc: clients.doc, planner, tables, lookups: deps.lookups, segments: 2 });
const src = (PK: string, SK: string) => keyId('v2', { PK, SK });
const tgt = (table: string, PK: string, SK: string) => keyId(table, { PK, SK });
/** Each copy's samples as `reason source → target: detail`, sorted. */
const findings = (r: CopyDiffReport) =>
  Object.values(r)
    .flatMap((c) => c.samples)
    .map((s) => `${s.reason} ${s.source} → ${s.target ?? '-'}: ${s.detail}`)
    .sort();

const SOURCES: Item[] = [
  { PK: 'u1', SK: 'u1#BOT#b1', Title: 'Helper', IsPinned: true, Shared: 'u2' },
  { PK: 'u1', SK: 'u1#CONV#c1', Title: 'Chat one' },
  { PK: 'u1', SK: 'u1#CONV#c2', Title: 'Chat two' },
  { PK: 'u3', SK: 'u3#CONV#c3', Title: 'Chat three' },
  { PK: 'u4', SK: 'u4#ALIAS#b1', Owner: 'u1' },
  // Its bot u1#BOT#b9 does not exist: skipped, with why.
  { PK: 'u5', SK: 'u5#ALIAS#b9', Owner: 'u1' },
];

describe('the copy diff', () => {
  it('is clean after the pipeline copied every source, listing the skipped alias', async () => {
    for (const item of SOURCES) await put('v2', item);
    for (const item of SOURCES) {
      const r = await copyNow(item.PK as string, item.SK as string);
      expect(['migrated', 'unchanged']).toContain(r.outcome);
    }
    // The application's own item in a target table: never an orphan.
    await put('convs', { PK: 'app', SK: 'CONV#own', Title: 'written by the V3 app' });
    const r = await diff();
    expect(copiesDone(r)).toBe(true);
    expect(r['v2-to-v3']).toMatchObject({
      sources: SOURCES.length,
      targets: 5,
      stamped: 5,
      pending: 0,
      skipped: 0,
      orphan: 0,
    });
    expect(r['v2-aliases']).toMatchObject({ targets: 1, stamped: 1, skipped: 1, pending: 0 });
    expect(findings(r)).toEqual([
      `skipped ${src('u5', 'u5#ALIAS#b9')} → -: lookup "alias-bot" found no ${src('u1', 'u1#BOT#b9')}`,
    ]);
  });

  it('finds each thing broken on purpose by its reason', async () => {
    // A target edited by hand, one deleted by hand.
    await clients.doc.send(
      new UpdateCommand({
        TableName: tables.convs,
        Key: { PK: 'u1', SK: 'CONV#c1' },
        UpdateExpression: 'SET Title = :t',
        ExpressionAttributeValues: { ':t': 'edited' },
      }),
    );
    await del('convs', 'u1', 'CONV#c2');
    // A source deleted, its REMOVE not processed: its target is left behind.
    await del('v2', 'u3', 'u3#CONV#c3');
    // A source changed (shared with u9 now), not processed: the old alias is an orphan, the new
    // one pending.
    await put('v2', { PK: 'u1', SK: 'u1#BOT#b1', Title: 'Helper', IsPinned: true, Shared: 'u9' });
    // The app wrote the key a new source wants.
    await put('convs', { PK: 'u6', SK: 'CONV#c6', Title: 'the app was first' });
    await put('v2', { PK: 'u6', SK: 'u6#CONV#c6', Title: 'from V2' });
    // A bot without the Title the derive needs.
    await put('v2', { PK: 'u7', SK: 'u7#BOT#b7' });

    const r = await diff();
    expect(copiesDone(r)).toBe(false);
    // The changed bot's own target is pending too: its source version moved on.
    expect(r['v2-to-v3']).toMatchObject({
      pending: 4,
      orphan: 2,
      conflict: 1,
      malformed: 1,
      skipped: 0,
    });
    expect(r['v2-aliases']).toMatchObject({ pending: 0, orphan: 0, skipped: 1 });
    expect(findings(r)).toEqual(
      [
        `conflict ${src('u6', 'u6#CONV#c6')} → ${tgt('convs', 'u6', 'CONV#c6')}: holds an item without streamfill_source (the application's own): never overwritten`,
        `malformed ${src('u7', 'u7#BOT#b7')} → -: copy "v2-to-v3": Title is missing`,
        `orphan ${src('u1', 'u1#BOT#b1')} → ${tgt('bots', 'u2', 'ALIAS#b1')}: its source no longer derives it`,
        `orphan ${src('u3', 'u3#CONV#c3')} → ${tgt('convs', 'u3', 'CONV#c3')}: its source no longer exists`,
        `pending ${src('u1', 'u1#BOT#b1')} → ${tgt('bots', 'u1', 'BOT#b1')}: target differs in streamfill_source_version`,
        `pending ${src('u1', 'u1#BOT#b1')} → ${tgt('bots', 'u9', 'ALIAS#b1')}: target missing`,
        `pending ${src('u1', 'u1#CONV#c1')} → ${tgt('convs', 'u1', 'CONV#c1')}: target differs in Title`,
        `pending ${src('u1', 'u1#CONV#c2')} → ${tgt('convs', 'u1', 'CONV#c2')}: target missing`,
        `skipped ${src('u5', 'u5#ALIAS#b9')} → -: lookup "alias-bot" found no ${src('u1', 'u1#BOT#b9')}`,
      ].sort(),
    );
  });

  it('makes verify not converge on the same findings', async () => {
    const report = await verifyAll({
      doc: clients.doc,
      planner,
      tables,
      lookups: deps.lookups,
      segments: 2,
    });
    expect(report.copies['v2-to-v3']).toMatchObject({ pending: 4, orphan: 2, conflict: 1 });
    expect(report.copies['v2-aliases']?.skipped).toBe(1);
    expect(isConverged(report)).toBe(false);
  });

  it('is clean again once each is mended, the skipped alias still listed', async () => {
    // The pipeline re-derives the changed and the deleted sources.
    expect((await copyNow('u1', 'u1#BOT#b1')).outcome).toBe('migrated');
    expect((await copyNow('u3', 'u3#CONV#c3')).outcome).toBe('migrated');
    // The app's item gives way (a decision by hand); the bot gets its Title.
    await del('convs', 'u6', 'CONV#c6');
    expect((await copyNow('u6', 'u6#CONV#c6')).outcome).toBe('migrated');
    await put('v2', { PK: 'u7', SK: 'u7#BOT#b7', Title: 'fixed' });
    expect((await copyNow('u7', 'u7#BOT#b7')).outcome).toBe('migrated');
    // Targets changed by hand are not the pipeline's to see (its ledger says they are written):
    // the pipeline leaves them, `verify --repair` rewrites them through the copy's transaction.
    expect((await copyNow('u1', 'u1#CONV#c1')).outcome).toBe('unchanged');
    expect((await diff())['v2-to-v3']?.pending).toBe(2);
    const repaired = await verifyAll({
      doc: clients.doc,
      planner,
      tables,
      lookups: deps.lookups,
      repair: true,
      ...(deps.copies && { copies: deps.copies }),
    });
    expect(repaired.copies['v2-to-v3']).toMatchObject({ repaired: 2, pending: 0 });
    expect(isConverged(repaired)).toBe(true);

    const r = await diff();
    expect(findings(r)).toEqual([
      `skipped ${src('u5', 'u5#ALIAS#b9')} → -: lookup "alias-bot" found no ${src('u1', 'u1#BOT#b9')}`,
    ]);
    expect(copiesDone(r)).toBe(true);
    const report = await verifyAll({ doc: clients.doc, planner, tables, lookups: deps.lookups });
    expect(isConverged(report)).toBe(true);
  });

  it('refuses an unknown copy, and a config without copies, before reading anything', async () => {
    await expect(
      diffCopies({ doc: clients.doc, planner, tables, lookups: deps.lookups, only: ['nope'] }),
    ).rejects.toThrow(/"nope" is not a copy of the config \(copies: v2-to-v3, v2-aliases\)/);
    const noCopies = compilePlanner(resolveConfig(defineConfig({ tables: [v2], migrations: [] })));
    await expect(
      diffCopies({ doc: clients.doc, planner: noCopies, tables, lookups: deps.lookups }),
    ).rejects.toThrow(/declares no copies/);
  });
});
