// The backfill's control plane as an operator meets it, through the real CLI binary on the local
// services: every refusal before any side effect, items that cannot be carried parked and counted
// with a non-zero exit, the consumer's continuity deciding the scan filter, `backfill set` on a
// running scan, and `--distributed` carrying --rate and followed to its end.
import { DescribeTableCommand, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DynamoStateStore } from '../../lib/adapters/backfill-state.ts';
import { consumerHeartbeatId } from '../../lib/config/defaults.ts';
import { decodeWorkMessage } from '../../lib/core/work-message.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { putItems } from '../../local/pika-tables.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { createBackfillWorker } from '../../handlers/backfill-worker.ts';
import { Logger } from '@aws-lambda-powertools/logger';
import { queueStats } from '../../lib/adapters/work-queue.ts';
import { packMessage } from '../../lib/core/work-message.ts';
import { createLambdaContext } from '../../local/event-source/lambda-context.ts';
import { sqsEvent, takeAllMessages } from '../support/work-queue.ts';
import {
  backfillFixture,
  drainQueueKeys,
  freshHeartbeat,
  sessionId,
  fixtureFlags,
} from '../support/backfill-fixture.ts';
import { useBackfillCli } from '../support/backfill-cli.ts';
import { runCli, startCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('backfillcontrol');

const cli = useBackfillCli('streamfill-bfc-');
const { streamfill } = cli;

const queueExists = async (QueueName: string): Promise<boolean> =>
  cli.clients.sqs.send(new GetQueueUrlCommand({ QueueName })).then(
    () => true,
    () => false,
  );

const tableExists = async (TableName: string): Promise<boolean> =>
  cli.clients.dynamodb.send(new DescribeTableCommand({ TableName })).then(
    () => true,
    (e: unknown) => {
      if (e instanceof ResourceNotFoundException) return false;
      throw e;
    },
  );

/** Takes every message off a queue (long visibility) and returns the decoded bodies. */
async function drainBodies(QueueUrl: string): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let empty = 0; empty < 2;) {
    const r = await cli.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 600,
      }),
    );
    if (!r.Messages?.length) {
      empty++;
      continue;
    }
    empty = 0;
    for (const m of r.Messages) out.push(JSON.parse(m.Body ?? 'null'));
  }
  return out;
}

describe('backfill: refusals before any side effect', () => {
  it('refuses bad flag combinations, options and --keys files: exit 1, no queue or state table created, no preflight', async () => {
    const f = await backfillFixture(cli.clients, 'bfc-refuse', 5);
    // Queues and state table of names nothing has created: a refusal must leave them absent.
    const p = uniqueName('bfc-none');
    const fresh = [
      '--session-table',
      f.tables.session,
      '--user-table',
      f.tables.user,
      '--queue-name',
      `${p}-work`,
      '--dlq-name',
      `${p}-dlq`,
      '--state-table',
      `${p}-state`,
    ];
    const badKeys = join(cli.dir, 'bad-keys.jsonl');
    await writeFile(badKeys, '{"user_id":"u1"}\n');
    const cases: [string[], string][] = [
      [['--resume', '--restart'], '--resume and --restart cannot be combined'],
      [['--dry-run', '--resume'], '--dry-run cannot be combined with --resume'],
      [['--dry-run', '--restart'], '--dry-run cannot be combined with --restart'],
      [['--dry-run', '--distributed'], '--dry-run cannot be combined with --distributed'],
      [['--distributed', '--limit', '5'], '--limit cannot be combined with --distributed'],
      [['--distributed', '--resume'], '--resume of a distributed run'],
      [
        ['--distributed', '--checkpoint-file', join(cli.dir, 'state.json')],
        '--distributed cannot keep its run in --checkpoint-file',
      ],
      [['--detach'], '--detach applies to --distributed only'],
      [
        ['--distributed', '--segments', '16', '--rate', '0.01'],
        '--rate 0.01 is too low for --distributed over 16 segments',
      ],
      [['--user', 'u1', '--resume'], '--resume applies to full scans'],
      [['--keys', badKeys], `--keys ${badKeys} line 1: session keys are user_id, session_id`],
      [['--keys', badKeys, '--user', 'u1'], '--user and --keys cannot be combined'],
      [
        ['--json', join(cli.dir, 'no-such-dir', 'out.json')],
        `directory ${join(cli.dir, 'no-such-dir')} does not exist`,
      ],
      [['--table', 'all', '--user', 'u1'], '--user and --keys name items of one table'],
      [['--migrations', 'session-sort-key,nope'], 'names unknown migrations nope'],
      // Needs a read of the run state, still before anything is created.
      [['--resume'], `nothing to resume for ${f.tables.session}`],
    ];
    for (const [args, message] of cases) {
      const r = await streamfill('backfill', ...fresh, ...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(message);
      expect(r.stdout, args.join(' ')).not.toContain('preflight');
    }
    const badEnv = await runCli(['backfill', ...fresh], { ...cli.env, STREAMFILL_CANARY: 'maybe' });
    expect(badEnv.code).toBe(1);
    expect(badEnv.stderr).toContain('STREAMFILL_CANARY must be on or off, got "maybe"');
    expect(await queueExists(`${p}-work`)).toBe(false);
    expect(await queueExists(`${p}-dlq`)).toBe(false);
    expect(await tableExists(`${p}-state`)).toBe(false);
  });
});

describe('backfill: the migration set it scans for', () => {
  it('--migrations (what --stack fills from the deployed set) is what the messages name and project', async () => {
    const f = await backfillFixture(cli.clients, 'bfc-set', 8);
    await freshHeartbeat(f);
    const r = await streamfill('backfill', ...fixtureFlags(f), '--migrations', 'session-sort-key');
    expect(r.code, r.stderr).toBe(0);
    const bodies = await takeAllMessages(cli.clients.sqs, f.queueUrl);
    expect(bodies.length).toBeGreaterThan(0);
    for (const body of bodies) {
      const msg = decodeWorkMessage(body);
      expect(msg.kind).toBe('items');
      if (msg.kind !== 'items') continue;
      expect(msg.scannedFor?.migrations).toEqual(['session-sort-key']);
      // session-user-type's input is not carried: a worker cannot plan it from these messages.
      expect(msg.scannedFor?.projection).not.toContain('user_type');
    }
  });
});

describe('backfill: items that cannot be carried', () => {
  it('parks a too-large item with its reason, counts it, exits 3, and finishes the scan; a binary input is carried', async () => {
    const f = await backfillFixture(cli.clients, 'bfc-park', 60);
    await freshHeartbeat(f);
    const huge = {
      user_id: 'u1',
      session_id: 'huge',
      chat_app_id: 'x'.repeat(300_000),
      last_update: '2025-01-01T00:00:00.000Z',
    };
    const binary = {
      user_id: 'u2',
      session_id: 'binary',
      chat_app_id: new Uint8Array([1, 2, 3]),
      last_update: '2025-01-01T00:00:00.000Z',
    };
    await putItems(cli.clients.doc, f.tables.session, [huge, binary]);
    const json = join(cli.dir, 'park.json');
    const r = await streamfill(
      'backfill',
      ...fixtureFlags(f),
      '--segments',
      '2',
      '--page-size',
      '10',
      '--json',
      json,
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toContain('1 item(s) could not be carried to the worker');
    expect(r.stderr).toContain('1 item(s) could not be carried to the worker and were parked');
    const summary = JSON.parse(await (await import('node:fs/promises')).readFile(json, 'utf8'));
    expect(summary).toMatchObject({ outcome: 'finished', unsendable: 1, parked: 1 });
    // Every other item went through the queue, the binary one included (work messages carry
    // every DynamoDB type); the run finished and checkpointed.
    const q = await drainQueueKeys(cli.clients.sqs, f.queueUrl);
    expect(new Set(q.keys)).toEqual(new Set([...f.pending, 'u2|binary']));
    const run = await f.state.getRun(f.tables.session);
    expect(run?.status).toBe('finished');
    const cps = await f.state.getCheckpoints(run!.runId);
    expect(cps.every((c) => c.counts.done)).toBe(true);
    // Each parked with its table, key and reason.
    const dlqUrl = (await cli.clients.sqs.send(new GetQueueUrlCommand({ QueueName: f.dlqName })))
      .QueueUrl as string;
    const parked = (await drainBodies(dlqUrl)) as {
      source: string;
      table: string;
      key: Record<string, string>;
      reason: string;
    }[];
    expect(parked.map((p) => p.key.session_id)).toEqual(['huge']);
    for (const p of parked) {
      expect(p.source).toBe('backfill-scanner');
      expect(p.table).toBe(f.tables.session);
    }
    expect(parked.find((p) => p.key.session_id === 'huge')?.reason).toContain(
      'does not fit one work message',
    );
  });
});

// The planner filter (lib/core/backfill-filter.ts) is off after a consumer break, and it sees a
// stale derived value for what it is: a consumer break cannot make a pass skip a stale item.
describe('backfill: the consumer continuity cannot hide a stale item', () => {
  it('after a consumer break longer than the stream retention, every item is enqueued, before and after', async () => {
    const f = await backfillFixture(cli.clients, 'bfc-break', 40);
    // The fixture's migrated sessions carry a stale chat_app_sk ("weather#user#x"): present, so
    // an attribute filter would skip them; the planner plans them as pending.
    const now = Date.now() + 5 * 60_000;
    const day = 24 * 3_600_000;
    await f.state.putHeartbeat({
      component: consumerHeartbeatId(f.tables.session),
      lastBatchAtMs: now,
      lagMs: 0,
      caughtUp: true,
      updatedAtMs: now,
      firstSeenMs: now - 3 * day,
      continuousSinceMs: now - 3_600_000,
    });
    const r = await streamfill('backfill', ...fixtureFlags(f), '--segments', '2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      "filter: none: the stream consumer was stopped for longer than the stream's 24 h retention",
    );
    const q = await drainQueueKeys(cli.clients.sqs, f.queueUrl);
    expect(new Set(q.keys)).toEqual(new Set(f.all.map(sessionId)));
    // The run says it was unfiltered, so a later continuity check has nothing to repair.
    expect((await f.state.getRun(f.tables.session))?.options.unfiltered).toBe(true);

    // That unfiltered pass repaired the break: the next one filters, and leaves out none.
    const again = await streamfill('backfill', ...fixtureFlags(f), '--segments', '2');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('filter: planner:');
    expect(again.stdout).toContain('skipped 0 (0 settled');
    expect(new Set((await drainQueueKeys(cli.clients.sqs, f.queueUrl)).keys)).toEqual(
      new Set(f.all.map(sessionId)),
    );
  });

  it('with no consumer heartbeat at all (--no-wait-for-consumer), every item is enqueued', async () => {
    const f = await backfillFixture(cli.clients, 'bfc-nohb', 20);
    const r = await streamfill(
      'backfill',
      ...fixtureFlags(f),
      '--segments',
      '2',
      '--no-wait-for-consumer',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('filter: none: no consumer heartbeat in the state store');
    expect(new Set((await drainQueueKeys(cli.clients.sqs, f.queueUrl)).keys)).toEqual(
      new Set(f.all.map(sessionId)),
    );
  });
});

describe('backfill set: the limits of a running scan', () => {
  it('changes the rate of a running scan through the state table; the progress line shows it and who; status shows the limits', async () => {
    const f = await backfillFixture(cli.clients, 'bfc-set', 400, 1_000);
    await freshHeartbeat(f);
    const scan = startCli(
      [
        'backfill',
        ...fixtureFlags(f),
        '--segments',
        '2',
        '--page-size',
        '10',
        '--rate',
        '10',
        '--poll-interval-ms',
        '200',
        '--progress-interval',
        '1',
      ],
      cli.env,
    );
    // Wait for the run to exist and scan, then raise the rate from elsewhere.
    for (;;) {
      const run = await f.state.getRun(f.tables.session);
      if (run && (await f.state.getCheckpoints(run.runId)).length) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // --json: one document on stdout (before, after, who), the human line on stderr.
    const setJson = await streamfill(
      'backfill',
      'set',
      ...fixtureFlags(f),
      '--max-lag-seconds',
      '90',
      '--by',
      'bo@ops',
      '--json',
    );
    expect(setJson.code, setJson.stderr).toBe(0);
    expect(JSON.parse(setJson.stdout)).toMatchObject({
      table: f.tables.session,
      runId: expect.any(String),
      before: { rate: 10, maxBacklog: 2000, maxLagSeconds: 60 },
      after: { rate: 10, maxBacklog: 2000, maxLagSeconds: 90, changedBy: 'bo@ops' },
      changedBy: 'bo@ops',
    });
    expect(setJson.stderr).toContain('limits changed by bo@ops: max-lag-seconds 60 → 90');
    // The scanner picks it up before the next change, so that one reads against it.
    for (const until = Date.now() + 20_000; !scan.out().includes('changed by bo@ops');) {
      expect(Date.now()).toBeLessThan(until);
      await new Promise((r) => setTimeout(r, 100));
    }
    const set = await streamfill(
      'backfill',
      'set',
      ...fixtureFlags(f),
      '--rate',
      'unlimited',
      '--max-backlog',
      '5000',
      '--by',
      'ana@ops',
    );
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toContain(
      'limits changed by ana@ops: rate 10 → unlimited, max-backlog 2000 → 5000',
    );
    const done = await scan.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain(
      'no rate limit (limits changed by ana@ops: rate 10 → unlimited, max-backlog 2000 → 5000)',
    );
    const status = await streamfill('status', ...fixtureFlags(f), '--json');
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout).scan.limits).toMatchObject({
      rate: null,
      maxBacklog: 5000,
      maxLagSeconds: 90,
      changedBy: 'ana@ops',
    });
    const human = await streamfill('status', ...fixtureFlags(f));
    expect(human.stdout).toContain(
      'Limits: no rate limit, max backlog 5,000, max lag 1 min 30 s (changed by ana@ops',
    );

    const none = await streamfill('backfill', 'set', ...fixtureFlags(f), '--rate', '5');
    expect(none.code).toBe(1);
    expect(none.stderr).toContain(`backfill of ${f.tables.session}: no unfinished run to change`);
  });
});

describe('backfill --distributed', () => {
  it('carries --rate into the segment tasks (--detach returns at once)', async () => {
    const f = await backfillFixture(cli.clients, 'bfc-dist-rate', 10);
    await freshHeartbeat(f);
    const r = await streamfill(
      'backfill',
      ...fixtureFlags(f),
      '--distributed',
      '--detach',
      '--segments',
      '3',
      '--rate',
      '30',
    );
    expect(r.code, r.stderr).toBe(0);
    const tasks = (await drainBodies(f.queueUrl)).map((b) => decodeWorkMessage(JSON.stringify(b)));
    expect(tasks).toHaveLength(3);
    for (const t of tasks) expect(t).toMatchObject({ kind: 'scan-segment', rate: 30 });
  });

  it("follows the segment tasks' checkpoints with the progress line until the scan is done, and finishes the run", async () => {
    const f = await backfillFixture(cli.clients, 'bfc-dist-follow', 120);
    const state = new DynamoStateStore(cli.clients.doc, f.stateTable);
    const runner = await startLocalRunner({
      clients: cli.clients,
      deps: {
        ...engineDeps(cli.clients, { tables: f.tables, searchIndex: 'unused' }),
        search: undefined,
      },
      tables: f.tables,
      queueName: f.queueName,
      dlqName: f.dlqName,
      startingPosition: 'LATEST',
      stateStore: state,
      logger: { info: () => {}, warn: () => {}, error: () => {} },
      handlerLogLevel: 'SILENT',
    });
    try {
      // A real consumer runs (pinned at LATEST seconds after its start): the canary gate on.
      const r = await runCli(
        [
          'backfill',
          ...fixtureFlags(f),
          '--distributed',
          '--segments',
          '3',
          '--page-size',
          '20',
          '--poll-interval-ms',
          '200',
        ],
        { ...cli.env, STREAMFILL_CANARY: 'on' },
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('the stream consumer read the canary');
      expect(r.stdout).toContain('following their checkpoints');
      expect(r.stdout).toMatch(/100\.0 % \| scanned 120 \| enqueued 120 .*segments 3\/3/);
      const run = await f.state.getRun(f.tables.session);
      expect(run?.status).toBe('finished');
    } finally {
      await runner.stop();
    }
  });

  it("paces a segment's continuation by its share of the rate; the run record's limits (backfill set) win", async () => {
    const f = await backfillFixture(cli.clients, 'bfc-dist-pace', 30);
    const state = new DynamoStateStore(cli.clients.doc, f.stateTable);
    const runId = 'run-pace';
    await state.startRun({
      runId,
      table: 'session',
      tableName: f.tables.session,
      totalSegments: 1,
      startedAtMs: Date.now(),
      updatedAtMs: Date.now(),
      status: 'running',
      pauseRequested: false,
      owner: `distributed:${runId}`,
      options: { mode: 'distributed' },
    });
    const worker = createBackfillWorker({
      deps: {
        ...engineDeps(cli.clients, { tables: f.tables, searchIndex: 'unused' }),
        search: undefined,
      },
      workQueue: { sqs: cli.clients.sqs, url: f.queueUrl },
      doc: cli.clients.doc,
      stateStore: state,
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    const task = (rate?: number) =>
      packMessage({
        v: 1,
        kind: 'scan-segment',
        table: 'session',
        runId,
        segment: 0,
        totalSegments: 1,
        pageSize: 10,
        ...(rate !== undefined && { rate }),
      }).body;
    const ctx = createLambdaContext({ functionName: 'test-worker' });
    // 10 items at 0.02 items/s: the next page waits 500 s (a delayed continuation).
    await worker(sqsEvent([task(0.02)]), ctx);
    const paced = await queueStats(cli.clients.sqs, f.queueUrl);
    expect(paced.delayed).toBe(1);
    expect(paced.visible).toBe(1); // the page's items
    await drainBodies(f.queueUrl);
    // `backfill set --rate unlimited` wrote limits into the run record: they win over the task's.
    await state.setLimits(f.tables.session, {
      rate: null,
      changedBy: 'ana@ops',
      changedAtMs: Date.now(),
    });
    await worker(sqsEvent([task(0.02)]), ctx);
    const after = await queueStats(cli.clients.sqs, f.queueUrl);
    expect(after.delayed).toBe(1); // still only the first continuation
    expect(after.visible).toBeGreaterThanOrEqual(2); // the items and the continuation
  });
});
