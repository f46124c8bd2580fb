// Search keywords end to end on real DynamoDB Local and OpenSearch (issue 7, items 1, 2, 3, 9
// and the item 10 interleavings): the version guard, our own write's record, removals, the
// mapping check, the index-typo refusal and what `verify` sees.
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { SearchIndex } from '../../lib/adapters/search-index.ts';
import type { Item, SearchChange, TableNames } from '../../lib/core/types.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { migrateItems, type EngineDeps } from '../../lib/engine/migrate-items.ts';
import { processStreamBatch } from '../../lib/engine/stream-batch.ts';
import { isConverged, verifyAll } from '../../lib/engine/verify.ts';
import { PIKA_SEARCH_SPEC } from '../support/pika.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { freshSessionStack } from '../support/session-stack.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { PIKA } from '../support/pika.ts';

useLocalServices('searchkeywords');

const SPEC = PIKA_SEARCH_SPEC;
let clients: Clients;
beforeAll(() => {
  clients = makeClients();
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
});
afterAll(() => destroyClients(clients));

const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-01T10:00:01.000Z';
const T2 = '2025-03-01T10:00:02.000Z';
const T3 = '2025-03-01T10:00:03.000Z';

interface Stack {
  tables: TableNames;
  index: string;
  deps: EngineDeps & { search: SearchIndex };
}

async function stack(name: string, opts: { ensure?: boolean } = {}): Promise<Stack> {
  const { tables, index } = await freshSessionStack(clients, name);
  const deps = engineDeps(clients, { tables, searchIndex: index }) as Stack['deps'];
  if (opts.ensure ?? true) await deps.search.ensureMapping();
  return { tables, index, deps };
}

/** A legacy session (Pika 0.4: no source, chat_app_sk or user_type). */
const legacy = (id: string, overrides: Item = {}): Item => ({
  user_id: 'u1',
  session_id: id,
  chat_app_id: 'weather',
  last_update: T0,
  invocation_mode: 'chat-app',
  title: 'hello',
  ...overrides,
});

async function put(s: Stack, item: Item): Promise<void> {
  await clients.doc.send(new PutCommand({ TableName: s.tables.session, Item: item }));
}
async function get(s: Stack, item: Item): Promise<Item> {
  const key = { user_id: item.user_id, session_id: item.session_id };
  const res = await clients.doc.send(
    new GetCommand({ TableName: s.tables.session, Key: key, ConsistentRead: true }),
  );
  return res.Item as Item;
}
/** A legacy session written by the app and indexed by its own indexer. */
async function seedLegacy(s: Stack, id: string, overrides: Item = {}): Promise<Item> {
  const item = legacy(id, overrides);
  await put(s, item);
  await indexDoc(s, item);
  return item;
}

/** The application's own indexer: the whole document, as the app knows it. */
async function indexDoc(s: Stack, item: Item): Promise<void> {
  const { exp_date_unix_seconds: _e, chat_app_sk: _k, ...doc } = item;
  await clients.search!.index({ index: s.index, id: item.session_id as string, body: doc });
  await clients.search!.indices.refresh({ index: s.index });
}
async function docOf(s: Stack, id: string): Promise<Item> {
  await clients.search!.indices.refresh({ index: s.index });
  return (await clients.search!.get({ index: s.index, id })).body._source as Item;
}

/** A stream record as Lambda delivers it (NEW_AND_OLD_IMAGES). */
function record(s: Stack, newImage: Item, oldImage?: Item, seq = '100'): DynamoDBRecord {
  return {
    eventID: seq,
    eventName: oldImage ? 'MODIFY' : 'INSERT',
    eventSource: 'aws:dynamodb',
    eventSourceARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${s.tables.session}/stream/x`,
    awsRegion: 'us-east-1',
    dynamodb: {
      Keys: marshall({ user_id: newImage.user_id, session_id: newImage.session_id }) as never,
      NewImage: marshall(newImage) as never,
      ...(oldImage && { OldImage: marshall(oldImage) as never }),
      SequenceNumber: seq,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

const quietLogger = () => new Logger({ logLevel: 'SILENT' });
async function consume(s: Stack, records: DynamoDBRecord[], deps: EngineDeps = s.deps) {
  const results: Item[] = [];
  const response = await processStreamBatch({ Records: records } as DynamoDBStreamEvent, {
    deps,
    logger: quietLogger(),
    metrics: new Metrics({ namespace: 'test' }),
    source: 'stream-consumer',
    onResults: (r) => results.push(...(r.values() as Iterable<Item>)),
  });
  return { response, results };
}

/** A SearchIndex whose bulk requests wait for `release()`: a slow writer whose request lands last. */
class GatedSearchIndex extends SearchIndex {
  private open: () => void = () => {};
  private signal: () => void = () => {};
  private readonly gate = new Promise<void>((r) => (this.open = r));
  readonly entered = new Promise<void>((r) => (this.signal = r));
  release(): void {
    this.open();
  }
  override async applyUpdates(changes: readonly SearchChange[], refresh = false) {
    this.signal();
    await this.gate;
    return super.applyUpdates(changes, refresh);
  }
}

describe('item 2: our own write never suppresses a needed keyword update', () => {
  it('item 2 (a): the search update of our write failed past its retries; our own record sends it', async () => {
    const s = await stack('own-a');
    const item = await seedLegacy(s, 'a1');
    const proxy = TcpProxy.forUrl(process.env.SEARCH_ENDPOINT!);
    await proxy.start();
    const down = makeClients({ searchEndpoint: proxy.url });
    try {
      const downDeps = engineDeps(down, { tables: s.tables, searchIndex: s.index });
      await downDeps.search!.ensureReady(); // the container was ready; then OpenSearch went away
      await proxy.cut();
      const [first] = await migrateItems('session', [item], downDeps);
      expect(first).toMatchObject({ outcome: 'migrated', search: 'failed' });
    } finally {
      await proxy.cut();
      destroyClients(down);
    }
    const after = await get(s, item);
    const { results } = await consume(s, [record(s, after, item)]);
    expect(results[0]).toMatchObject({ outcome: 'unchanged', search: 'migrated' });
    expect(await docOf(s, 'a1')).toMatchObject({
      source_keyword: 'user',
      user_type_keyword: 'internal-user',
      invocation_mode_keyword: 'chat-app',
    });
  });

  it('item 2 (b): a historic pass ran without a search endpoint; our own record sends the keywords', async () => {
    const s = await stack('own-b');
    const item = await seedLegacy(s, 'b1');
    const { search: _none, ...noSearch } = s.deps;
    const [first] = await migrateItems('session', [item], noSearch);
    expect(first).toMatchObject({ outcome: 'migrated' });
    expect(first?.search).toBeUndefined();
    const { results } = await consume(s, [record(s, await get(s, item), item)]);
    expect(results[0]).toMatchObject({ outcome: 'unchanged', search: 'migrated' });
    expect(await docOf(s, 'b1')).toMatchObject({ source_keyword: 'user' });
  });

  it('item 2 (c): the application itself wrote exactly source + chat_app_sk; the keywords follow', async () => {
    const s = await stack('own-c');
    const item = await seedLegacy(s, 'c1', { user_type: 'internal-user' });
    // Pika 0.5's own migration script: exactly what streamfill would have written.
    await clients.doc.send(
      new UpdateCommand({
        TableName: s.tables.session,
        Key: { user_id: 'u1', session_id: 'c1' },
        UpdateExpression: 'SET #s = :s, #k = :k',
        ExpressionAttributeNames: { '#s': 'source', '#k': 'chat_app_sk' },
        ExpressionAttributeValues: { ':s': 'user', ':k': `weather#user#${T0}` },
      }),
    );
    const { results } = await consume(s, [record(s, await get(s, item), item)]);
    expect(results[0]).toMatchObject({ outcome: 'unchanged', search: 'migrated' });
    expect(await docOf(s, 'c1')).toMatchObject({
      source_keyword: 'user',
      user_type_keyword: 'internal-user',
    });
  });

  it('item 2: no loop: our own record writes nothing to DynamoDB and its keyword update is a no-op', async () => {
    const s = await stack('own-loop');
    const item = await seedLegacy(s, 'l1');
    const { results: first } = await consume(s, [record(s, item)]);
    expect(first[0]).toMatchObject({ outcome: 'migrated', search: 'migrated' });
    const after = await get(s, item);
    const { results } = await consume(s, [record(s, after, item, '200')]);
    expect(results[0]).toMatchObject({ outcome: 'unchanged', search: 'unchanged' });
    expect(results[0]?.change).toBeUndefined(); // no DynamoDB write was even attempted
    expect(await get(s, item)).toEqual(after);
  });
});

describe('item 3: a stale keyword writer always loses', () => {
  const change = (id: string, source: string, version?: string): SearchChange => ({
    id,
    doc: { source_keyword: source },
    ...(version && { version }),
  });

  it('item 3: slow app indexer (document lags DynamoDB) with two racing derivations: the newer wins', async () => {
    const s = await stack('slow-indexer');
    await indexDoc(s, legacy('r1', { last_update: T1 })); // the app indexer is still at T1
    // DynamoDB is at T3 (component); a replayed record / abandoned invocation derived T2 (user).
    expect((await s.deps.search.applyUpdates([change('r1', 'component', T3)]))[0]?.outcome).toBe(
      'migrated',
    );
    expect((await s.deps.search.applyUpdates([change('r1', 'user', T2)]))[0]?.outcome).toBe(
      'unchanged',
    );
    expect(await docOf(s, 'r1')).toMatchObject({ source_keyword: 'component' });
  });

  it('item 3: equal versions are a no-op; a document without last_update is guarded by the stored version', async () => {
    const s = await stack('no-lu');
    const { last_update: _lu, ...noLastUpdate } = legacy('n1');
    await indexDoc(s, noLastUpdate);
    await s.deps.search.applyUpdates([change('n1', 'component', T2)]);
    const again = await s.deps.search.applyUpdates([change('n1', 'component', T2)]);
    expect(again[0]?.outcome).toBe('unchanged');
    const stale = await s.deps.search.applyUpdates([change('n1', 'user', T1)]);
    expect(stale[0]?.outcome).toBe('unchanged');
    expect(await docOf(s, 'n1')).toMatchObject({
      source_keyword: 'component',
      streamfill_keywords_version: Date.parse(T2),
    });
  });

  it('item 3: versions compare as instants: with and without milliseconds', async () => {
    const s = await stack('millis');
    await indexDoc(s, legacy('m1', { last_update: '2025-03-01T10:00:00Z' }));
    // 500 ms newer than the document, though smaller as a string ('.' < 'Z'): applies.
    const newer = await s.deps.search.applyUpdates([
      change('m1', 'component', '2025-03-01T10:00:00.500Z'),
    ]);
    expect(newer[0]?.outcome).toBe('migrated');
    await indexDoc(s, legacy('m2', { last_update: '2025-03-01T10:00:00.500Z' }));
    // 500 ms older than the document, though larger as a string: a no-op.
    const older = await s.deps.search.applyUpdates([
      change('m2', 'component', '2025-03-01T10:00:00Z'),
    ]);
    expect(older[0]?.outcome).toBe('unchanged');
    expect((await docOf(s, 'm2')).source_keyword).toBeUndefined();
  });
});

describe('item 10: the historic pass and the consumer interleaved', () => {
  it("item 10: historic page written, app sets source=component, consumer sends it, the page's bulk lands last with `user`: a no-op", async () => {
    const s = await stack('interleave');
    const seedItem = await seedLegacy(s, 'i1'); // the app's document at the seed version
    const gated = new GatedSearchIndex(clients.search!, s.index, SPEC);
    const historic = migrateItems('session', [seedItem], { ...s.deps, search: gated });
    await gated.entered; // the page is written in DynamoDB; its bulk request is in flight
    // The application sets source=component (its indexer lags: the document stays at T0).
    const appItem = { ...(await get(s, seedItem)), source: 'component', last_update: T1 };
    await put(s, appItem);
    const { results } = await consume(s, [record(s, appItem, await get(s, seedItem))]);
    expect(results[0]).toMatchObject({ outcome: 'migrated', search: 'migrated' });
    gated.release();
    const [page] = await historic;
    expect(page).toMatchObject({ outcome: 'migrated', search: 'unchanged' });
    expect(await docOf(s, 'i1')).toMatchObject({ source_keyword: 'component' });
    const report = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables: s.tables,
      search: s.deps.search,
    });
    expect(isConverged(report)).toBe(true);
  });

  it('item 10: an "unchanged" historic page still sends stale keywords, last: a no-op', async () => {
    const s = await stack('unchanged-page');
    const seedItem = await seedLegacy(s, 'u1s'); // the app's document at the seed version
    await consume(s, [record(s, seedItem)]); // the consumer migrated it already (source=user)
    const scanned = await get(s, seedItem); // the historic scan reads it: nothing to write
    const gated = new GatedSearchIndex(clients.search!, s.index, SPEC);
    const historic = migrateItems('session', [scanned], { ...s.deps, search: gated });
    await gated.entered;
    const appItem = { ...scanned, source: 'component', last_update: T1 };
    await put(s, appItem);
    await consume(s, [record(s, appItem, scanned, '300')]);
    gated.release();
    const [page] = await historic;
    expect(page).toMatchObject({ outcome: 'unchanged', search: 'unchanged' });
    expect(await docOf(s, 'u1s')).toMatchObject({ source_keyword: 'component' });
  });
});

describe('item 9: keywords follow removals, and verify compares them exactly', () => {
  it('item 9: the app removes invocation_mode: the keyword is removed; verify saw the extra field as pending', async () => {
    const s = await stack('removal');
    const item = await seedLegacy(s, 'x1');
    await consume(s, [record(s, item)]);
    expect(await docOf(s, 'x1')).toMatchObject({ invocation_mode_keyword: 'chat-app' });
    const before = await get(s, item);
    const without: Item = {
      ...before,
      last_update: T1,
      chat_app_sk: `weather#user#${T1}`, // a Pika 0.5 app keeps its sort key itself
    };
    delete without.invocation_mode;
    await put(s, without);
    // The app's indexer updates the fields it knows (a partial update): our keywords stay.
    await clients.search!.update({
      index: s.index,
      id: 'x1',
      body: { doc: { last_update: T1 } },
      refresh: 'wait_for',
    });
    const stale = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables: s.tables,
      search: s.deps.search,
    });
    expect(stale.search).toMatchObject({ pending: 1 });
    expect(isConverged(stale)).toBe(false);
    await consume(s, [record(s, without, before, '200')]);
    expect((await docOf(s, 'x1')).invocation_mode_keyword).toBeUndefined();
    const report = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables: s.tables,
      search: s.deps.search,
    });
    expect(report.search).toMatchObject({ pending: 0, missing: 0 });
    expect(isConverged(report)).toBe(true);
  });
});

describe('item 1: the keyword mapping is checked (and extended) before the first update', () => {
  it('item 1: on a fresh index the first update adds the keyword mapping, so no field is typed text', async () => {
    const s = await stack('fresh-mapping', { ensure: false });
    const item = await seedLegacy(s, 'f1');
    const { results } = await consume(s, [record(s, item)]);
    expect(results[0]).toMatchObject({ search: 'migrated' });
    expect(await s.deps.search.mappingProblems()).toEqual([]);
  });

  it('item 1: a keyword field already typed text: no update is sent, the record fails, verify reports it pending', async () => {
    const s = await stack('text-mapping', { ensure: false });
    await clients.search!.indices.putMapping({
      index: s.index,
      body: { properties: { source_keyword: { type: 'text' } } },
    });
    const item = await seedLegacy(s, 't1');
    const { response, results } = await consume(s, [record(s, item)]);
    expect(results[0]).toMatchObject({ outcome: 'migrated', search: 'not-ready' });
    expect(String(results[0]?.reason)).toContain('source_keyword');
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: '100' }]);
    expect((await docOf(s, 't1')).user_type_keyword).toBeUndefined();
    const report = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables: s.tables,
      search: s.deps.search,
    });
    expect(report.search?.mapping).toContainEqual({
      field: 'source_keyword',
      expected: 'keyword',
      actual: 'text',
    });
    expect(isConverged(report)).toBe(false);
  });
});

describe('item 10: a typo in the search index', () => {
  it('item 10: keyword updates to an index that does not exist are refused, and it is never created', async () => {
    const s = await stack('typo');
    const typo = uniqueName('typo-idx');
    const search = new SearchIndex(clients.search!, typo, SPEC);
    const item = legacy('y1');
    await put(s, item);
    const { response, results } = await consume(s, [record(s, item)], { ...s.deps, search });
    expect(results[0]).toMatchObject({ search: 'not-ready' });
    expect(String(results[0]?.reason)).toContain('does not exist');
    expect(response.batchItemFailures).toHaveLength(1);
    expect((await clients.search!.indices.exists({ index: typo })).body).toBe(false);
    const report = await verifyAll({ planner: PIKA, doc: clients.doc, tables: s.tables, search });
    expect(report.search).toMatchObject({ indexMissing: true, missing: 1 });
    expect(isConverged(report)).toBe(false);
    expect(isConverged(report, { allowMissingSearch: 1 })).toBe(false); // no index at all
  });

  it('item 10: verify is not converged while documents are missing, unless they are expected', async () => {
    const s = await stack('missing');
    const item = legacy('z1');
    await put(s, item);
    await migrateItems('session', [item], s.deps); // no document: search-missing
    const report = await verifyAll({
      planner: PIKA,
      doc: clients.doc,
      tables: s.tables,
      search: s.deps.search,
    });
    expect(report.search).toMatchObject({ missing: 1, pending: 0 });
    expect(isConverged(report)).toBe(false);
    expect(isConverged(report, { allowMissingSearch: 1 })).toBe(true);
  });

  it('item 10: OpenSearch auto-creates an index even for a bulk update without upsert (why the adapter checks first)', async () => {
    const index = uniqueName('autocreate');
    await clients.search!.bulk({
      body: [{ update: { _index: index, _id: 'x' } }, { doc: { a: 1 } }],
    });
    const created = (await clients.search!.indices.exists({ index })).body;
    if (created) await clients.search!.indices.delete({ index });
    // action.auto_create_index applies to updates too: only a check before sending prevents it.
    expect(created).toBe(true);
  });
});
