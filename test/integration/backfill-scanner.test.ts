// The backfill scanner in-process on DynamoDB Local and ElasticMQ: exactly-once across
// segments, consumer-first waiting, throttling back-off by reason, operator pause, --limit,
// --user, --keys, dry run, and refusing a new run over an unfinished one.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { heartbeatProbe } from '../../lib/adapters/consumer-probe.ts';
import { LookupReader } from '../../lib/adapters/lookup-reader.ts';
import { PIKA } from '../support/pika.ts';
import { consumerHeartbeatId, CONSUMER_HEARTBEAT } from '../../lib/config/defaults.ts';
import { RunStateError } from '../../lib/core/backfill-run.ts';
import {
  runBackfill,
  type BackfillDeps,
  type BackfillOptions,
  type BackfillSummary,
  type WaitEvent,
} from '../../lib/engine/backfill.ts';
import {
  backfillFixture,
  drainQueueKeys,
  freshHeartbeat,
  sessionId,
  type BackfillFixture,
} from '../support/backfill-fixture.ts';
import { useLocalServices } from '../support/env.ts';
import { ThrottlingProxy } from '../support/throttling-proxy.ts';

useLocalServices('backfillscanner');

let clients: Clients;
beforeAll(() => {
  clients = makeClients({ searchEndpoint: undefined, maxAttempts: 2 });
});
afterAll(() => destroyClients(clients));

const options = (f: BackfillFixture, over: Partial<BackfillOptions> = {}): BackfillOptions => ({
  table: 'session',
  tableName: f.tables.session,
  searchEnabled: false,
  segments: 4,
  pageSize: 50,
  pollMs: 100,
  ...over,
});
const deps = (f: BackfillFixture, over: Partial<BackfillDeps> = {}): BackfillDeps => ({
  planner: PIKA,
  doc: clients.doc,
  dynamodb: clients.dynamodb,
  sqs: clients.sqs,
  queueUrl: f.queueUrl,
  state: f.state,
  consumer: heartbeatProbe(f.state, consumerHeartbeatId(f.tables.session), {
    staleMs: CONSUMER_HEARTBEAT.staleAfterMs,
  }),
  ...over,
});

/**
 * A backfill of `f` whose scanner client passes the throttling proxy with `rule` (no SDK
 * retry). Checks nothing was lost or sent twice; returns the throttle waits.
 */
async function throttledBackfill(
  f: BackfillFixture,
  rule: Parameters<ThrottlingProxy['throttle']>[0],
): Promise<{ summary: BackfillSummary; throttled: WaitEvent[]; requests: number }> {
  const proxy = new ThrottlingProxy(process.env.AWS_ENDPOINT_URL_DYNAMODB as string);
  await proxy.start();
  const dynamodb = new DynamoDBClient({ endpoint: proxy.url, maxAttempts: 1 });
  try {
    proxy.throttle(rule);
    const waits: WaitEvent[] = [];
    const summary = await runBackfill(
      options(f),
      deps(f, { doc: DynamoDBDocumentClient.from(dynamodb) }),
      { onWait: (w) => waits.push(w) },
    );
    const q = await drainQueueKeys(clients.sqs, f.queueUrl);
    expect(new Set(q.keys)).toEqual(f.pending);
    expect(q.keys).toHaveLength(f.pending.size);
    const throttled = waits.filter((w) => w.kind.startsWith('throttle'));
    return { summary, throttled, requests: proxy.counts.throttled };
  } finally {
    dynamodb.destroy();
    await proxy.stop();
  }
}
/** A fixture whose stream consumer looks running and caught up (a fresh heartbeat). */
async function ready(name: string, n: number): Promise<BackfillFixture> {
  const f = await backfillFixture(clients, name, n);
  await freshHeartbeat(f);
  return f;
}
const tableArn = (name: string): string => `arn:aws:dynamodb:us-east-1:123456789012:table/${name}`;

describe('backfill scanner', () => {
  it('enqueues every item exactly once across 8 segments and finishes the run', async () => {
    const f = await ready('bf-once', 1_000);
    const s = await runBackfill(options(f, { segments: 8 }), deps(f));
    expect(s.outcome).toBe('finished');
    expect(s.scanned).toBe(1_000);
    // The planner filter is on (no continuity dep): the fixture's "migrated" quarter carries a
    // stale chat_app_sk, so the planner plans it as pending and nothing is left out.
    expect(s.skipped).toBe(0);
    expect(s.skippedSettled).toBe(0);
    expect(s.enqueued).toBe(1_000);
    expect(s.filter).toMatch(/^planner: /);
    const q = await drainQueueKeys(clients.sqs, f.queueUrl);
    expect(q.keys).toHaveLength(1_000);
    expect(new Set(q.keys)).toEqual(f.pending);
    // many items per message
    expect(q.messages).toBeLessThan(1_000 / 10);
    const cps = await f.state.getCheckpoints(s.runId as string);
    expect(cps.map((c) => c.segment)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(cps.every((c) => c.counts.done && c.lastEvaluatedKey === undefined)).toBe(true);
    expect(cps.reduce((n, c) => n + c.counts.scanned, 0)).toBe(1_000);
    expect((await f.state.getRun(f.tables.session))?.status).toBe('finished');
    expect(s.cost.readUnits).toBeGreaterThan(0);
    expect(s.cost.writeUnits).toBeGreaterThanOrEqual(1_000);
  });

  it('waits while the consumer heartbeat is absent or stale, and starts once it is fresh', async () => {
    const f = await backfillFixture(clients, 'bf-wait', 200);
    const reasons: string[] = [];
    let enqueuedWhenFresh: number | undefined;
    let latestEnqueued = 0;
    let step = 0;
    const s = await runBackfill(options(f), deps(f), {
      onProgress: (p) => {
        latestEnqueued = p.enqueued;
      },
      onWait: (w: WaitEvent) => {
        if (w.kind !== 'consumer') return;
        reasons.push(w.reason);
        if (step === 0 && w.reason.includes('no heartbeat')) {
          step = 1;
          void freshHeartbeat(f, Date.now() - 10 * 60_000).then(() => (step = 2));
        } else if (step === 2 && w.reason.includes('stale')) {
          step = 3;
          enqueuedWhenFresh = latestEnqueued;
          void freshHeartbeat(f);
        }
      },
    });
    expect(reasons[0]).toBe(
      'waiting for the stream consumer: no heartbeat — start `streamfill run`',
    );
    expect(reasons.some((r) => r.includes('last heartbeat') && r.includes('stale'))).toBe(true);
    expect(enqueuedWhenFresh).toBe(0);
    expect(s.waits.consumer?.count).toBeGreaterThanOrEqual(2);
    expect(s.enqueued).toBe(f.pending.size);
  });

  it('backs off only the segment a key-range throttle names, then loses nothing', async () => {
    const f = await ready('bf-keyrange', 600);
    const { summary, throttled, requests } = await throttledBackfill(f, {
      operation: 'Scan',
      tableName: f.tables.session,
      bodyIncludes: '"Segment":2,',
      count: 3,
      reasons: [
        { reason: 'TableReadKeyRangeThroughputExceeded', resource: tableArn(f.tables.session) },
      ],
    });
    expect(requests).toBe(3);
    expect(throttled.length).toBeGreaterThanOrEqual(3);
    expect(throttled.every((w) => w.kind === 'throttle-segment' && w.segment === 2)).toBe(true);
    expect(throttled[0]?.reason).toMatch(
      new RegExp(
        `^segment 2 backing off .+: TableReadKeyRangeThroughputExceeded on ${f.tables.session}$`,
      ),
    );
    expect(summary.waits['throttle-all']).toBeUndefined();
  });

  it('slows every segment on a table-level throttle, then loses nothing', async () => {
    const f = await ready('bf-tablelimit', 400);
    const { summary, throttled } = await throttledBackfill(f, {
      operation: 'Scan',
      tableName: f.tables.session,
      error: 'ProvisionedThroughputExceededException',
      count: 2,
      reasons: [
        { reason: 'TableReadProvisionedThroughputExceeded', resource: tableArn(f.tables.session) },
      ],
    });
    expect(throttled.length).toBeGreaterThanOrEqual(2);
    expect(throttled.every((w) => w.kind === 'throttle-all')).toBe(true);
    expect(throttled[0]?.reason).toMatch(
      /^all segments backing off .+: TableReadProvisionedThroughputExceeded on /,
    );
    expect(summary.waits['throttle-segment']).toBeUndefined();
  });

  it('pauses on the operator flag without losing its position, and resumes', async () => {
    const f = await ready('bf-pause', 600);
    let phase: 'running' | 'pausing' | 'paused' | 'resumed' = 'running';
    let enqueuedAtPause = -1;
    let latest = 0;
    let pausedWaits = 0;
    let statusWhilePaused: string | undefined;
    const s = await runBackfill(options(f, { segments: 2, pageSize: 25, rate: 400 }), deps(f), {
      onProgress: (p) => {
        latest = p.enqueued;
        if (phase === 'running' && p.enqueued > 0) {
          phase = 'pausing';
          void f.state.setPauseRequested(f.tables.session, true);
        }
        // paused once both lanes wait on the operator (pages in flight finish first)
        const both =
          p.laneWaits.length === 2 &&
          p.laneWaits.every((w) => w.reason.startsWith('paused by operator'));
        if (phase === 'pausing' && both) {
          phase = 'paused';
          enqueuedAtPause = p.enqueued;
        }
      },
      onWait: (w) => {
        if (w.kind !== 'operator-pause') return;
        expect(w.reason).toBe('paused by operator (`streamfill backfill resume` continues)');
        if (phase === 'paused' && ++pausedWaits === 6) {
          // three more polls per lane: nothing was enqueued meanwhile, the run says paused
          expect(latest).toBe(enqueuedAtPause);
          phase = 'resumed';
          void f.state.getRun(f.tables.session).then((r) => {
            statusWhilePaused = r?.status;
            return f.state.setPauseRequested(f.tables.session, false);
          });
        }
      },
    });
    expect(phase).toBe('resumed');
    expect(statusWhilePaused).toBe('paused');
    expect(enqueuedAtPause).toBeLessThan(f.pending.size);
    expect(s.outcome).toBe('finished');
    const q = await drainQueueKeys(clients.sqs, f.queueUrl);
    expect(q.keys).toHaveLength(f.pending.size);
    expect(new Set(q.keys)).toEqual(f.pending);
  });

  it('--limit stops at exactly N, refuses a new run over it, and --resume completes it', async () => {
    const f = await ready('bf-limit', 500);
    const first = await runBackfill(options(f, { limit: 120 }), deps(f));
    expect(first.outcome).toBe('limit');
    expect(first.enqueued).toBe(120);
    expect((await drainQueueKeys(clients.sqs, f.queueUrl)).keys).toHaveLength(120);

    const refused = runBackfill(options(f), deps(f));
    await expect(refused).rejects.toBeInstanceOf(RunStateError);
    await expect(refused).rejects.toThrow(/has not finished.*--resume.*--restart/s);

    const resumed = await runBackfill(options(f, { resume: true }), deps(f));
    expect(resumed.outcome).toBe('finished');
    expect(resumed.runId).toBe(first.runId);
    const rest = await drainQueueKeys(clients.sqs, f.queueUrl);
    // 120 already sent; the resumed pass re-reads at most the one unfinished page per segment
    expect(rest.keys.length).toBeGreaterThanOrEqual(f.pending.size - 120);
    expect(rest.keys.length).toBeLessThanOrEqual(f.pending.size - 120 + 4 * 50);

    const again = await runBackfill(options(f, { restart: false }), deps(f));
    expect(again.outcome).toBe('finished'); // the finished run no longer blocks a new one
    await drainQueueKeys(clients.sqs, f.queueUrl);
  });

  it('--user queries only those partitions; --keys repairs exactly the keys and reports missing ones', async () => {
    const f = await ready('bf-users', 200);
    const users = await runBackfill(options(f, { users: ['u1', 'u3'] }), deps(f));
    const expected = [...f.pending].filter((k) => k.startsWith('u1|') || k.startsWith('u3|'));
    expect(users.runId).toBeUndefined();
    const uq = await drainQueueKeys(clients.sqs, f.queueUrl);
    expect(uq.keys.sort()).toEqual(expected.sort());

    const migrated = f.all[0] as { user_id: string; session_id: string }; // already migrated: still repaired
    const keys = [
      { user_id: migrated.user_id, session_id: migrated.session_id },
      { user_id: 'u5', session_id: 's-00005' },
      { user_id: 'nobody', session_id: 'nothing' },
    ];
    const k = await runBackfill(options(f, { keys }), deps(f));
    expect(k.missingKeys).toEqual([{ user_id: 'nobody', session_id: 'nothing' }]);
    expect(k.enqueued).toBe(2);
    const kq = await drainQueueKeys(clients.sqs, f.queueUrl);
    expect(kq.keys.sort()).toEqual([sessionId(keys[0]!), 'u5|s-00005'].sort());
  });

  it('--distributed enqueues one scan-segment task per segment and records the mode', async () => {
    const f = await ready('bf-dist', 50);
    const s = await runBackfill(options(f, { distributed: true, segments: 5 }), deps(f));
    expect(s.outcome).toBe('tasks-enqueued');
    const q = await drainQueueKeys(clients.sqs, f.queueUrl);
    expect(q.kinds).toEqual(Array(5).fill('scan-segment'));
    const run = await f.state.getRun(f.tables.session);
    expect(run).toMatchObject({
      runId: s.runId,
      status: 'running',
      totalSegments: 5,
      owner: `distributed:${s.runId}`,
    });
    expect(run?.options.mode).toBe('distributed');
  });

  it('--dry-run enqueues nothing, keeps no run, shows diffs and estimates the cost', async () => {
    const f = await backfillFixture(clients, 'bf-dry', 300);
    const s = await runBackfill(
      options(f, { dryRun: true, samples: 10 }),
      deps(f, { lookups: new LookupReader(clients.doc, f.tables) }),
    );
    expect(s.dryRun).toBe(true);
    expect(s.enqueued).toBe(0);
    expect(s.dryRunCounts?.wouldWrite).toBe(f.pending.size);
    expect(s.samples).toHaveLength(10);
    // Which items the parallel segments sample first varies: each is checked by its kind (every
    // 4th session of the fixture is migrated with a stale chat_app_sk, the rest are legacy).
    for (const sample of s.samples!) {
      const attrs = sample.changes.map((c) => c.attribute).sort();
      if (Number(String(sample.key.session_id).slice(2)) % 4 === 0) {
        expect(attrs).toEqual(['chat_app_sk']);
        continue;
      }
      expect(attrs).toEqual(['chat_app_sk', 'source', 'user_type']);
      const ut = sample.changes.find((c) => c.attribute === 'user_type');
      expect(ut?.before).toBeUndefined();
      const uid = Number(String(sample.key.user_id).slice(1));
      expect(ut?.after).toBe(uid < 10 ? 'internal-user' : 'external-user');
    }
    expect(s.cost.writeUnits).toBeGreaterThanOrEqual(f.pending.size);
    expect(s.cost.usd.total).toBeGreaterThan(0);
    expect(await f.state.getRun(f.tables.session)).toBeUndefined();
    expect((await drainQueueKeys(clients.sqs, f.queueUrl)).messages).toBe(0);
  });
});
