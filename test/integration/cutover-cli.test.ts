// `streamfill cutover check` / `cutover wait` on the real binary, with the Bedrock Chat V2 → V3
// preset on seeded V2 data copied by the real pipeline: ready with the unpublished bots' aliases
// skipped; each reason broken on purpose and named; a message on the work queue holds it back;
// `wait` times out with the last check's code, then passes; bad input fails before any read.
import { PurgeQueueCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { DeleteCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { consumerHeartbeatId } from '../../lib/config/defaults.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import { resolveConfig } from '../../lib/core/config/resolve.ts';
import { CUTOVER_EXIT } from '../../lib/core/cutover-check.ts';
import type { Item } from '../../lib/core/types.ts';
import { copyItems } from '../../lib/engine/copy-items.ts';
import type { CutoverReport } from '../../lib/engine/cutover.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import bedrock, { v2Kind } from '../../lib/presets/bedrock-chat-v3.ts';
import { runCli, stderrBeyondTarget } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('cutover-cli');

const p = uniqueName('cut');
const names = { v2: `${p}-v2`, v3c: `${p}-v3c`, v3b: `${p}-v3b` };
const tables = {
  'bedrock-v2-conversation': names.v2,
  'bedrock-v3-conversation': names.v3c,
  'bedrock-v3-bot': names.v3b,
};
const tableFlags = Object.entries(tables).flatMap(([d, n]) => ['--table-name', `${d}=${n}`]);
const queueNames = { queueName: `${p}-work`, dlqName: `${p}-dlq` };
const stateTable = `${p}-state`;
// The preset's file is a config like any other (`--preset` is seed's alone).
const common = [
  '--config',
  'lib/presets/bedrock-chat-v3.ts',
  ...tableFlags,
  ...['--queue-name', queueNames.queueName, '--dlq-name', queueNames.dlqName],
];
const target = [...common, '--state-table', stateTable, '--segments', '2'];

let clients: Clients;
let queues: { work: string; dlq: string };
let store: DynamoStateStore;
const deps = () =>
  engineDeps(clients, { tables, planner: compilePlanner(resolveConfig(bedrock)), stateTable });

/** The consumer of the V2 table is running and caught up (as `streamfill run` reports it). */
const heartbeat = () =>
  store.putHeartbeat({
    component: consumerHeartbeatId(names.v2),
    lastBatchAtMs: Date.now(),
    lagMs: 0,
    caughtUp: true,
    // Dated ahead: a child process that starts slowly must not find it stale.
    updatedAtMs: Date.now() + 10 * 60_000,
  });
const cli = async (...args: string[]) => {
  await heartbeat();
  return runCli(['cutover', ...args, ...target]);
};
const scanAll = async (TableName: string): Promise<Item[]> =>
  ((await clients.doc.send(new ScanCommand({ TableName, ConsistentRead: true }))).Items ??
    []) as Item[];
/** The pipeline copies these V2 items as they are now (absent: gone). */
const copyNow = async (keys: { PK: string; SK: string }[]) => {
  const now = new Map((await scanAll(names.v2)).map((i) => [`${i.PK} ${i.SK}`, i]));
  return copyItems(
    'bedrock-v2-conversation',
    keys.map((key) => ({ key, image: now.get(`${key.PK} ${key.SK}`) })),
    deps(),
  );
};

let source: Item[];
beforeAll(async () => {
  clients = makeClients();
  const seeded = await runCli([
    'seed',
    '--preset',
    'bedrock-chat-v3',
    '--users',
    '4',
    ...tableFlags,
  ]);
  expect(seeded.code, seeded.stderr).toBe(0);
  queues = await ensureQueues(clients.sqs, queueNames);
  await ensureStateTable(clients.dynamodb, stateTable);
  store = new DynamoStateStore(clients.doc, stateTable);
  source = await scanAll(names.v2);
  const results = await copyNow(source.map((i) => ({ PK: String(i.PK), SK: String(i.SK) })));
  expect(results.filter((r) => r.outcome === 'failed' || r.outcome === 'malformed')).toEqual([]);
}, 120_000);
afterAll(() => destroyClients(clients));

const report = (stdout: string) => JSON.parse(stdout) as CutoverReport;

describe('streamfill cutover check', () => {
  it('passes once everything is copied, listing the aliases of unpublished bots as skipped', async () => {
    const r = await cli('check', '--json');
    expect(stderrBeyondTarget(r.stderr)).toBe('');
    expect(r.code).toBe(0);
    const out = report(r.stdout);
    expect(out.check).toEqual({ exitCode: 0, problems: [] });
    expect(out.consumers).toMatchObject([
      { table: 'bedrock-v2-conversation', consumer: { state: 'caught-up' } },
    ]);
    expect(out.totals.skipped).toBeGreaterThan(0);
    const skipped = out.copies['bedrock-v3-aliases']?.samples ?? [];
    expect(skipped.every((s) => s.reason === 'skipped')).toBe(true);
    expect(skipped[0]?.detail).toMatch(/lookup "bedrock-alias-original-bot" found no/);
    // The human report lists them too, and still says ready.
    const text = await cli('check');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/bedrock-v3-aliases skipped: source bedrock-v2-conversation:/);
    expect(text.stdout).toMatch(/cutover check: READY \(\d+ skipped source/);
    // verify reports the same diff as its `copies` section, converged with skipped sources.
    const verified = await runCli(['verify', '--json', ...common]);
    expect(verified.code, verified.stderr).toBe(0);
    const copies = (JSON.parse(verified.stdout) as { copies: CutoverReport['copies'] }).copies;
    expect(copies['bedrock-v3-aliases']?.skipped).toBe(out.totals.skipped);
    expect(copies['bedrock-v3-conversations']).toMatchObject({ pending: 0, orphan: 0 });
  });

  it('names what is left per reason, with its exit code, and passes again once mended', async () => {
    const convs = source.filter((i) => v2Kind(i) === 'conversation');
    const [edited, removed, gone] = convs as [Item, Item, Item];
    await clients.doc.send(
      new UpdateCommand({
        TableName: names.v3c,
        Key: { PK: edited.PK, SK: edited.SK },
        UpdateExpression: 'SET Title = :t',
        ExpressionAttributeValues: { ':t': 'edited by hand' },
      }),
    );
    await clients.doc.send(
      new DeleteCommand({ TableName: names.v3c, Key: { PK: removed.PK, SK: removed.SK } }),
    );
    await clients.doc.send(
      new DeleteCommand({ TableName: names.v2, Key: { PK: gone.PK, SK: gone.SK } }),
    );
    // A new V2 conversation whose V3 key the app already wrote; an alias without OriginalBotId.
    const fresh = { PK: 'ux', SK: 'ux#CONV#fresh', Title: 'new in V2', CreateTime: 1 };
    await clients.doc.send(new PutCommand({ TableName: names.v2, Item: fresh }));
    await clients.doc.send(
      new PutCommand({
        TableName: names.v3c,
        Item: { PK: 'ux', SK: 'ux#CONV#fresh', Title: 'V3 app' },
      }),
    );
    const broken = { PK: 'ux', SK: 'ux#BOT_ALIAS#nobot', Title: 'alias' };
    await clients.doc.send(new PutCommand({ TableName: names.v2, Item: broken }));

    const r = await cli('check', '--json');
    expect(r.code).toBe(CUTOVER_EXIT.copiesBroken);
    const out = report(r.stdout);
    expect(out.totals).toMatchObject({ pending: 2, orphan: 1, conflict: 1, malformed: 1 });
    expect(out.check.problems.map((p) => p.kind)).toEqual(['copiesBroken', 'copiesPending']);
    const stderr = stderrBeyondTarget(r.stderr);
    expect(stderr).toMatch(/\[5\] copies: 1 malformed source\(s\), 1 conflicting target\(s\)/);
    expect(stderr).toMatch(/\[2\] copies: 2 pending, 1 orphan\(s\)/);
    const samples = Object.values(out.copies).flatMap((c) => c.samples);
    const line = (reason: string) =>
      samples.filter((s) => s.reason === reason).map((s) => `${s.target ?? s.source}: ${s.detail}`);
    expect(line('pending').sort()).toEqual(
      [
        `bedrock-v3-conversation:${JSON.stringify({ PK: edited.PK, SK: edited.SK })}: target differs in Title`,
        `bedrock-v3-conversation:${JSON.stringify({ PK: removed.PK, SK: removed.SK })}: target missing`,
      ].sort(),
    );
    expect(line('orphan')).toEqual([
      `bedrock-v3-conversation:${JSON.stringify({ PK: gone.PK, SK: gone.SK })}: its source no longer exists`,
    ]);
    expect(line('conflict')[0]).toMatch(/ux#CONV#fresh.*the application's own/);
    expect(line('malformed')[0]).toMatch(/"OriginalBotId" is missing/);
    // The human report prints the counts and each sample with its keys.
    const text = await cli('check');
    expect(text.code).toBe(CUTOVER_EXIT.copiesBroken);
    expect(text.stdout).toMatch(
      /bedrock-v3-conversations orphan: source bedrock-v2-conversation:.* target bedrock-v3-conversation:.*: its source no longer exists/,
    );
    expect(text.stdout).toMatch(/cutover check: NOT READY/);
    const verified = await runCli(['verify', ...common]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(/copies: 2 pending, 1 orphan, 1 malformed, 1 conflict/);
    // --only a copy that is clean passes alone.
    expect((await cli('check', '--only', 'bedrock-v3-bots')).code).toBe(0);

    // Mend: the pipeline processes the REMOVE and the new items; the app item gives way; the
    // hand-edited targets are copied again from scratch (their ledger says they are written).
    await clients.doc.send(
      new DeleteCommand({ TableName: names.v3c, Key: { PK: 'ux', SK: 'ux#CONV#fresh' } }),
    );
    await clients.doc.send(
      new PutCommand({ TableName: names.v2, Item: { ...broken, OriginalBotId: 'nobot' } }),
    );
    for (const i of [edited, removed])
      await clients.doc.send(
        new DeleteCommand({ TableName: names.v3c, Key: { PK: i.PK, SK: i.SK } }),
      );
    const ledger = (i: Item) => ({
      pk: `copy#bedrock-v3-conversations#bedrock-v2-conversation:${JSON.stringify({ PK: i.PK, SK: i.SK })}`,
      sk: 'ledger',
    });
    for (const i of [edited, removed])
      await clients.doc.send(new DeleteCommand({ TableName: stateTable, Key: ledger(i) }));
    const results = await copyNow(
      [edited, removed, gone, fresh, broken].map((i) => ({ PK: String(i.PK), SK: String(i.SK) })),
    );
    expect(results.map((x) => x.outcome)).not.toContain('malformed');
    const again = await cli('check', '--json');
    expect(stderrBeyondTarget(again.stderr)).toBe('');
    expect(again.code).toBe(0);
  });

  it('is held back by a message on the work queue; wait times out with its code, then passes', async () => {
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.work, MessageBody: '{}' }));
    const r = await cli('check');
    expect(r.code).toBe(CUTOVER_EXIT.workQueueNotEmpty);
    expect(stderrBeyondTarget(r.stderr)).toMatch(
      new RegExp(`\\[3\\] work queue ${queueNames.queueName} holds 1 message`),
    );
    const waited = await cli('wait', '--interval', '0.5', '--timeout', '1.5');
    expect(waited.code).toBe(CUTOVER_EXIT.workQueueNotEmpty);
    const rounds = waited.stdout.split('\n').filter((l) => / round \d+: /.test(l));
    expect(rounds.length).toBeGreaterThanOrEqual(2);
    expect(rounds[0]).toMatch(/round 1: not ready \(exit 3\); work queue 1, DLQ 0/);
    expect(waited.stderr).toMatch(/cutover wait: timed out after/);

    await clients.sqs.send(new PurgeQueueCommand({ QueueUrl: queues.work }));
    const ready = await cli('wait', '--interval', '0.5', '--timeout', '30', '--json');
    expect(ready.code).toBe(0);
    expect(report(ready.stdout).check.exitCode).toBe(0);
    expect(ready.stderr).toMatch(/round 1: READY/);
  }, 60_000);

  it('is held back by a stopped consumer (a stale heartbeat)', async () => {
    await store.putHeartbeat({
      component: consumerHeartbeatId(names.v2),
      lastBatchAtMs: Date.now() - 120_000,
      lagMs: 0,
      caughtUp: true,
      updatedAtMs: Date.now() - 120_000,
    });
    const r = await runCli(['cutover', 'check', ...target]);
    expect(r.code).toBe(CUTOVER_EXIT.consumerStopped);
    expect(stderrBeyondTarget(r.stderr)).toMatch(
      /\[7\] bedrock-v2-conversation: stream consumer stale: last heartbeat/,
    );
  });

  it('refuses bad input before reading anything', async () => {
    const unknown = await cli('check', '--only', 'nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/"nope" is not a copy of the config \(copies: bedrock-v3-bots/);
    const noCopies = await runCli(['cutover', 'check', '--config', 'lib/presets/pika.ts']);
    expect(noCopies.code).toBe(1);
    expect(noCopies.stderr).toMatch(/declares no copies/);
    const missing = await runCli([
      'cutover',
      'check',
      ...target.map((a) =>
        a === `bedrock-v3-bot=${names.v3b}` ? 'bedrock-v3-bot=no-such-table' : a,
      ),
    ]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(
      /table "no-such-table" does not exist \(set --table-name bedrock-v3-bot=<name>\)/,
    );
  });
});
