// The durable records of a backfill run (run, per-segment checkpoints, consumer heartbeat) and
// the pure checks on them: one unfinished run at a time, and no resume past stream retention.
import type { SegmentCounts } from './scan-progress.ts';
import { formatWait } from './throttle.ts';
import type { TableRole } from './types.ts';
import type { JsonValue } from './work-message.ts';

export type RunStatus = 'running' | 'paused' | 'finished' | 'abandoned';

export interface RunRecord {
  runId: string;
  table: TableRole;
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
