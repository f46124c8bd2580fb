// Issue 14 item 5 on the real OpenSearch: every `last_update` the migration accepts orders the
// keyword updates (ISO with or without milliseconds, whole epoch seconds or milliseconds as
// numbers or digit strings); anything else makes the item malformed, never an unordered update;
// two versions in the same millisecond are equal (the first applied stays).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import type { SearchIndex } from '../../lib/adapters/search-index.ts';
import { isMalformedItemError } from '../../lib/core/errors.ts';
import type { Item, SearchChange } from '../../lib/core/types.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { migrateItems } from '../../lib/engine/migrate-items.ts';
import { PIKA } from '../support/pika.ts';
import { freshSessionStack } from '../support/session-stack.ts';
import { useLocalServices } from '../support/env.ts';

useLocalServices('searchversions');

let clients: Clients;
let search: SearchIndex;
let index: string;
let deps: ReturnType<typeof engineDeps>;
beforeAll(async () => {
  clients = makeClients();
  const s = await freshSessionStack(clients, 'versions');
  index = s.index;
  deps = engineDeps(clients, { tables: s.tables, searchIndex: index });
  search = deps.search!;
  await search.ensureReady();
});
afterAll(() => destroyClients(clients));

const session = (id: string, last_update: unknown, source: string): Item => ({
  user_id: 'u1',
  session_id: id,
  last_update,
  source,
  user_type: 'internal-user',
  invocation_mode: 'chat-app',
});

async function indexDoc(id: string, last_update: unknown): Promise<void> {
  await clients.search!.index({
    index,
    id,
    body: { session_id: id, user_id: 'u1', last_update },
    refresh: true,
  });
}

/** The preset's keyword update of a session, for the session index. */
const planSearch = (item: Item): SearchChange | null => PIKA.planSearchFor('session', item);

const sourceKeyword = async (id: string): Promise<unknown> =>
  ((await clients.search!.get({ index, id })).body._source as Item).source_keyword;

/** Sends the newer version first, then the older one (a lagging page); returns what stays. */
async function newerThenOlder(id: string, newer: unknown, older: unknown): Promise<unknown> {
  await indexDoc(id, older);
  await search.applyUpdates([planSearch(session(id, newer, 'component')) as SearchChange], true);
  await search.applyUpdates([planSearch(session(id, older, 'user')) as SearchChange], true);
  return sourceKeyword(id);
}

describe('item 5: keyword updates are ordered for every accepted last_update', () => {
  it('item 5: epoch seconds and milliseconds, as numbers or digit strings, and ISO order the updates; a stale one never wins', async () => {
    const cases: [string, unknown, unknown][] = [
      ['secs-string', '1740823205', '1740823200'],
      ['secs-number', 1740823205, 1740823200],
      ['ms-string', '1740823200001', '1740823200000'],
      ['ms-number', 1740823200001, 1740823200000],
      ['iso-vs-secs', '2025-03-01T10:00:05.000Z', 1740823200],
      ['secs-vs-iso', 1740823205, '2025-03-01T10:00:00Z'],
      ['iso-ms', '2025-03-01T10:00:00.500Z', '2025-03-01T10:00:00Z'],
    ];
    for (const [id, newer, older] of cases) {
      expect([id, await newerThenOlder(id, newer, older)]).toEqual([id, 'component']);
    }
  });

  it("item 5: the document's own last_update, as epoch seconds, is newer than the update: a no-op", async () => {
    await indexDoc('doc-newer', 1740823205);
    const [r] = await search.applyUpdates(
      [planSearch(session('doc-newer', '2025-03-01T10:00:00Z', 'user')) as SearchChange],
      true,
    );
    expect(r?.outcome).toBe('unchanged');
    expect(await sourceKeyword('doc-newer')).toBeUndefined();
  });

  it('item 5: a last_update that is not a version makes the item malformed with its reason; nothing is sent', async () => {
    for (const bad of ['yesterday', 1740823200.5, -5, '2025-03-01 10:00', true]) {
      let error: unknown;
      try {
        planSearch(session('bad', bad, 'user'));
      } catch (e) {
        error = e;
      }
      expect(isMalformedItemError(error), String(bad)).toBe(true);
      expect((error as Error).message).toContain('last_update');
      expect((error as Error).message).toContain(JSON.stringify(bad));
    }
    // Through the pipeline: parked as malformed (with the reason), no search update sent.
    await indexDoc('bad', '2025-03-01T10:00:00Z');
    const [r] = await migrateItems(
      'session',
      [{ ...session('bad', 'yesterday', 'user'), chat_app_id: 'app1' }],
      { ...deps, migrations: ['session-search-keywords'] },
      { refresh: true },
    );
    expect(r).toMatchObject({ outcome: 'malformed' });
    expect(r?.reason).toContain('not a version');
    expect(r?.search).toBeUndefined();
    expect(await sourceKeyword('bad')).toBeUndefined();
  });

  it('item 5: two versions in the same millisecond are equal: the first applied stays, the second is a no-op', async () => {
    await indexDoc('same-ms', '2025-03-01T10:00:00Z');
    const first = planSearch(session('same-ms', '2025-03-01T10:00:05.123Z', 'component'))!;
    const second = planSearch(session('same-ms', '2025-03-01T10:00:05.1239Z', 'user'))!;
    const [a] = await search.applyUpdates([first], true);
    const [b] = await search.applyUpdates([second], true);
    expect([a?.outcome, b?.outcome]).toEqual(['migrated', 'unchanged']);
    expect(await sourceKeyword('same-ms')).toBe('component');
    // The same instant written as epoch seconds is the same version too.
    const [c] = await search.applyUpdates(
      [planSearch(session('same-ms', 1740823205, 'user'))!],
      true,
    );
    expect(c?.outcome).toBe('unchanged');
  });
});
