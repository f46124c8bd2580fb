// The durable records of a backfill run (run, per-segment checkpoints, consumer heartbeat) and
// the pure checks on them: one unfinished run at a time, and no resume past stream retention.
import type { SegmentCounts } from './scan-progress.ts';
import { formatWait } from './throttle.ts';
import type { JsonValue } from './work-message.ts';

export type RunStatus = 'running' | 'paused' | 'finished' | 'abandoned';

export interface RunRecord {
  runId: string;
  /** The declared table. */
  table: string;
  /** The physical table scanned; one current run per table name. */
  tableName: string;
  totalSegments: number;
  startedAtMs: number;
  updatedAtMs: number;
  status: RunStatus;
  /** `backfill pause` sets it; the scanner stops reading (keeping its position) until cleared. */
  pauseRequested: boolean;
  /** The scanner instance that may write checkpoints (changes only by an explicit claim). */
  owner: string;
  /** The options the run was started with (shown by status, reused by --resume). */
  options: Record<string, JsonValue>;
  /** The limits in force now: set at start, changed by `backfill set` while it runs. */
  limits?: RunLimits;
}

/**
 * A running scan's limits, in the run record so that an operator anywhere (a laptop, a deployed
 * stack) can change them and the scanner (or the distributed segment tasks) picks them up.
 */
export interface RunLimits {
  /** Items enqueued per second at most; null = unlimited. */
  rate: number | null;
  maxBacklog?: number;
  maxLagSeconds?: number;
  /** Who made the last change (`user@host` or `backfill set --by`); absent: the run's start. */
  changedBy?: string;
  changedAtMs?: number;
}

/** What `backfill set` changed, for the progress line: `rate 100 → 300 by ana@laptop`. */
export function describeLimitChange(before: RunLimits | undefined, after: RunLimits): string {
  const fmt = (v: number | null | undefined): string =>
    v === null ? 'unlimited' : v === undefined ? 'default' : String(v);
  const parts: string[] = [];
  if ((before?.rate ?? null) !== after.rate)
    parts.push(`rate ${fmt(before?.rate ?? null)} → ${fmt(after.rate)}`);
  if (before?.maxBacklog !== after.maxBacklog)
    parts.push(`max-backlog ${fmt(before?.maxBacklog)} → ${fmt(after.maxBacklog)}`);
  if (before?.maxLagSeconds !== after.maxLagSeconds)
    parts.push(`max-lag-seconds ${fmt(before?.maxLagSeconds)} → ${fmt(after.maxLagSeconds)}`);
  return `limits changed${after.changedBy ? ` by ${after.changedBy}` : ''}: ${parts.length ? parts.join(', ') : 'no change'}`;
}

export interface SegmentCheckpoint {
  runId: string;
  segment: number;
  /** Where to continue; undefined once the segment is done (or before its first page). */
  lastEvaluatedKey?: Record<string, JsonValue>;
  counts: SegmentCounts;
  updatedAtMs: number;
}

/** Published by the stream consumer (`streamfill run` locally) after each batch. */
export interface ConsumerHeartbeat {
  component: string;
  lastBatchAtMs: number;
  lagMs: number;
  caughtUp: boolean;
  updatedAtMs: number;
  /** The consumer's first heartbeat ever in this store (kept across restarts). */
  firstSeenMs?: number;
  /**
   * Since when the consumer has run without a break longer than the stream's retention: a
   * restart after such a break (records trimmed unread) moves it to the restart.
   */
  continuousSinceMs?: number;
}

/**
 * The continuity fields of a consumer that starts publishing now, given its previous heartbeat:
 * a silence longer than the stream's retention is a break (records may have been trimmed unread).
 */
export function continuityOnStart(
  previous: ConsumerHeartbeat | undefined,
  nowMs: number,
  retentionMs = STREAM_RETENTION_MS,
): { firstSeenMs: number; continuousSinceMs: number } {
  if (!previous) return { firstSeenMs: nowMs, continuousSinceMs: nowMs };
  const firstSeenMs = previous.firstSeenMs ?? previous.continuousSinceMs ?? previous.updatedAtMs;
  const broke = nowMs - previous.updatedAtMs > retentionMs;
  return {
    firstSeenMs,
    continuousSinceMs: broke ? nowMs : (previous.continuousSinceMs ?? firstSeenMs),
  };
}

/**
 * Why the scan filter cannot be trusted, or undefined when it can. The filter skips items whose
 * derived attributes are present; a present but stale value (its inputs changed while the
 * consumer was not reading) looks migrated. Writes the consumer never read are those before it
 * started reading and those of a break longer than the retention; only a full pass without the
 * filter, started after the consumer's continuity began, settles them — so the first pass under
 * a consumer, and the first after a break, run without the filter.
 */
export function continuityBreak(
  hb: ConsumerHeartbeat | undefined,
  lastRun: RunRecord | undefined,
  nowMs: number,
  retentionMs = STREAM_RETENTION_MS,
): string | undefined {
  if (!hb) {
    return "no consumer heartbeat in the state store: nothing shows that the stream consumer ran without a break longer than the stream's 24 h retention";
  }
  const silent = nowMs - hb.updatedAtMs;
  if (silent > retentionMs) {
    return `the stream consumer's last heartbeat is ${formatAge(silent)} old, longer than the stream's ${formatAge(retentionMs)} retention: changes made meanwhile may be gone from the stream`;
  }
  const since = hb.continuousSinceMs;
  // A heartbeat that keeps no continuity (an older consumer) is taken at its word.
  if (since === undefined) return undefined;
  const repaired =
    lastRun?.status === 'finished' &&
    lastRun.options.unfiltered === true &&
    lastRun.startedAtMs >= since;
  if (repaired) return undefined;
  if (hb.firstSeenMs !== undefined && since > hb.firstSeenMs) {
    return (
      `the stream consumer was stopped for longer than the stream's ${formatAge(retentionMs)} retention before ${new Date(since).toISOString()} ` +
      `(changes made meanwhile were trimmed unread), and no full pass without the filter has finished since`
    );
  }
  // Writes made before the consumer read (before it started, or before its position was
  // fixed) were never delivered: an item migrated earlier may hold a stale value.
  return `no full pass without the filter has finished since the stream consumer started reading (${new Date(since).toISOString()}): an item migrated before then may hold a stale derived value`;
}

/**
 * The newest migration-set mismatch a backfill worker met on a table (`status` shows it): the
 * scanner scanned for other migrations than the worker runs, or did not project their inputs.
 */
export interface SetMismatchNote {
  tableName: string;
  /** What differs, and what was planned. */
  text: string;
  /** Items messages that differed, as counted by the worker that wrote the note. */
  messages: number;
  atMs: number;
}

/** DynamoDB Streams keep records 24 h. */
export const STREAM_RETENTION_MS = 24 * 3_600_000;

/** The backfill option that abandons an unfinished run and starts a new full pass. */
export const START_OVER_HINT =
  '`streamfill backfill --restart` (abandons it and scans from the start)';

/** A run cannot start or resume as asked; the message says why and what to do. */
export class RunStateError extends Error {
  override readonly name = 'RunStateError';
}

/** A scanner lost (or never had) ownership of the run it writes checkpoints for. */
export class RunOwnershipError extends Error {
  override readonly name = 'RunOwnershipError';
}

export const isUnfinished = (run: RunRecord): boolean =>
  run.status === 'running' || run.status === 'paused';

/**
 * A new run may start when there is no run for the table, the last one finished or was
 * abandoned, or the operator said to start over (`restart`: the caller then abandons it).
 */
export function checkNewRunAllowed(
  current: RunRecord | undefined,
  options: { restart: boolean; nowMs: number },
): void {
  if (!current || !isUnfinished(current) || options.restart) return;
  throw new RunStateError(
    `backfill of ${current.tableName}: run ${current.runId} (started ${formatAge(options.nowMs - current.startedAtMs)} ago, ` +
      `${current.status}) has not finished. Continue it with \`streamfill backfill --resume\`, ` +
      `or start over with ${START_OVER_HINT}.`,
  );
}

/** The newest sign of life of a run: its record or any checkpoint. */
export function lastActivityMs(run: RunRecord, checkpoints: readonly SegmentCheckpoint[]): number {
  return checkpoints.reduce((t, c) => Math.max(t, c.updatedAtMs), run.updatedAtMs);
}

/**
 * A checkpoint is only a valid resume point while every change since it is still in the
 * stream (or was consumed): past 24 h, changes made while the scan stood still may be gone
 * from the stream, so the items between the checkpoint and the table's present could be missed.
 */
export function checkResumable(
  run: RunRecord | undefined,
  checkpoints: readonly SegmentCheckpoint[],
  options: { nowMs: number; retentionMs?: number; tableName?: string },
): asserts run is RunRecord {
  if (!run) {
    throw new RunStateError(
      `nothing to resume${options.tableName ? ` for ${options.tableName}` : ''}: no backfill run was started. Run \`streamfill backfill\` without --resume.`,
    );
  }
  if (run.status === 'finished') {
    throw new RunStateError(
      `nothing to resume: run ${run.runId} of ${run.tableName} finished. Start a new pass with \`streamfill backfill\`.`,
    );
  }
  if (run.status === 'abandoned') {
    throw new RunStateError(
      `run ${run.runId} of ${run.tableName} was abandoned and cannot be resumed. Start a new pass with \`streamfill backfill\`.`,
    );
  }
  const retention = options.retentionMs ?? STREAM_RETENTION_MS;
  const age = options.nowMs - lastActivityMs(run, checkpoints);
  if (age > retention) {
    throw new RunStateError(
      `run ${run.runId} of ${run.tableName} last checkpointed ${formatAge(age)} ago, longer than the stream's ` +
        `${formatAge(retention)} retention: changes made since may no longer be in the stream, so resuming could miss items. ` +
        `Start over with ${START_OVER_HINT}.`,
    );
  }
}

function formatAge(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 1 ? `${Number.isInteger(h) ? h : h.toFixed(1)} h` : formatWait(ms);
}
