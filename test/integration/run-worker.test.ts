// `streamfill run` as an operator runs it, a child process: both mappings until idle, and a
// worker killed mid-batch whose messages come back after their visibility timeout.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStateStore } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { sendMessages } from '../../lib/adapters/work-queue.ts';
import { CONSUMER_HEARTBEAT, consumerHeartbeatId } from '../../lib/config/defaults.ts';
import type { Item } from '../../lib/core/types.ts';
import { packItems } from '../../lib/core/work-message.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { legacySessions, legacyUsers } from '../../local/legacy-data.ts';
import { ensurePikaTables, putItems } from '../../local/pika-tables.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { startCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { drainParked, scanAll, workItemsOf } from '../support/work-queue.ts';

useLocalServices('runworker');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const USERS = legacyUsers({ users: 10, seed: 21 });
const userTypes = new Map(USERS.map((u) => [u.user_id as string, u.user_type as string]));
const DYNAMO_MIGRATIONS = ['session-sort-key', 'session-user-type'] as const;
const quiet = { info: () => {}, warn: () => {}, error: () => {} };

let clients: Clients;
beforeAll(() => {
  clients = makeClients();
});
afterAll(() => destroyClients(clients));

async function stack(
  name: string,
  sessions: Item[],
  queue: { visibilityTimeoutSeconds?: number } = {},
) {
  const p = uniqueName(name);
  const tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
  await ensurePikaTables(clients.dynamodb, tables);
  await putItems(clients.doc, tables.user, USERS);
  await putItems(clients.doc, tables.session, sessions);
  const names = { queueName: `${p}-work`, dlqName: `${p}-dlq` };
  const queues = await ensureQueues(clients.sqs, names, queue);
  const dir = mkdtempSync(join(tmpdir(), `sf-${name}-`));
  const args = [
    '--session-table',
    tables.session,
    '--user-table',
    tables.user,
    '--tag-table',
    tables.tag,
    '--queue-name',
    names.queueName,
    '--dlq-name',
    names.dlqName,
    '--checkpoint-dir',
    join(dir, 'shards'),
    '--checkpoint-file',
    join(dir, 'state.json'),
  ];
  return { tables, queues, names, args, store: new FileStateStore(join(dir, 'state.json')) };
}

/** `streamfill run …` as a child process; search off (this file is about the queue). */
function streamfillRun(args: string[]) {
  const env = { ...process.env };
  delete env.SEARCH_ENDPOINT;
  return startCli(['run', ...args], env);
}

function expectAllMigrated(items: readonly Item[], seeded: readonly Item[]): void {
  const now = new Map(items.map((i) => [i.session_id, i]));
  expect(now.size).toBe(seeded.length);
  for (const s of seeded) {
    const item = now.get(s.session_id);
    const source = (s.source as string | undefined) ?? 'user';
    const kind = source === 'component' ? 'component' : 'user';
    expect(item?.chat_app_sk).toBe(`${s.chat_app_id}#${kind}#${s.last_update}`);
    expect(item?.user_type).toBe(userTypes.get(s.user_id as string) ?? 'external-user');
  }
}

async function countMigrated(TableName: string): Promise<number> {
  let n = 0;
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const r = await clients.doc.send(
      new ScanCommand({
        TableName,
        Select: 'COUNT',
        FilterExpression: 'attribute_exists(chat_app_sk)',
        ...(ExclusiveStartKey && { ExclusiveStartKey }),
      }),
    );
    n += r.Count ?? 0;
    ExclusiveStartKey = r.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return n;
}

describe('streamfill run: stream consumer and work-queue worker', () => {
  it('runs both mappings until both are idle, counting parked and on-failure apart', async () => {
    const sessions = legacySessions({ sessions: 40, users: 10, seed: 22 });
    const s = await stack('untilidle', sessions);
    const work = await workItemsOf(clients.doc, 'session', s.tables.session, DYNAMO_MIGRATIONS);
    const bad = {
      key: { user_id: 'u-bad', session_id: 'sess-bad' },
      inputs: { chat_app_id: 7, last_update: 'x' },
    };
    const packed = [
      ...packItems('session', work, { maxItemsPerMessage: 10 }),
      ...packItems('session', [bad]),
    ];
    await sendMessages(clients.sqs, s.queues.work, packed);

    const { done } = streamfillRun([...s.args, '--until-idle']);
    const r = await done;
    expect(r.stderr).not.toContain('error');
    expect(r.code).toBe(0);
    const stopped = r.stdout.split('\n').find((l) => l.startsWith('stopped: '));
    expect(stopped).toMatch(/stream records [1-9]\d*/); // the seed's inserts
    expect(stopped).toContain(`worker messages ${packed.length} (items ${work.length + 1})`);
    expect(stopped).toContain('parked 1, on-failure 0');
    expectAllMigrated(await scanAll(clients.doc, s.tables.session), sessions);
    expect(await drainParked(clients.sqs, s.queues.dlq)).toHaveLength(1);
    const hb = await s.store.getHeartbeat(consumerHeartbeatId(s.tables.session));
    expect(hb).toMatchObject({ caughtUp: false }); // it said it stopped
  });

  it('a worker killed mid-batch: its messages come back after the visibility timeout and converge', async () => {
    const total = 1500;
    const sessions = legacySessions({ sessions: total, users: 10, seed: 23 });
    // The shortest visibility AWS allows for a function of 10 s: the function timeout itself.
    const s = await stack('killed', sessions, { visibilityTimeoutSeconds: 10 });
    const work = await workItemsOf(clients.doc, 'session', s.tables.session, DYNAMO_MIGRATIONS);
    await sendMessages(
      clients.sqs,
      s.queues.work,
      packItems('session', work, { maxItemsPerMessage: 100 }),
    );

    // LATEST: the seed's records are not migrated by the stream; the worker alone does it.
    // One 100-item message per invocation: well inside the timeout on a loaded machine.
    const opts = ['--starting-position', 'LATEST', '--worker-timeout', '10'];
    opts.push('--work-queue-visibility', '10', '--worker-batch-size', '1');
    const { child, done } = streamfillRun([...s.args, ...opts, '--worker-concurrency', '2']);
    let atKill = 0;
    while (atKill === 0) {
      atKill = await countMigrated(s.tables.session);
      if (child.exitCode !== null) throw new Error(`run exited early: ${(await done).stderr}`);
    }
    child.kill('SIGKILL');
    await done;
    expect(atKill).toBeLessThan(total); // killed mid-run
    const component = consumerHeartbeatId(s.tables.session);
    const lastBeat = await s.store.getHeartbeat(component);
    expect(lastBeat?.component).toBe(component); // it was beating; killed, it cannot say it stopped…

    const deps = engineDeps(clients, { tables: s.tables, searchIndex: 'unused' });
    const runner = await startLocalRunner({
      clients,
      deps: { ...deps, search: undefined, migrations: DYNAMO_MIGRATIONS },
      tables: s.tables,
      queueName: s.names.queueName,
      dlqName: s.names.dlqName,
      startingPosition: 'LATEST',
      workerFunctionTimeoutMs: 10_000,
      workQueueVisibilitySeconds: 10,
      workerBatchSize: 1,
      logger: quiet,
      handlerLogLevel: 'SILENT',
    });
    try {
      await runner.waitForIdle(120_000);
      expect(runner.workerStats()?.redeliveries).toBeGreaterThan(0);
      expect(runner.counts().onFailure).toBe(0);
    } finally {
      await runner.stop();
    }
    const dlq = await drainParked(clients.sqs, s.queues.dlq);
    expectAllMigrated(await scanAll(clients.doc, s.tables.session), sessions);
    expect(dlq).toHaveLength(0);
    // …so its heartbeat just went stale: not updated since, well past the staleness bound.
    const now = await s.store.getHeartbeat(component);
    expect(now?.updatedAtMs).toBe(lastBeat?.updatedAtMs);
    expect(Date.now() - (now?.updatedAtMs ?? 0)).toBeGreaterThan(CONSUMER_HEARTBEAT.intervalMs);
  });
});

describe('streamfill run --migrations: the deployed set', () => {
  it('runs only the named migrations (as --stack fills them from the Migrations output); unknown names are refused', async () => {
    const sessions = legacySessions({ sessions: 10, users: 10, seed: 24, migratedFraction: 0 });
    const s = await stack('runset', sessions);
    // TRIM_HORIZON: the seed's inserts are the records the consumer migrates.
    const r = await streamfillRun([...s.args, '--until-idle', '--migrations', 'session-sort-key'])
      .done;
    expect(r.code, r.stderr).toBe(0);
    const items = await scanAll(clients.doc, s.tables.session);
    expect(items).toHaveLength(sessions.length);
    for (const item of items) {
      expect(item.chat_app_sk).toBeDefined();
      expect(item).not.toHaveProperty('user_type'); // session-user-type is not in the set
    }

    const bad = await streamfillRun([...s.args, '--until-idle', '--migrations', 'nope']).done;
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('names unknown migrations nope');
  });
});
