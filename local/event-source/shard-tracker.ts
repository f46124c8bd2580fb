// Shard discovery and lineage for the stream mapping: DescribeStream (now and periodically),
// each shard's state, and which shards may be read (a child only after its parent).

import { DescribeStreamCommand, type Shard } from '@aws-sdk/client-dynamodb-streams';
import { SHARD_END, SHARD_START } from './checkpoint.ts';
import { sleep, toError } from './lambda-context.ts';
import type { ShardLanes } from './lanes.ts';
import type { StartingPosition, StreamRuntime } from './stream-semantics.ts';

export interface ShardNode {
  shardId: string;
  parentShardId?: string;
}

/**
 * Shards that may be read now: not finished, not already being read, and whose parent is
 * finished or no longer listed (trimmed). Children only after their parent: lineage order.
 */
export function shardsReadyToRead(
  shards: readonly ShardNode[],
  finished: ReadonlySet<string>,
  reading: ReadonlySet<string>,
): string[] {
  const listed = new Set(shards.map((s) => s.shardId));
  return shards
    .filter((s) => !finished.has(s.shardId) && !reading.has(s.shardId))
    .filter(
      (s) => !s.parentShardId || !listed.has(s.parentShardId) || finished.has(s.parentShardId),
    )
    .map((s) => s.shardId);
}

export interface ShardStats {
  shardId: string;
  parentShardId?: string;
  status: 'waiting' | 'reading' | 'finished';
  closed: boolean;
  /** Last acknowledged sequence number. */
  checkpoint?: string;
  /** The shard's position is fixed (checkpointed); false while a LATEST start is still pending. */
  positioned: boolean;
  /** Records fetched and not yet acknowledged. */
  pendingRecords: number;
  /** Last poll found nothing new and nothing is pending. */
  caughtUp: boolean;
  /**
   * Lambda's IteratorAge: time between receiving the last batch and the creation of its last
   * record (0 when caught up). DynamoDB Local truncates creation times to the minute.
   */
  iteratorAgeMs: number;
  recordsProcessed: number;
}

export interface ShardState {
  shardId: string;
  parentShardId?: string;
  closed: boolean;
  finished: boolean;
  started: boolean;
  /** Last acknowledged sequence number, or SHARD_START (pinned while empty). */
  checkpoint?: string;
  /** Used when there is no checkpoint. */
  initialPosition: StartingPosition;
  /** With a ParallelizationFactor above 1: the shard's lanes (lanes.ts). */
  lanes?: ShardLanes;
  /** Last sequence number of the latest batch replayed from an earlier checkpoint. */
  replayedThrough?: string;
  /** undefined: get one; null: end of a closed shard reached. */
  iterator?: string | null;
  pending: number;
  busy: boolean;
  /** performance.now() at the start of the last poll that found nothing, with nothing pending. */
  lastEmptyPollAt: number;
  /** When a GetRecords last returned fewer records than asked for (the reader was at the tip). */
  lastTipAt: number;
  /** performance.now() at the start of the last poll that returned records. */
  lastBatchAt: number;
  iteratorAgeMs: number;
  recordsProcessed: number;
  task?: Promise<void>;
  /** Resolves once the shard's first iterator exists (or the reader ended without one). */
  positioned?: Promise<void>;
}

/**
 * The state of a newly listed shard. `saved` is its checkpoint, `firstStart` says this is the
 * first DescribeStream of a consumer that has no checkpoint at all: only then does
 * `startingPosition` apply; everything found later (children) or unknown to a resumed consumer
 * is read from its beginning. Under LATEST a closed shard holds only history from before the
 * consumer existed: it is finished at once (`skippedClosed`, to be checkpointed SHARD_END).
 */
export function newShardState(
  shard: { shardId: string; parentShardId?: string; closed: boolean },
  saved: string | undefined,
  firstStart: boolean,
  startingPosition: StartingPosition,
): { state: ShardState; skippedClosed: boolean } {
  const state: ShardState = {
    shardId: shard.shardId,
    closed: shard.closed,
    finished: saved === SHARD_END,
    started: false,
    initialPosition: firstStart ? startingPosition : 'TRIM_HORIZON',
    pending: 0,
    busy: false,
    lastEmptyPollAt: 0,
    lastTipAt: 0,
    lastBatchAt: 0,
    iteratorAgeMs: 0,
    recordsProcessed: 0,
  };
  if (shard.parentShardId) state.parentShardId = shard.parentShardId;
  if (saved !== undefined && saved !== SHARD_END) state.checkpoint = saved;
  const skippedClosed =
    !state.finished && !state.checkpoint && state.initialPosition === 'LATEST' && shard.closed;
  if (skippedClosed) state.finished = true;
  return { state, skippedClosed };
}

/** Records fetched and not yet done: the batch being read or run, plus what its lanes hold. */
export function inFlight(s: ShardState): number {
  return s.pending + (s.lanes?.load ?? 0);
}

/** How recently a shard must have been read to its tip to count as caught up under load. */
export const AT_TIP_WINDOW_MS = 5_000;

export function shardStats(s: ShardState): ShardStats {
  // Caught up: idle at the tip, or under steady writes at the tip within the last moment (a
  // consumer that keeps up with constant traffic never sees an empty poll).
  const caughtUp =
    s.finished ||
    (s.started &&
      ((!s.busy && !s.lanes?.busy && inFlight(s) === 0 && s.lastEmptyPollAt > s.lastBatchAt) ||
        (s.lastTipAt > 0 && performance.now() - s.lastTipAt < AT_TIP_WINDOW_MS)));
  const out: ShardStats = {
    shardId: s.shardId,
    status: s.finished ? 'finished' : s.started ? 'reading' : 'waiting',
    closed: s.closed,
    positioned: s.finished || s.checkpoint !== undefined,
    pendingRecords: inFlight(s),
    caughtUp,
    iteratorAgeMs: caughtUp ? 0 : s.iteratorAgeMs,
    recordsProcessed: s.recordsProcessed,
  };
  if (s.parentShardId) out.parentShardId = s.parentShardId;
  if (s.checkpoint && s.checkpoint !== SHARD_START) out.checkpoint = s.checkpoint;
  return out;
}

/** Knows the shards; starts a reader (`read`) for each shard that may be read. */
export class ShardTracker {
  readonly shards = new Map<string, ShardState>();
  private refreshChain: Promise<void> = Promise.resolve();
  private describeLoop?: Promise<void>;

  constructor(
    private readonly rt: StreamRuntime,
    private readonly read: (s: ShardState) => void,
    /** Saves the SHARD_END of a closed shard skipped under LATEST. */
    private readonly finishSkipped: (s: ShardState) => Promise<void>,
  ) {}

  /** Serialized: each call runs a DescribeStream that starts after the previous ones. */
  refresh(initialCheckpoints?: Record<string, string>): Promise<void> {
    const run = this.refreshChain
      .catch(() => undefined)
      .then(() => this.doRefresh(initialCheckpoints));
    this.refreshChain = run;
    return run;
  }

  /** Refresh in the background (a finished parent may have children to read). */
  refreshSoon(): void {
    this.refresh().catch((err: unknown) =>
      this.rt.log.warn('DescribeStream failed', { error: toError(err).message }),
    );
  }

  startDescribeLoop(): void {
    this.describeLoop = (async () => {
      const { lifecycle } = this.rt;
      while (!lifecycle.stopping) {
        await sleep(this.rt.opts.describeIntervalMs, lifecycle.signal);
        if (lifecycle.stopping) break;
        try {
          await this.refresh();
        } catch (err) {
          this.rt.log.warn('DescribeStream failed', {
            streamArn: this.rt.streamArn,
            error: toError(err).message,
          });
        }
      }
    })();
  }

  /** After stop: the describe loop and any refresh under way have ended. */
  async drain(): Promise<void> {
    await this.describeLoop;
    await this.refreshChain.catch(() => undefined);
  }

  schedule(): void {
    if (this.rt.lifecycle.stopping) return;
    const all = [...this.shards.values()];
    const finished = new Set(all.filter((s) => s.finished).map((s) => s.shardId));
    const reading = new Set(all.filter((s) => s.started).map((s) => s.shardId));
    for (const id of shardsReadyToRead(all, finished, reading)) {
      const s = this.shards.get(id)!;
      s.started = true;
      this.read(s);
    }
  }

  private async describeAll(): Promise<Shard[]> {
    const shards: Shard[] = [];
    let exclusiveStartShardId: string | undefined;
    do {
      const res = await this.rt.options.streams.send(
        new DescribeStreamCommand({
          StreamArn: this.rt.streamArn,
          ExclusiveStartShardId: exclusiveStartShardId,
          Limit: 100,
        }),
      );
      shards.push(...(res.StreamDescription?.Shards ?? []));
      exclusiveStartShardId = res.StreamDescription?.LastEvaluatedShardId;
    } while (exclusiveStartShardId);
    return shards;
  }

  private async doRefresh(initialCheckpoints?: Record<string, string>): Promise<void> {
    const listed = await this.describeAll();
    const firstStart =
      initialCheckpoints !== undefined && Object.keys(initialCheckpoints).length === 0;
    for (const shard of listed) {
      const shardId = shard.ShardId;
      if (!shardId) continue;
      const closed = shard.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      const known = this.shards.get(shardId);
      if (known) {
        known.closed ||= closed;
        continue;
      }
      const { state, skippedClosed } = newShardState(
        { shardId, closed, ...(shard.ParentShardId ? { parentShardId: shard.ParentShardId } : {}) },
        initialCheckpoints?.[shardId],
        firstStart,
        this.rt.opts.startingPosition,
      );
      this.shards.set(shardId, state);
      // Checkpointed, so that a restart (then resuming) does not replay it from TRIM_HORIZON.
      if (skippedClosed) await this.finishSkipped(state);
    }
    this.schedule();
  }
}
