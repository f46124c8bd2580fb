// `status --check` on the real binary against real queues and a real state table: one exit code
// per kind of trouble, each reason on stderr, the verdict in --json.
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { consumerHeartbeatId } from '../../lib/config/defaults.ts';
import { CHECK_EXIT } from '../../lib/core/status-check.ts';
import { runCli, stderrBeyondTarget } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('status-check');

let clients: Clients;
let store: DynamoStateStore;
const p = uniqueName('chk');
const stateTable = `${p}-state`;
const queues = { queueName: `${p}-work`, dlqName: `${p}-dlq` };
const fullDlq = { queueName: `${p}-work2`, dlqName: `${p}-dlq2` };

const check = (table: string, q = queues, ...args: string[]) =>
  runCli([
    'status',
    '--check',
    '--queue-name',
    q.queueName,
    '--dlq-name',
    q.dlqName,
    '--state-table',
    stateTable,
    '--session-table',
    table,
    ...args,
  ]);

/** A heartbeat dated ahead, so a slow child process start never finds it stale. */
const heartbeat = (table: string, lagMs: number, updatedAtMs = Date.now() + 10 * 60_000) =>
  store.putHeartbeat({
    component: consumerHeartbeatId(table),
    lastBatchAtMs: Date.now(),
    lagMs,
    caughtUp: lagMs < 1_000,
    updatedAtMs,
  });

beforeAll(async () => {
  clients = makeClients();
  await ensureQueues(clients.sqs, queues);
  const q2 = await ensureQueues(clients.sqs, fullDlq);
  await clients.sqs.send(new SendMessageCommand({ QueueUrl: q2.dlq, MessageBody: '{}' }));
  await ensureStateTable(clients.dynamodb, stateTable);
  store = new DynamoStateStore(clients.doc, stateTable);
  await heartbeat(`${p}-ok`, 200);
  await heartbeat(`${p}-dlq`, 200);
  await heartbeat(`${p}-lag`, 5 * 60_000);
  await heartbeat(`${p}-stopped`, 200, Date.now() - 10 * 60_000);
  await heartbeat(`${p}-stalled`, 200);
  const old = Date.now() - 60 * 60_000;
  await store.startRun({
    runId: 'run-stalled',
    table: 'session',
    tableName: `${p}-stalled`,
    totalSegments: 2,
    startedAtMs: old,
    updatedAtMs: old,
    status: 'running',
    pauseRequested: false,
    owner: 'scanner-gone',
    options: {},
  });
});

afterAll(() => destroyClients(clients));

describe('streamfill status --check', () => {
  it('exits 0 when the DLQ is empty, the consumer caught up and no run is stuck', async () => {
    const r = await check(`${p}-ok`);
    expect(stderrBeyondTarget(r.stderr)).toBe('');
    expect(r.code).toBe(CHECK_EXIT.ok);
  });

  it('exits 2 when the DLQ is not empty, naming it', async () => {
    const r = await check(`${p}-dlq`, fullDlq);
    expect(r.code).toBe(CHECK_EXIT.dlqNotEmpty);
    expect(r.stderr).toContain(`DLQ ${fullDlq.dlqName} holds 1 message(s)`);
  });

  it('exits 3 when the consumer lags beyond --max-lag-seconds, 0 under a higher threshold', async () => {
    const r = await check(`${p}-lag`);
    expect(r.code).toBe(CHECK_EXIT.consumerLagging);
    expect(r.stderr).toContain('stream consumer lags 5 min (more than 1 min)');
    expect((await check(`${p}-lag`, queues, '--max-lag-seconds', '600')).code).toBe(0);
  });

  it('exits 4 when the consumer stopped (stale heartbeat) or never ran', async () => {
    const stale = await check(`${p}-stopped`);
    expect(stale.code).toBe(CHECK_EXIT.consumerStopped);
    expect(stale.stderr).toContain('stream consumer stale');
    expect((await check(`${p}-never`)).code).toBe(CHECK_EXIT.consumerStopped);
  });

  it('exits 5 when a running backfill stopped writing checkpoints; --json carries the verdict', async () => {
    const r = await check(`${p}-stalled`, fullDlq, '--json');
    expect(r.code).toBe(CHECK_EXIT.runFailed);
    expect(r.stderr).toContain('backfill run run-stalled');
    const report = JSON.parse(r.stdout);
    expect(report.check.exitCode).toBe(CHECK_EXIT.runFailed);
    expect(report.check.problems.map((x: { kind: string }) => x.kind)).toEqual([
      'runFailed',
      'dlqNotEmpty',
    ]);
  });

  it('refuses --check with --watch before reading anything', async () => {
    const r = await check(`${p}-ok`, queues, '--watch', '5');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('--check judges one report: drop --watch');
  });
});
