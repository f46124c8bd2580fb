// Scan progress, consumer state and the one-line summary of `status`, from durable records.
import { describe, expect, it } from 'vitest';
import type { RunRecord, SegmentCheckpoint } from '../../../lib/core/backfill-run.ts';
import {
  consumerFromHeartbeat,
  consumerFromMapping,
  scanStatus,
  statusLine,
  type StatusReport,
} from '../../../lib/core/status-report.ts';
import { emptyBreakdown } from '../../../lib/core/dlq-message.ts';

const T0 = 1_700_000_000_000;
const run = (over: Partial<RunRecord> = {}): RunRecord => ({
  runId: 'r',
  table: 'session',
  tableName: 'chat-session-local',
  totalSegments: 4,
  startedAtMs: T0,
  updatedAtMs: T0,
  status: 'running',
  pauseRequested: false,
  owner: 'o',
  options: {},
  ...over,
});
const cp = (segment: number, scanned: number, done: boolean): SegmentCheckpoint => ({
  runId: 'r',
  segment,
  counts: { scanned, enqueued: scanned, skipped: 0, done },
  updatedAtMs: T0 + 50_000,
});

/** How old a heartbeat may be before it counts as stale (the caller's setting). */
const STALE = 30_000;

describe('scanStatus', () => {
  it('estimates fraction and ETA from finished segments and the average rate', () => {
    // 1,500 items in 100 s = 15/s; expected 4 × 1,000 = 4,000 → 2,500 left → 166.7 s.
    const s = scanStatus(run(), [cp(0, 1_000, true), cp(2, 500, false)], T0 + 100_000);
    expect(s.fraction).toBeCloseTo(0.375, 6);
    expect(s.ratePerSecond).toBeCloseTo(15, 6);
    expect(s.etaMs).toBeCloseTo(166_667, -1);
    expect(s.etaText).toMatch(/^ETA 2 min 47 s \(from 1 of 4 finished segments\)$/);
    expect(s.segments.map((g) => g.updatedAt === null)).toEqual([false, true, false, true]);
    expect(s.segmentsDone).toBe(1);
  });

  it('has no ETA before a segment finishes, nor for a stopped run', () => {
    expect(scanStatus(run(), [cp(0, 10, false)], T0 + 1_000).etaText).toBe(
      'ETA unknown (no segment finished yet)',
    );
    const paused = scanStatus(run({ status: 'paused' }), [cp(0, 1_000, true)], T0 + 900_000);
    expect(paused.etaMs).toBeNull();
    expect(paused.etaText).toBe('paused: no ETA');
    // A stopped run's rate counts only the time it ran (until its last checkpoint).
    expect(paused.ratePerSecond).toBeCloseTo(20, 6);
  });

  it('is done when every segment is', () => {
    const s = scanStatus(
      run({ totalSegments: 2, status: 'finished' }),
      [cp(0, 5, true), cp(1, 7, true)],
      T0 + 60_000,
    );
    expect(s.fraction).toBe(1);
    expect(s.etaText).toBe('done');
  });
});

describe('consumer state', () => {
  const hb = {
    component: 'stream-consumer',
    lastBatchAtMs: T0,
    lagMs: 2_000,
    caughtUp: false,
    updatedAtMs: T0,
  };

  it('reads the local heartbeat: missing, behind, caught up, stale', () => {
    expect(consumerFromHeartbeat(undefined, T0, STALE).state).toBe('missing');
    expect(consumerFromHeartbeat(hb, T0 + 1_000, STALE)).toMatchObject({
      state: 'behind',
      lagMs: 2_000,
      heartbeatAgeMs: 1_000,
    });
    expect(consumerFromHeartbeat({ ...hb, caughtUp: true }, T0 + 1_000, STALE).state).toBe(
      'caught-up',
    );
    expect(consumerFromHeartbeat({ ...hb, caughtUp: true }, T0 + 31_000, STALE).state).toBe(
      'stale',
    );
  });

  it('reads the AWS event source mapping', () => {
    expect(consumerFromMapping('Enabled', 1_200, 'f')).toMatchObject({
      state: 'enabled',
      lagMs: 1_200,
    });
    expect(consumerFromMapping('Disabled', undefined, 'f')).toMatchObject({
      state: 'disabled',
      lagMs: null,
    });
    expect(consumerFromMapping(undefined, undefined, 'f').detail).toContain(
      'no event source mapping of f',
    );
  });
});

it('statusLine says where the scan is, what is queued and how far behind the consumer is', () => {
  const report: StatusReport = {
    mode: 'local',
    at: '',
    migrationSetMismatch: null,
    queue: {
      name: 'w',
      visible: 1_200,
      inFlight: 30,
      delayed: 0,
      backlog: 1_230,
      oldestAgeSeconds: null,
      oldestAgeSource: 'n/a locally',
    },
    dlq: {
      name: 'd',
      visible: 2,
      inFlight: 0,
      delayed: 0,
      backlog: 2,
      sampled: 2,
      byKind: emptyBreakdown(),
    },
    consumer: consumerFromHeartbeat(
      { component: 'c', lastBatchAtMs: T0, lagMs: 800, caughtUp: true, updatedAtMs: T0 },
      T0,
      STALE,
    ),
    scan: scanStatus(run(), [cp(0, 1_000, true), cp(2, 500, false)], T0 + 100_000),
  };
  expect(statusLine(report)).toBe(
    'Scan: 1,500 scanned, 1,500 enqueued, 0 skipped (37.5%; 1/4 segments); running; 15/s; ETA 2 min 47 s (from 1 of 4 finished segments); ' +
      'Queue: 1,230 (1,200 visible, 30 in flight, 0 delayed; oldest n/a locally); DLQ: 2; Consumer: caught-up, lag 800 ms',
  );
});
