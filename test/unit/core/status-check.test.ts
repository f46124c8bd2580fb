import { describe, expect, it } from 'vitest';
import { emptyBreakdown } from '../../../lib/core/dlq-message.ts';
import { CHECK_EXIT, checkStatus } from '../../../lib/core/status-check.ts';
import type { ScanStatus, StatusReport } from '../../../lib/core/status-report.ts';

const NOW = Date.parse('2026-12-01T12:00:00Z');
const limits = { maxLagMs: 60_000, stalledAfterMs: 600_000 };
const queue = { visible: 0, inFlight: 0, delayed: 0, backlog: 0 };

function report(over: {
  dlq?: number;
  consumer?: Partial<StatusReport['consumer']>;
  scan?: Partial<ScanStatus>;
}): StatusReport {
  return {
    mode: 'local',
    at: new Date(NOW).toISOString(),
    queue: { name: 'w', ...queue, oldestAgeSeconds: null, oldestAgeSource: 'n/a locally' },
    dlq: { name: 'd', ...queue, backlog: over.dlq ?? 0, sampled: 0, byKind: emptyBreakdown() },
    consumer: {
      source: 'heartbeat',
      state: 'caught-up',
      lagMs: 500,
      heartbeatAgeMs: 100,
      detail: 'caught up',
      ...over.consumer,
    },
    scan: over.scan
      ? ({
          runId: 'r',
          table: 't',
          status: 'running',
          updatedAt: new Date(NOW).toISOString(),
          ...over.scan,
        } as ScanStatus)
      : null,
    migrationSetMismatch: null,
  };
}

const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe('status --check', () => {
  it('is healthy with an empty DLQ, a caught-up consumer and an active or finished run', () => {
    expect(checkStatus(report({}), limits)).toEqual({ exitCode: 0, problems: [] });
    expect(checkStatus(report({ scan: { updatedAt: ago(60_000) } }), limits).exitCode).toBe(0);
    expect(
      checkStatus(report({ scan: { status: 'finished', updatedAt: ago(3e8) } }), limits).exitCode,
    ).toBe(0);
  });

  it('a paused run is idle on purpose until the stream retention makes it unresumable', () => {
    expect(
      checkStatus(report({ scan: { status: 'paused', updatedAt: ago(3_600_000) } }), limits)
        .exitCode,
    ).toBe(0);
    const r = checkStatus(
      report({ scan: { status: 'paused', updatedAt: ago(25 * 3_600_000) } }),
      limits,
    );
    expect(r.exitCode).toBe(CHECK_EXIT.runFailed);
    expect(r.problems[0]!.reason).toContain("past the stream's 24 h retention");
  });

  it('lag counts only beyond the threshold; a stopped consumer is not "lagging"', () => {
    expect(checkStatus(report({ consumer: { lagMs: 60_000 } }), limits).exitCode).toBe(0);
    expect(checkStatus(report({ consumer: { lagMs: 60_001 } }), limits).exitCode).toBe(
      CHECK_EXIT.consumerLagging,
    );
    const stopped = checkStatus(report({ consumer: { state: 'disabled', lagMs: 9e6 } }), limits);
    expect(stopped.problems.map((p) => p.kind)).toEqual(['consumerStopped']);
  });

  it('several problems: the most severe code, all listed', () => {
    const r = checkStatus(
      report({ dlq: 3, consumer: { state: 'stale' }, scan: { updatedAt: ago(700_000) } }),
      limits,
    );
    expect(r.exitCode).toBe(CHECK_EXIT.runFailed);
    expect(r.problems.map((p) => p.code)).toEqual([5, 4, 2]);
  });
});
