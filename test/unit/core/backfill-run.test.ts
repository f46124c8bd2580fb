import { describe, expect, it } from 'vitest';
import {
  checkNewRunAllowed,
  checkResumable,
  STREAM_RETENTION_MS,
  type RunRecord,
  type SegmentCheckpoint,
} from '../../../lib/core/backfill-run.ts';

const H = 3_600_000;
const NOW = 100 * H;
const run = (over: Partial<RunRecord> = {}): RunRecord => ({
  runId: 'r1',
  table: 'session',
  tableName: 'chat-session-prod',
  totalSegments: 4,
  startedAtMs: NOW - 30 * H,
  updatedAtMs: NOW - 30 * H,
  status: 'running',
  pauseRequested: false,
  owner: 'scanner-a',
  options: {},
  ...over,
});
const cp = (updatedAtMs: number): SegmentCheckpoint => ({
  runId: 'r1',
  segment: 0,
  counts: { scanned: 1, enqueued: 1, skipped: 0, done: false },
  updatedAtMs,
});

describe('a new run', () => {
  it('refuses to start over an unfinished one unless told', () => {
    for (const status of ['running', 'paused'] as const) {
      expect(() => checkNewRunAllowed(run({ status }), { restart: false, nowMs: NOW })).toThrow(
        /^backfill of chat-session-prod: run r1 \(started 30 h ago, (running|paused)\) has not finished. Continue it with `streamfill backfill --resume`, or start over with `streamfill backfill --restart`/,
      );
      expect(() =>
        checkNewRunAllowed(run({ status }), { restart: true, nowMs: NOW }),
      ).not.toThrow();
    }
    for (const status of ['finished', 'abandoned'] as const) {
      expect(() =>
        checkNewRunAllowed(run({ status }), { restart: false, nowMs: NOW }),
      ).not.toThrow();
    }
    expect(() => checkNewRunAllowed(undefined, { restart: false, nowMs: NOW })).not.toThrow();
  });
});

describe('resuming', () => {
  it('is allowed while the newest checkpoint is within the stream retention', () => {
    expect(() => checkResumable(run(), [cp(NOW - 23 * H)], { nowMs: NOW })).not.toThrow();
  });

  it('is refused past the 24 h retention, saying why and how to start over', () => {
    expect(() =>
      checkResumable(run(), [cp(NOW - 25 * H), cp(NOW - 26 * H)], { nowMs: NOW }),
    ).toThrow(
      "run r1 of chat-session-prod last checkpointed 25 h ago, longer than the stream's 24 h retention: " +
        'changes made since may no longer be in the stream, so resuming could miss items. ' +
        'Start over with `streamfill backfill --restart` (abandons it and scans from the start).',
    );
    // no checkpoint at all: the run record's own time counts
    expect(() => checkResumable(run(), [], { nowMs: NOW })).toThrow(/last checkpointed 30 h ago/);
    expect(STREAM_RETENTION_MS).toBe(24 * H);
  });

  it('names what there is to resume, if anything', () => {
    expect(() => checkResumable(undefined, [], { nowMs: NOW, tableName: 't' })).toThrow(
      'nothing to resume for t: no backfill run was started. Run `streamfill backfill` without --resume.',
    );
    expect(() => checkResumable(run({ status: 'finished' }), [], { nowMs: NOW })).toThrow(
      /finished/,
    );
    expect(() => checkResumable(run({ status: 'abandoned' }), [], { nowMs: NOW })).toThrow(
      /abandoned/,
    );
  });
});
