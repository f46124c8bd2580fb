// ParallelizationFactor of the stream mapping: one shard, several batches in flight.
//
// AWS ("Using AWS Lambda with Amazon DynamoDB", concurrent batches per shard; the
// ParallelizationFactor parameter, 1..10): Lambda processes up to N batches of a shard at once
// and keeps in-order processing at the item (partition and sort key) level only. So records go
// to N lanes by a hash of their item key; each lane has one batch in flight, in stream order;
// lanes overtake each other freely (a slow or failing lane holds only its own items); and the
// shard's checkpoint is the highest record below which every record is done (acknowledged or
// sent to on-failure), so a restart never skips a record a slower lane has not finished.

import type { DynamoDBRecord } from 'aws-lambda';
import { compareSequenceNumbers } from './stream-semantics.ts';

/** FNV-1a of the item's key attributes (sorted by name): the same item, the same lane. */
export function laneOf(record: DynamoDBRecord, factor: number): number {
  const keys = record.dynamodb?.Keys ?? {};
  const text = JSON.stringify(Object.entries(keys).sort(([a], [b]) => (a < b ? -1 : 1)));
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % factor;
}

/**
 * Sequence numbers in stream order, each done or not; `done` returns the new checkpoint when
 * the contiguous done prefix grew (the highest sequence number of it), else undefined.
 */
export class ContiguousTracker {
  private readonly order: string[] = [];
  private readonly isDone = new Map<string, boolean>();
  private head = 0;

  /** Adds records in stream order; ones already known are ignored. Returns the new ones. */
  add<T extends { dynamodb?: { SequenceNumber?: string } }>(records: readonly T[]): T[] {
    const last = this.order[this.order.length - 1];
    const fresh = records.filter((r) => {
      const seq = r.dynamodb?.SequenceNumber;
      return seq !== undefined && (last === undefined || compareSequenceNumbers(seq, last) > 0);
    });
    for (const r of fresh) {
      this.order.push(r.dynamodb!.SequenceNumber!);
      this.isDone.set(r.dynamodb!.SequenceNumber!, false);
    }
    return fresh;
  }

  done(seqs: readonly string[]): string | undefined {
    for (const seq of seqs) if (this.isDone.has(seq)) this.isDone.set(seq, true);
    const before = this.head;
    while (this.head < this.order.length && this.isDone.get(this.order[this.head]!)) {
      this.isDone.delete(this.order[this.head]!);
      this.head++;
    }
    if (this.head === before) return undefined;
    const checkpoint = this.order[this.head - 1];
    // Forget the finished prefix now and then (the list would grow for the shard's life).
    if (this.head > 10_000) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
    return checkpoint;
  }

  /**
   * Forgets every record, so records read again (a replay from an earlier checkpoint) are taken
   * as new. Only when every record is done: an open one would lose its place in the order.
   */
  reset(): void {
    if (this.open > 0) throw new Error(`cannot reset with ${this.open} records not done`);
    this.order.length = 0;
    this.isDone.clear();
    this.head = 0;
  }

  /** Records added and not yet done. */
  get open(): number {
    return this.order.length - this.head;
  }
}

/** One shard's lanes: queues in stream order per lane, one batch in flight per lane. */
export class ShardLanes {
  readonly tracker = new ContiguousTracker();
  private readonly queues: DynamoDBRecord[][];
  private readonly running: (Promise<void> | undefined)[];
  private wake: (() => void) | undefined;

  constructor(
    readonly factor: number,
    private readonly batchSize: number,
    /** Runs one lane batch to its end (acknowledged or given up on). */
    private readonly runBatch: (records: DynamoDBRecord[]) => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {
    this.queues = Array.from({ length: factor }, () => []);
    this.running = Array.from({ length: factor }, () => undefined);
  }

  private inLanes = 0;

  /** Records queued or in a running batch (done ones above a stuck lane are not load). */
  get load(): number {
    return this.inLanes;
  }

  get busy(): boolean {
    return this.running.some((r) => r !== undefined);
  }

  /** Queues the records (those not seen before) on their lanes and starts idle lanes. */
  dispatch(records: readonly DynamoDBRecord[], stopping: () => boolean): void {
    for (const r of this.tracker.add(records)) {
      this.queues[laneOf(r, this.factor)]!.push(r);
      this.inLanes++;
    }
    for (let lane = 0; lane < this.factor; lane++) this.startLane(lane, stopping);
  }

  /** Resolves when some lane finished a batch (or at once when none is running). */
  async changed(): Promise<void> {
    if (!this.busy) return;
    await new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** Every lane has ended its current batch. */
  async drain(): Promise<void> {
    await Promise.allSettled(this.running.filter((r) => r !== undefined));
  }

  private startLane(lane: number, stopping: () => boolean): void {
    if (this.running[lane] || this.queues[lane]!.length === 0) return;
    this.running[lane] = (async () => {
      try {
        while (this.queues[lane]!.length > 0 && !stopping()) {
          const batch = this.queues[lane]!.splice(0, this.batchSize);
          try {
            await this.runBatch(batch);
          } finally {
            this.inLanes -= batch.length;
          }
          this.wake?.();
        }
      } catch (err) {
        this.onError(err);
      } finally {
        this.running[lane] = undefined;
        this.wake?.();
      }
    })();
  }
}
