// The backfill's run record: whether a pass may start or resume (read-only, so the CLI can
// refuse before any side effect), and starting or claiming the run once the consumer is ready.
import type { BackfillStateStore } from '../adapters/backfill-state.ts';
import {
  checkNewRunAllowed,
  checkResumable,
  type RunRecord,
  type SegmentCheckpoint,
} from '../core/backfill-run.ts';
import type { JsonValue } from '../core/work-message.ts';
import type { BackfillMode } from './backfill-options.ts';

export interface RunPlan {
  /** The table's current run record as read (any status), if one was ever started. */
  current: RunRecord | undefined;
  /** `--resume`: the run to continue, with its checkpoints. */
  resume?: { run: RunRecord; checkpoints: SegmentCheckpoint[] };
}

/**
 * Reads the table's run record and refuses (RunStateError) what the run state forbids: a resume
 * with nothing resumable, a new run over an unfinished one without `--restart`. Writes nothing.
 */
export async function planRun(
  state: Pick<BackfillStateStore, 'getRun' | 'getCheckpoints'>,
  tableName: string,
  o: { resume?: boolean; restart?: boolean },
  nowMs: number,
): Promise<RunPlan> {
  const current = await state.getRun(tableName);
  if (o.resume) {
    const checkpoints = current ? await state.getCheckpoints(current.runId) : [];
    checkResumable(current, checkpoints, { nowMs, tableName });
    return { current, resume: { run: current, checkpoints } };
  }
  checkNewRunAllowed(current, { restart: o.restart ?? false, nowMs });
  return { current };
}

/** A new run id: its start time (to the second) and the owner's tail, sortable and readable. */
export const newRunId = (nowMs: number, owner: string): string =>
  `${new Date(nowMs).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${owner.slice(-8)}`;

/** Starts a new run (or claims the resumed one) for `owner`; returns the record now current. */
export async function startOrClaimRun(
  state: BackfillStateStore,
  plan: RunPlan,
  r: {
    table: string;
    tableName: string;
    owner: string;
    mode: BackfillMode;
    totalSegments: number;
    pageSize: number;
    restart: boolean;
    recordOptions: Record<string, JsonValue>;
    limits?: RunRecord['limits'];
    nowMs: number;
  },
): Promise<RunRecord> {
  if (plan.resume) {
    const { run } = plan.resume;
    return state.claimRun(r.tableName, run.runId, r.owner, run.owner);
  }
  const runId = newRunId(r.nowMs, r.owner);
  const run: RunRecord = {
    runId,
    table: r.table,
    tableName: r.tableName,
    totalSegments: r.totalSegments,
    startedAtMs: r.nowMs,
    updatedAtMs: r.nowMs,
    status: 'running',
    pauseRequested: false,
    // A distributed run's checkpoints are written by the workers under this owner.
    owner: r.mode === 'distributed' ? `distributed:${runId}` : r.owner,
    options: {
      mode: r.mode,
      segments: r.totalSegments,
      pageSize: r.pageSize,
      ...r.recordOptions,
    },
    ...(r.limits && { limits: r.limits }),
  };
  await state.startRun(run, { restart: r.restart, nowMs: r.nowMs });
  return run;
}
