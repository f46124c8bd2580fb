// The live path on the real local services: the deployed stream-consumer handler, fed by
// the local event source mapping, migrates application traffic as it happens.
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord } from 'aws-lambda';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeClients, destroyClients, type Clients } from '../../lib/adapters/clients.ts';
import {
  ensurePikaTables,
  ensureSessionIndex,
  putItems,
  type PikaTableNames,
} from '../../local/pika-tables.ts';
import { legacyUsers } from '../../local/legacy-data.ts';
import type { Item } from '../../lib/core/types.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import type { EngineDeps, ItemResult } from '../../lib/engine/migrate-items.ts';
import { AppSimulator } from '../../local/app-simulator.ts';
import { startLocalRunner, type LocalRunner, type LocalRunnerOptions } from '../../local/runner.ts';
import { TcpProxy } from '../support/tcp-proxy.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('streamconsumer');

const USERS = legacyUsers({ users: 40, seed: 3 });
const userTypes = new Map(
  USERS.map((u) => [u.user_id as string, u.user_type as string | undefined]),
);
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

let clients: Clients;

beforeAll(() => {
  clients = makeClients();
});
afterAll(() => destroyClients(clients));

/** A fresh set of Pika tables, index and queues: each test gets its own stream. */
async function stack(name: string, searchEndpoint = process.env.SEARCH_ENDPOINT!) {
  const p = uniqueName(name);
  const tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
  await ensurePikaTables(clients.dynamodb, tables);
  await putItems(clients.doc, tables.user, USERS);
  const index = uniqueName(`${name}-idx`);
  await ensureSessionIndex(clients.search!, index);
  await engineDeps(clients, { tables, searchIndex: index }).search!.ensureMapping();
  const searchClients = makeClients({ searchEndpoint });
  const deps: EngineDeps = engineDeps(searchClients, { tables, searchIndex: index });
  const results: ItemResult[] = [];
  const seqs: string[] = [];
  const records: DynamoDBRecord[] = [];
  const runnerOptions: LocalRunnerOptions = {
    clients,
    deps,
    tables,
    queueName: `${p}-work`,
    dlqName: `${p}-dlq`,
    logger: quiet,
    handlerLogLevel: 'SILENT',
    retryBackoffMs: 100,
    onResults: (r, event) => {
      results.push(...r.values());
      seqs.push(...r.keys());
      records.push(...event.Records);
    },
  };
  const app = new AppSimulator({
    doc: clients.doc,
    sessionTable: tables.session,
    search: { client: clients.search!, index },
    users: 40,
    seed: p.length,
    idPrefix: p,
  });
  return {
    tables,
    index,
    deps,
    results,
    seqs,
    records,
    runnerOptions,
    app,
    close: () => destroyClients(searchClients),
  };
}

const get = async (TableName: string, Key: Item) =>
  (await clients.doc.send(new GetCommand({ TableName, Key, ConsistentRead: true }))).Item;

/** Checks every live session against the rules, computed independently of the planner. */
async function expectConverged(
  tables: PikaTableNames,
  index: string,
  app: AppSimulator,
): Promise<void> {
  await clients.search!.indices.refresh({ index });
  for (const expected of app.live.values()) {
    const item = await get(tables.session, {
      user_id: expected.user_id,
      session_id: expected.session_id,
    });
    const source = (expected.source as string | undefined) ?? 'user';
    const kind = source === 'component' ? 'component' : 'user';
    const userType = userTypes.get(expected.user_id as string) ?? 'external-user';
    // The application's own values are never lost...
    for (const k of ['chat_app_id', 'last_update', 'title', 'invocation_mode'])
      expect(item?.[k], `${expected.session_id}.${k}`).toBe(expected[k]);
    // ...and the derived ones match the latest inputs.
    expect(item?.source).toBe(source);
    expect(item?.chat_app_sk).toBe(`${expected.chat_app_id}#${kind}#${expected.last_update}`);
    expect(item?.user_type).toBe(userType);
    const doc = (await clients.search!.get({ index, id: expected.session_id as string })).body
      ._source as Item;
    expect(doc).toMatchObject({
      source_keyword: source,
      user_type_keyword: userType,
      invocation_mode_keyword: expected.invocation_mode,
    });
  }
}

describe('stream consumer on live traffic', () => {
  it('converges under steady inserts, updates and deletes, with one write per change and no loop', async () => {
    const s = await stack('steady');
    const runner = await startLocalRunner(s.runnerOptions);
    try {
      for (let i = 0; i < 300; i++) await s.app.step();
      await runner.waitForIdle(60_000);
      await expectConverged(s.tables, s.index, s.app);
      const deletedIds = new Set(
        s.app.writes.filter((w) => w.kind === 'delete').map((w) => w.key.session_id),
      );
      for (const id of deletedIds) {
        const w = s.app.writes.find((x) => x.key.session_id === id)!;
        expect(await get(s.tables.session, w.key)).toBeUndefined(); // never resurrected
      }
      const migrated = s.results.filter((r) => r.outcome === 'migrated').length;
      const appWrites = s.app.writes.filter((w) => w.kind !== 'delete').length;
      expect(migrated).toBeGreaterThan(0);
      expect(migrated).toBeLessThanOrEqual(appWrites);
      // Each application change changes its document once: the records of our own writes send
      // a guarded update that is a no-op (same version), never a second effective update.
      expect(s.results.filter((r) => r.search === 'migrated').length).toBeLessThanOrEqual(
        appWrites,
      );
      // No loop: once idle, nothing more happens.
      const before = runner.stats().recordsProcessed;
      await new Promise((r) => setTimeout(r, 1_000));
      await runner.waitForIdle(10_000);
      expect(runner.stats().recordsProcessed).toBe(before);
      expect(s.results.filter((r) => r.outcome === 'failed' || r.outcome === 'malformed')).toEqual(
        [],
      );
      expect(runner.stats().recordsToOnFailure).toBe(0);
    } finally {
      await runner.stop();
      s.close();
    }
  });

  it('leaves TTL-expired sessions to TTL and never brings them back', async () => {
    const s = await stack('ttl');
    const runner = await startLocalRunner(s.runnerOptions);
    try {
      const now = Math.floor(Date.now() / 1000);
      const expired: Item[] = [];
      const expiring: Item[] = [];
      for (let i = 0; i < 5; i++) {
        expired.push((await s.app.insert({ exp_date_unix_seconds: now - 60 })).key);
        expiring.push((await s.app.insert({ exp_date_unix_seconds: now + 2 })).key);
        await s.app.insert();
      }
      for (const k of [...expired, ...expiring]) s.app.live.delete(k.session_id as string);
      // DynamoDB Local runs TTL for real: wait until it has deleted all ten.
      const gone = async () =>
        (await Promise.all([...expired, ...expiring].map((k) => get(s.tables.session, k)))).every(
          (i) => i === undefined,
        );
      for (let t = 0; t < 60 && !(await gone()); t++) await new Promise((r) => setTimeout(r, 500));
      expect(await gone()).toBe(true);
      await runner.waitForIdle(30_000);
      expect(await gone()).toBe(true); // no migration write recreated any of them
      // Every TTL delete reached the consumer (as a REMOVE by the DynamoDB service) ...
      const ttlRemoves = s.records.filter(
        (r) => r.eventName === 'REMOVE' && r.userIdentity?.principalId === 'dynamodb.amazonaws.com',
      );
      const removedIds = new Set(ttlRemoves.map((r) => r.dynamodb?.Keys?.session_id?.S));
      for (const k of [...expired, ...expiring])
        expect(removedIds.has(k.session_id as string)).toBe(true);
      // ... and a session that was already expired when written was never migrated.
      const expiredIds = new Set(expired.map((k) => k.session_id));
      const onExpired = s.results.filter((r) => expiredIds.has(r.key.session_id as string));
      expect(onExpired.filter((r) => r.outcome !== 'expired')).toEqual([]);
      expect(runner.stats().recordsToOnFailure).toBe(0);
      await expectConverged(s.tables, s.index, s.app);
    } finally {
      await runner.stop();
      s.close();
    }
  });

  it('never loses an application write when two writers race on the same items', async () => {
    const s = await stack('race');
    const runner = await startLocalRunner(s.runnerOptions);
    try {
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await s.app.insert()).key.session_id);
      // Two concurrent application writers hammer the same items while the consumer writes.
      const writer = async (offset: number) => {
        for (let round = 0; round < 15; round++) {
          const id = ids[(round * 7 + offset) % ids.length]!;
          await s.app.update(
            id,
            round % 3 === 0 ? 'chat_app_id' : round % 3 === 1 ? 'source' : 'put',
          );
        }
      };
      await Promise.all([writer(0), writer(3)]);
      await runner.waitForIdle(60_000);
      await expectConverged(s.tables, s.index, s.app);
    } finally {
      await runner.stop();
      s.close();
    }
  });

  it('isolates a poison record in the DLQ with its reason while the rest of the shard proceeds', async () => {
    const s = await stack('poison');
    const runner = await startLocalRunner({ ...s.runnerOptions, maxRetries: 1 });
    try {
      for (let i = 0; i < 10; i++) await s.app.insert();
      const poison = {
        user_id: 'user-00001',
        session_id: `${s.tables.session}-poison`,
        last_update: 'x',
      };
      await clients.doc.send(new PutCommand({ TableName: s.tables.session, Item: poison }));
      for (let i = 0; i < 10; i++) await s.app.insert();
      await runner.waitForIdle(60_000);
      await expectConverged(s.tables, s.index, s.app);
      // Parked at once (retrying cannot fix it), so no batch was held up or given up on.
      expect(runner.stats().recordsToOnFailure).toBe(0);
      const msg = await clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: runner.queues.dlq,
          WaitTimeSeconds: 2,
          MaxNumberOfMessages: 10,
        }),
      );
      expect(msg.Messages).toHaveLength(1);
      const body = JSON.parse(msg.Messages![0]!.Body!);
      expect(body).toMatchObject({
        version: 'streamfill.parked/1',
        source: 'stream-consumer',
        table: s.tables.session,
        key: { user_id: poison.user_id, session_id: poison.session_id },
        // The item image stays out of the DLQ unless STREAMFILL_DLQ_KEEP_IMAGES asks for it.
        imageOmitted: true,
      });
      expect(body.record).toBeUndefined();
      expect(body.reason).toContain(`session_id="${poison.session_id}"`);
      expect(body.reason).toContain('"chat_app_id" is missing');
    } finally {
      await runner.stop();
      s.close();
    }
  });

  it('an OpenSearch outage: the shard moves on, keyword updates wait as repair tasks and converge after', async () => {
    const proxy = TcpProxy.forUrl(process.env.SEARCH_ENDPOINT!);
    await proxy.start();
    const s = await stack('outage', proxy.url);
    let repairsQueued = 0;
    const runner = await startLocalRunner({
      ...s.runnerOptions,
      maxRetries: -1,
      retryBackoffMs: 200,
      onResults: (results, event) => {
        s.runnerOptions.onResults?.(results, event);
        for (const r of results.values()) if (r.search === 'repair-queued') repairsQueued++;
      },
    });
    try {
      for (let i = 0; i < 10; i++) await s.app.insert();
      await runner.waitForIdle(30_000);
      await proxy.cut();
      for (let i = 0; i < 20; i++) await s.app.step();
      // The stream only: the repairs keep waiting on the queue (delayed) while search is down.
      await runner.stream.waitForIdle(30_000);
      // DynamoDB work does not wait on search: no record failed, the updates were deferred.
      expect(runner.stats().failures).toBe(0);
      expect(repairsQueued).toBeGreaterThan(0);
      await proxy.start();
      // The worker applies the delayed repairs (first attempt after 5 s) once search is back.
      const deadline = Date.now() + 90_000;
      for (;;) {
        try {
          await expectConverged(s.tables, s.index, s.app);
          break;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await new Promise((r) => setTimeout(r, 1_000));
        }
      }
      expect(runner.stats().recordsToOnFailure).toBe(0);
      expect(runner.counts().parked + runner.counts().onFailure).toBe(0);
    } finally {
      await runner.stop();
      await proxy.cut();
      s.close();
    }
  });

  it('resumes after a restart without skipping records', async () => {
    const s = await stack('restart');
    const checkpointDir = mkdtempSync(join(tmpdir(), 'streamfill-ckpt-'));
    let runner: LocalRunner = await startLocalRunner({ ...s.runnerOptions, checkpointDir });
    try {
      for (let i = 0; i < 30; i++) await s.app.step();
      await runner.waitForIdle(30_000);
      await runner.stop();
      const seenBefore = new Set(s.seqs);
      const countBefore = s.seqs.length;
      // Traffic while the runner is down must all be picked up after the restart.
      for (let i = 0; i < 30; i++) await s.app.step();
      runner = await startLocalRunner({ ...s.runnerOptions, checkpointDir });
      await runner.waitForIdle(60_000);
      await expectConverged(s.tables, s.index, s.app);
      // Resumed, not replayed: no record acknowledged before the stop came back.
      const second = s.seqs.slice(countBefore);
      expect(second.length).toBeGreaterThan(0);
      expect(second.filter((q) => seenBefore.has(q))).toEqual([]);
    } finally {
      await runner.stop();
      s.close();
    }
  });
});
