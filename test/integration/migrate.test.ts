// The foundation end to end on the real local services: seed legacy data, migrate it through
// the one historic pass (backfill → work queue → worker, as `streamfill run` runs it) and the
// one writer, and prove the invariants (exact outcomes, no lost update, no resurrection,
// idempotence, additive-only search mapping).
import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { makeClients, destroyClients, type Clients } from '../../lib/adapters/clients.ts';
import { DynamoWriter } from '../../lib/adapters/dynamo-writer.ts';
import { MappingConflictError, SearchIndex } from '../../lib/adapters/search-index.ts';
import { LookupReader } from '../../lib/adapters/lookup-reader.ts';
import type { Item } from '../../lib/core/types.ts';
import type { PikaTableNames } from '../../local/pika-tables.ts';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { runBackfill } from '../../lib/engine/backfill.ts';
import { bundledPlanner } from '../../lib/engine/bundled-config.ts';
import {
  countOutcomes,
  migrateItems,
  type EngineDeps,
  type ItemResult,
} from '../../lib/engine/migrate-items.ts';
import { verifyAll } from '../../lib/engine/verify.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { seed, type SeedResult } from '../../local/seed.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import {
  PIKA_SEARCH_SPEC as SEARCH_SPEC,
  pikaMigrations,
  planWithLookups,
  withContract,
  PIKA,
} from '../support/pika.ts';

useLocalServices('migrate');

const SESSION_MIGRATIONS = pikaMigrations('session');

const NOW = Math.floor(Date.now() / 1000);
let clients: Clients;
let tables: PikaTableNames;
let index: string;
let deps: EngineDeps & { search: SearchIndex };
let seeded: SeedResult;

beforeAll(async () => {
  clients = makeClients();
  const p = uniqueName('t');
  tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
  index = uniqueName('session');
  seeded = await seed(
    {
      dynamodb: clients.dynamodb,
      doc: clients.doc,
      tables,
      search: { client: clients.search!, index },
    },
    {
      sessions: 1000,
      users: 80,
      migratedFraction: 0.2,
      malformed: 5,
      tags: true,
      unindexed: 10,
      nowSeconds: NOW,
    },
  );
  deps = {
    planner: bundledPlanner(),
    writer: new DynamoWriter(clients.doc, tables),
    lookups: new LookupReader(clients.doc, tables),
    search: new SearchIndex(clients.search!, index, SEARCH_SPEC),
  };
  await deps.search.ensureMapping();
});

afterAll(() => destroyClients(clients));

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * One historic pass over `table` on the real path: `backfill` scans and enqueues every item
 * (no filter), the worker of `streamfill run` migrates them. Fresh queues and state table per
 * pass; the stream consumer starts at LATEST (the seed is history). Returns the worker's
 * outcome counts.
 */
async function historicPass(
  table: 'session' | 'tag',
  migrations?: readonly string[],
): Promise<{ scanned: number; counts: Record<string, number>; problems: ItemResult[] }> {
  const p = uniqueName('pass');
  await ensureStateTable(clients.dynamodb, `${p}-state`);
  const state = new DynamoStateStore(clients.doc, `${p}-state`);
  const results: ItemResult[] = [];
  const runner = await startLocalRunner({
    clients,
    tables,
    queueName: `${p}-work`,
    dlqName: `${p}-dlq`,
    deps: { ...deps, ...(migrations && { migrations }) },
    stateStore: state,
    startingPosition: 'LATEST',
    latestPositionDelayMs: 0,
    handlerLogLevel: 'SILENT',
    logger: quiet,
    onWorkerResults: (summary) => results.push(...summary.items),
  });
  try {
    const summary = await runBackfill(
      {
        table,
        tableName: tables[table],
        searchEnabled: true,
        filter: false,
        ...(migrations && { migrations }),
      },
      {
        planner: bundledPlanner(),
        doc: clients.doc,
        dynamodb: clients.dynamodb,
        sqs: clients.sqs,
        queueUrl: runner.queues.work,
        state,
      },
    );
    expect(summary.outcome).toBe('finished');
    // Every item enqueued has its worker result; then the stream records of the worker's own
    // writes are read. (Not runner.waitForIdle: the keyword updates of sessions without a
    // document wait in the queue as delayed repair tasks, by design.)
    const deadline = Date.now() + 60_000;
    while (results.length < summary.enqueued && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(results).toHaveLength(summary.enqueued);
    await Promise.all([...runner.streams.values()].map((m) => m.waitForIdle(60_000)));
    return {
      scanned: summary.scanned,
      counts: countOutcomes(results),
      problems: results.filter((r) => r.reason),
    };
  } finally {
    await runner.stop();
  }
}

const get = async (table: string, Key: Item): Promise<Item | undefined> =>
  (await clients.doc.send(new GetCommand({ TableName: table, Key, ConsistentRead: true }))).Item;

describe('historic migration of 1,000 legacy sessions', () => {
  it('yields exact outcome counts and the right derived values', async () => {
    const before = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables,
      search: deps.search,
    });
    expect(before).toMatchObject({ checked: 1000, pending: 795, malformed: 5 });
    expect(before.samples.length).toBeGreaterThan(0);
    const res = await historicPass('session');
    expect(res.scanned).toBe(1000);
    const { 'search-migrated': searchMigrated = 0, 'search-unchanged': searchUnchanged = 0 } =
      res.counts;
    expect(res.counts).toEqual({
      migrated: 795,
      unchanged: 200,
      malformed: 5,
      // The 10 unindexed sessions have no document: never created, a delayed repair task each.
      'search-repair-queued': 10,
      // Every indexed session's keywords: by the worker, or first by the stream consumer reading
      // the worker's own write (then the worker finds them in place).
      'search-migrated': searchMigrated,
      ...(searchUnchanged && { 'search-unchanged': searchUnchanged }),
    });
    expect(searchMigrated + searchUnchanged).toBe(985);
    for (const p of res.problems) expect(p.reason).toMatch(/field "(chat_app_id|last_update)"/);

    // Derived values computed independently of the planner.
    const userTypes = new Map(
      seeded.users.map((u) => [u.user_id as string, u.user_type as string | undefined]),
    );
    const malformed = new Set(seeded.sessions.slice(-5).map((s) => s.session_id));
    for (const s of seeded.sessions) {
      const item = await get(tables.session, { user_id: s.user_id, session_id: s.session_id });
      if (malformed.has(s.session_id)) {
        expect(item).toEqual(s); // untouched
        continue;
      }
      const source = (s.source as string | undefined) ?? 'user';
      const kind = source === 'component' ? 'component' : 'user';
      expect(item?.source).toBe(source);
      expect(item?.chat_app_sk).toBe(`${s.chat_app_id}#${kind}#${s.last_update}`);
      expect(item?.user_type).toBe(
        s.user_type ?? userTypes.get(s.user_id as string) ?? 'external-user',
      );
      expect(item?.last_update).toBe(s.last_update); // inputs never rewritten
    }
  });

  it('is idempotent: a second pass writes nothing', async () => {
    const res = await historicPass('session');
    expect(res.counts.migrated ?? 0).toBe(0);
    expect(res.counts.unchanged).toBe(995);
    expect(res.counts['search-migrated'] ?? 0).toBe(0);
  });

  it('verify reports nothing pending, the malformed items and the missing documents', async () => {
    const report = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables,
      search: deps.search,
    });
    expect(report).toMatchObject({
      checked: 1000,
      pending: 0,
      malformed: 5,
      search: { pending: 0, missing: 10 },
    });
  });

  it('puts the keyword values into OpenSearch', async () => {
    const s = seeded.sessions[500] as Item;
    const doc = await clients.search!.get({ index, id: s.session_id as string });
    const src = doc.body._source as Record<string, unknown>;
    expect(src.source_keyword).toBe((s.source as string | undefined) ?? 'user');
    expect(src.user_type_keyword).toBeTypeOf('string');
    expect(src.title).toBe(s.title); // a partial update: the rest of the document stays
    const mapping = await clients.search!.indices.getMapping({ index });
    const props = (
      mapping.body as Record<string, { mappings: { properties: Record<string, { type: string }> } }>
    )[index]!.mappings.properties;
    for (const f of ['invocation_mode_keyword', 'user_type_keyword', 'source_keyword'])
      expect(props[f]?.type).toBe('keyword');
    expect(props.user_type?.type).toBe('text'); // the original field is left as it was
  });
});

describe('the one writer under concurrent application writes', () => {
  const fresh = async (id: string): Promise<Item> => {
    const item: Item = {
      user_id: 'user-00001',
      session_id: id,
      chat_app_id: 'app-1',
      last_update: '2026-01-01T00:00:00.000Z',
      exp_date_unix_seconds: NOW + 3600,
    };
    await clients.doc.send(new PutCommand({ TableName: tables.session, Item: item }));
    return item;
  };
  const plan = (item: Item) => planWithLookups(deps, 'session', item, SESSION_MIGRATIONS, NOW);

  it('an application write between plan and apply is a conflict, and the application value survives', async () => {
    const item = await fresh('race-update');
    const planned = await plan(item);
    await clients.doc.send(
      new UpdateCommand({
        TableName: tables.session,
        Key: { user_id: item.user_id, session_id: item.session_id },
        UpdateExpression: 'SET last_update = :t, #s = :s',
        ExpressionAttributeNames: { '#s': 'source' },
        ExpressionAttributeValues: { ':t': '2026-02-02T00:00:00.000Z', ':s': 'component' },
      }),
    );
    const res = await deps.writer.apply(planned.change!);
    expect(res.outcome).toBe('conflict');
    const after = await get(tables.session, { user_id: item.user_id, session_id: item.session_id });
    expect(after).toMatchObject({ last_update: '2026-02-02T00:00:00.000Z', source: 'component' });
    expect(after?.chat_app_sk).toBeUndefined(); // no stale key derived from the old inputs
  });

  it('a delete between plan and apply is missing, and the item is not recreated', async () => {
    const item = await fresh('race-delete');
    const planned = await plan(item);
    const Key = { user_id: item.user_id, session_id: item.session_id };
    await clients.doc.send(new DeleteCommand({ TableName: tables.session, Key }));
    expect((await deps.writer.apply(planned.change!)).outcome).toBe('missing');
    expect(await get(tables.session, Key)).toBeUndefined();
  });

  it('expired sessions are left to TTL', async () => {
    const item: Item = { ...(await fresh('expired')), exp_date_unix_seconds: NOW - 10 };
    await clients.doc.send(new PutCommand({ TableName: tables.session, Item: item }));
    const [r] = await migrateItems('session', [item], { ...deps, nowSeconds: () => NOW });
    expect(r?.outcome).toBe('expired');
    expect(
      (await get(tables.session, { user_id: item.user_id, session_id: item.session_id }))
        ?.chat_app_sk,
    ).toBeUndefined();
  });
});

describe('tags', () => {
  it('item 7: expand sets usage_mode and keeps chat_app_id; the opt-in contract removes it; verify reports each phase', async () => {
    const res = await historicPass('tag');
    expect(res.counts).toEqual({ migrated: seeded.tags.length });
    const withAppId = seeded.tags.filter((t) => t.chat_app_id !== undefined).length;
    expect(withAppId).toBeGreaterThan(0);
    for (const t of seeded.tags) {
      const item = await get(tables.tag, { scope: t.scope, tag: t.tag });
      const global = t.scope === 'pika' && ['chart', 'image', 'prompt'].includes(t.tag as string);
      expect(item?.usage_mode).toBe(global ? 'global' : 'chat-app');
      expect(item?.chat_app_id).toEqual(t.chat_app_id); // a 0.4 app still reads it
    }
    const expanded = await verifyAll({ planner: PIKA, doc: clients.doc, tables, only: ['tag'] });
    expect(expanded.tables.tag).toMatchObject({
      pending: 0,
      phases: { 'tag-usage-mode': 0, 'tag-usage-mode-contract': withAppId },
    });
    const contract = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables,
      only: ['tag'],
      migrations: withContract(true),
    });
    expect(contract.tables.tag?.pending).toBe(withAppId);
    const res2 = await historicPass('tag', withContract(true));
    expect(res2.counts.migrated).toBe(withAppId);
    for (const t of seeded.tags) {
      const item = await get(tables.tag, { scope: t.scope, tag: t.tag });
      expect(item).not.toHaveProperty('chat_app_id');
    }
    const done = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables,
      only: ['tag'],
      migrations: withContract(true),
    });
    expect(done.tables.tag).toMatchObject({
      pending: 0,
      phases: { 'tag-usage-mode': 0, 'tag-usage-mode-contract': 0 },
    });
  });
});

describe('lookups', () => {
  it('read the distinct keys of a batch in one strongly consistent BatchGetItem', async () => {
    const lookups = new LookupReader(clients.doc, tables);
    const live: EngineDeps = { ...deps, lookups };
    const items: Item[] = seeded.sessions.slice(0, 200).map(({ user_type: _typed, ...s }) => ({
      ...s,
      session_id: `${String(s.session_id)}-batch`,
    }));
    const users = new Set(items.map((i) => i.user_id));
    expect(users.size).toBeGreaterThan(1);
    expect(users.size).toBeLessThanOrEqual(100);
    const results = await migrateItems('session', items, live);
    expect(lookups.requests).toBe(1); // 200 items, their distinct users: one request
    expect(results.every((r) => r.outcome !== 'failed')).toBe(true);
  });

  it('item 6: a failed lookup fails only the items that needed it, never defaulting', async () => {
    const broken: EngineDeps = {
      ...deps,
      lookups: new LookupReader(clients.doc, { ...tables, user: `${tables.user}-absent` }),
    };
    const item: Item = { ...(seeded.sessions[300] as Item), session_id: 'lookup-fail' };
    delete item.user_type;
    const typed: Item = {
      ...(seeded.sessions[301] as Item),
      session_id: 'lookup-not-needed',
      user_type: 'internal-user',
    };
    delete typed.source;
    await clients.doc.send(new PutCommand({ TableName: tables.session, Item: typed }));
    const [failed, fine] = await migrateItems('session', [item, typed], broken);
    expect(failed).toMatchObject({ outcome: 'failed' });
    expect(failed?.reason).toContain(`${tables.user}-absent`);
    expect(fine).toMatchObject({ outcome: 'migrated' });
  });
});

describe('item 4: a user created just before their first session', () => {
  it('item 4: user created, then immediately a session: the session gets the user type, not external-user', async () => {
    const lookups = new LookupReader(clients.doc, tables);
    const live: EngineDeps = { ...deps, lookups };
    const userId = 'brand-new-user';
    // An earlier record looked this user up before the user existed (the consumer is warm).
    const early = await lookups.read(new Map([['user', [{ user_id: userId }]]]));
    expect(early.read.get('user')).toEqual([]);
    await clients.doc.send(
      new PutCommand({
        TableName: tables.user,
        Item: { user_id: userId, user_type: 'internal-user' },
      }),
    );
    const session: Item = {
      user_id: userId,
      session_id: 'first-session-of-new-user',
      chat_app_id: 'weather',
      last_update: new Date().toISOString(),
    };
    await clients.doc.send(new PutCommand({ TableName: tables.session, Item: session }));
    const [r] = await migrateItems('session', [session], live);
    expect(r).toMatchObject({ outcome: 'migrated' });
    const item = await get(tables.session, { user_id: userId, session_id: session.session_id });
    expect(item?.user_type).toBe('internal-user');
  });
});

describe('search keyword updates', () => {
  it('never regress a document indexed from a newer version of the session', async () => {
    const id = 'guarded-doc';
    await clients.search!.index({
      index,
      id,
      body: { session_id: id, last_update: '2026-02-02T00:00:00.000Z', source: 'component' },
      refresh: true,
    });
    const newer = { source_keyword: 'component' };
    const [fresh] = await deps.search.applyUpdates([
      { id, doc: newer, version: '2026-02-02T00:00:00.000Z' },
    ]);
    expect(fresh?.outcome).toBe('migrated');
    // A slow writer still holding the older version of the item.
    const [stale] = await deps.search.applyUpdates(
      [{ id, doc: { source_keyword: 'user' }, version: '2026-01-01T00:00:00.000Z' }],
      true,
    );
    expect(stale?.outcome).toBe('unchanged');
    const doc = (await clients.search!.get({ index, id })).body._source as Item;
    expect(doc.source_keyword).toBe('component');
    const [again] = await deps.search.applyUpdates([
      { id, doc: newer, version: '2026-02-02T00:00:00.000Z' },
    ]);
    expect(again?.outcome).toBe('unchanged'); // already there: a noop, no reindex
  });
});

describe('search mapping', () => {
  it('a field that exists with another type is a specific error and nothing is written', async () => {
    const bad = uniqueName('conflict');
    await clients.search!.indices.create({
      index: bad,
      body: { mappings: { properties: { user_type_keyword: { type: 'text' } } } },
    });
    const err = await new SearchIndex(clients.search!, bad, SEARCH_SPEC)
      .ensureMapping()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MappingConflictError);
    expect((err as Error).message).toContain('"user_type_keyword"');
    expect((err as Error).message).toContain('"text"');
    const mapping = await clients.search!.indices.getMapping({ index: bad });
    const props = (
      mapping.body as Record<string, { mappings: { properties: Record<string, unknown> } }>
    )[bad]!.mappings.properties;
    expect(Object.keys(props)).toEqual(['user_type_keyword']);
  });
});
