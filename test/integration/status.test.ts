// `status` against a seeded state store and real queues (ElasticMQ, DynamoDB Local): the JSON
// carries the right numbers, and the DLQ peek consumes nothing.
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { queueStats } from '../../lib/adapters/work-queue.ts';
import type { RunRecord } from '../../lib/core/backfill-run.ts';
import type { StatusReport } from '../../lib/core/status-report.ts';
import { packItems } from '../../lib/core/work-message.ts';
import { consumerHeartbeatId } from '../../lib/config/defaults.ts';
import { runCli, stderrBeyondTarget } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('status');

let clients: Clients;
const p = uniqueName('st');
const names = { queueName: `${p}-work`, dlqName: `${p}-dlq` };
const stateTable = `${p}-state`;
const sessionTable = `${p}-s`;
let queues: { work: string; dlq: string };

const status = (...args: string[]) =>
  runCli([
    'status',
    '--queue-name',
    names.queueName,
    '--dlq-name',
    names.dlqName,
    '--session-table',
    sessionTable,
    ...args,
  ]);

const send = (QueueUrl: string, MessageBody: string, DelaySeconds?: number) =>
  clients.sqs.send(new SendMessageCommand({ QueueUrl, MessageBody, DelaySeconds }));

beforeAll(async () => {
  clients = makeClients();
  queues = await ensureQueues(clients.sqs, names);
  const body = packItems('session', [
    { key: { user_id: 'u1', session_id: 's1' }, inputs: { chat_app_id: 'a' } },
  ])[0]!.body;
  for (let i = 0; i < 3; i++) await send(queues.work, body);
  await send(queues.work, body, 600);
  await send(queues.dlq, body);
  await send(queues.dlq, body);
  await send(
    queues.dlq,
    '{"DDBStreamBatchInfo":{"shardId":"sh","startSequenceNumber":"1","endSequenceNumber":"2","batchSize":2,"streamArn":"arn:aws:dynamodb:us-east-1:0:table/t/stream/x"}}',
  );
  await new DeadLetters(clients.sqs, queues.dlq).park([
    {
      source: 'stream-consumer',
      reason: 'bad',
      table: sessionTable,
      key: { user_id: 'u' },
      record: {},
    },
  ]);

  await ensureStateTable(clients.dynamodb, stateTable);
  const store = new DynamoStateStore(clients.doc, stateTable);
  const now = Date.now();
  const runRecord: RunRecord = {
    runId: 'run-1',
    table: 'session',
    tableName: sessionTable,
    totalSegments: 4,
    startedAtMs: now - 100_000,
    updatedAtMs: now - 100_000,
    status: 'running',
    pauseRequested: false,
    owner: 'scanner-1',
    options: { segments: 4 },
  };
  await store.startRun(runRecord);
  const counts = (scanned: number, done: boolean) => ({
    scanned,
    enqueued: scanned - 10,
    skipped: 10,
    done,
  });
  await store.saveCheckpoint(sessionTable, 'scanner-1', {
    runId: 'run-1',
    segment: 0,
    counts: counts(1_000, true),
    updatedAtMs: now - 1_000,
  });
  await store.saveCheckpoint(sessionTable, 'scanner-1', {
    runId: 'run-1',
    segment: 2,
    counts: counts(500, false),
    lastEvaluatedKey: { user_id: 'u5', session_id: 's5' },
    updatedAtMs: now - 1_000,
  });
  await store.putHeartbeat({
    component: consumerHeartbeatId(sessionTable),
    lastBatchAtMs: now - 2_000,
    lagMs: 1_500,
    caughtUp: true,
    // Dated ahead: a child process that starts slowly on a loaded machine must not find it
    // stale (staleness itself is unit-tested in status-report.test.ts).
    updatedAtMs: now + 10 * 60_000,
  });
});

afterAll(() => destroyClients(clients));

describe('streamfill status', () => {
  it('--json shows queue and DLQ depth, the DLQ by kind, the consumer and the scan', async () => {
    const r = await status('--json', '--state-table', stateTable);
    expect(stderrBeyondTarget(r.stderr)).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as StatusReport;
    expect(report.mode).toBe('local');
    expect(report.queue).toMatchObject({
      name: names.queueName,
      visible: 3,
      inFlight: 0,
      delayed: 1,
      backlog: 4,
      oldestAgeSeconds: null,
      oldestAgeSource: 'n/a locally',
    });
    expect(report.dlq).toMatchObject({ visible: 4, backlog: 4, sampled: 4 });
    expect(report.dlq.byKind).toEqual({
      items: 2,
      'scan-segment': 0,
      'search-repair': 0,
      'stream-failure': 1,
      parked: 1,
      'parked-search-repair': 0,
      'parked-undecodable': 0,
      unknown: 0,
    });
    expect(report.consumer).toMatchObject({
      source: 'heartbeat',
      state: 'caught-up',
      lagMs: 1_500,
    });
    const scan = report.scan!;
    expect(scan).toMatchObject({
      runId: 'run-1',
      status: 'running',
      totalSegments: 4,
      segmentsDone: 1,
      scanned: 1_500,
      enqueued: 1_480,
      skipped: 20,
      basis: 'finished-segments',
    });
    // 1 finished + 500/1000 of one + 2 untouched, of 4 segments.
    expect(scan.fraction).toBeCloseTo(1.5 / 4, 5);
    expect(scan.segments.map((s) => s.scanned)).toEqual([1_000, 0, 500, 0]);
    expect(scan.etaMs).toBeGreaterThan(0);
    // The peek left every DLQ message visible.
    expect((await queueStats(clients.sqs, queues.dlq)).visible).toBe(4);
    // --table picks another declared table: its own run (none) and its own consumer.
    const tag = await status('--json', '--state-table', stateTable, '--table', 'tag');
    expect(tag.code, tag.stderr).toBe(0);
    const tagReport = JSON.parse(tag.stdout) as StatusReport;
    expect(tagReport.scan).toBeNull();
    expect(tagReport.consumer.state).not.toBe('caught-up');
  });

  it('prints a gh-ost-like line and tables; no state table is no run, not an error', async () => {
    const r = await status('--state-table', `${p}-nostate`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^Scan: no backfill run; Queue: 4 \(3 visible, 0 in flight, 1 delayed; oldest n\/a locally\); DLQ: 4; Consumer: missing/,
    );
    expect(r.stdout).toContain('does not exist');
    const human = await status('--state-table', stateTable);
    expect(human.stdout).toMatch(
      /^Scan: 1,500 scanned, 1,480 enqueued, 20 skipped \(37\.5%; 1\/4 segments\); running/,
    );
    expect(human.stdout).toContain('stream-failure 1');
  });

  it('fails with a clear error for a queue that does not exist or bad input', async () => {
    const r = await status('--queue-name', `${p}-nope`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `queue "${p}-nope" does not exist (set --queue-name / STREAMFILL_QUEUE)`,
    );
    const bad = await status('--watch', 'soon');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('--watch must be a positive number of seconds, got "soon"');
    // --table takes the config's declared names; a physical name is not one.
    const table = await status('--table', sessionTable);
    expect(table.code).toBe(1);
    expect(table.stderr).toContain(
      `--table must name a migrated table of the config (session, tag), got "${sessionTable}"`,
    );
  });
});
