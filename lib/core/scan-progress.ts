// Backfill progress and ETA math. The ETA comes from how much of each segment's key range was
// scanned, never from the table's ItemCount (stale up to ~6 h, and blind to filters).
import { formatWait, type Clock } from './throttle.ts';

export interface SegmentCounts {
  /** Items the Scan examined (its ScannedCount, before the filter): key-range coverage. */
  scanned: number;
  /** Items put into work messages that SQS accepted. */
  enqueued: number;
  /** Items the scan left out of the queue: canaries, --keys not found, and `skippedSettled`. */
  skipped: number;
  /**
   * Of `skipped`, the items the planner filter found settled (no change needed, or expired).
   * Absent in checkpoints written before the filter existed.
   */
  skippedSettled?: number;
  /** The segment's last page was read (no LastEvaluatedKey). */
  done: boolean;
}

export const emptyCounts = (): SegmentCounts => ({
  scanned: 0,
  enqueued: 0,
  skipped: 0,
  skippedSettled: 0,
  done: false,
});

/** A caller-supplied size estimate (e.g. DescribeTable's ItemCount), always shown as such. */
export interface SizeEstimate {
  items: number;
  /** Where it came from, e.g. `ItemCount`. */
  label: string;
}

export type FractionBasis = 'finished-segments' | 'caller-estimate' | 'unknown';

export interface FractionEstimate {
  /** 0..1 of the whole key space scanned, when estimable. */
  fraction: number | undefined;
  /** Expected items examined per segment. */
  segmentSize: number | undefined;
  basis: FractionBasis;
}

/**
 * Parallel-scan segments split the hash space evenly, but DynamoDB's hashing is not public: a
 * segment's size is only known once one finishes. So the expected size of a segment is the
 * mean of the finished ones, and the fraction done is
 *   (finished segments + Σ in-flight scanned / expected size, each capped below 1) / total.
 * Before any segment finishes only a caller's estimate (labelled as such) gives a fraction.
 */
export function estimateFraction(
  segments: ReadonlyMap<number, SegmentCounts> | readonly SegmentCounts[],
  totalSegments: number,
  estimate?: SizeEstimate,
): FractionEstimate {
  if (!Number.isInteger(totalSegments) || totalSegments < 1) {
    throw new RangeError(`totalSegments must be an integer >= 1, got ${totalSegments}`);
  }
  const list = [...segments.values()];
  const finished = list.filter((s) => s.done);
  let segmentSize: number | undefined;
  let basis: FractionBasis = 'unknown';
  if (finished.length) {
    segmentSize = finished.reduce((n, s) => n + s.scanned, 0) / finished.length;
    basis = 'finished-segments';
  } else if (estimate && estimate.items >= 0) {
    segmentSize = estimate.items / totalSegments;
    basis = 'caller-estimate';
  }
  if (segmentSize === undefined) return { fraction: undefined, segmentSize, basis };
  if (finished.length === totalSegments) return { fraction: 1, segmentSize, basis };
  // An unfinished segment is never counted as whole, however far past the estimate it ran.
  const partial = (s: SegmentCounts): number =>
    segmentSize === 0 ? 0 : Math.min(s.scanned / (segmentSize as number), 0.99);
  const units = finished.length + list.filter((s) => !s.done).reduce((n, s) => n + partial(s), 0);
  return { fraction: Math.min(1, units / totalSegments), segmentSize, basis };
}

/** Items per second over a sliding time window (counts, not cumulative totals). */
export class MovingRate {
  private samples: { t: number; n: number }[] = [];
  private readonly started: number;

  constructor(
    private readonly windowMs = 30_000,
    private readonly now: Clock = Date.now,
  ) {
    if (!(windowMs > 0)) throw new RangeError(`rate window must be > 0 ms, got ${windowMs}`);
    this.started = now();
  }

  add(n: number): void {
    const t = this.now();
    this.samples.push({ t, n });
    this.prune(t);
  }

  private prune(t: number): void {
    const cut = t - this.windowMs;
    let i = 0;
    while (i < this.samples.length && (this.samples[i] as { t: number }).t <= cut) i++;
    if (i) this.samples = this.samples.slice(i);
  }

  /** Items/s over the window (or since construction, when that is shorter); 0 when idle. */
  perSecond(): number {
    const t = this.now();
    this.prune(t);
    const span = Math.min(this.windowMs, t - this.started);
    if (span <= 0) return 0;
    return (this.samples.reduce((s, x) => s + x.n, 0) * 1_000) / span;
  }
}

export interface ProgressReport {
  totalSegments: number;
  segmentsDone: number;
  scanned: number;
  enqueued: number;
  skipped: number;
  /** Of `skipped`, left out by the planner filter as settled. */
  skippedSettled: number;
  fraction: number | undefined;
  basis: FractionBasis;
  /** Scanned items/s over the rate window. */
  ratePerSecond: number;
  etaMs: number | undefined;
  /** `ETA 4 min 10 s (from 3 of 16 finished segments)`, `ETA unknown (no segment finished yet)`. */
  etaText: string;
}

/** Remaining time from a fraction estimate and a scan rate; undefined when not estimable. */
export function etaMs(
  f: FractionEstimate,
  totalSegments: number,
  ratePerSecond: number,
): number | undefined {
  if (f.fraction === undefined || f.segmentSize === undefined) return undefined;
  if (f.fraction >= 1) return 0;
  if (!(ratePerSecond > 0)) return undefined;
  // What is left of the key space, in items of the expected size (not total minus scanned:
  // a segment that ran past the estimate must not make the rest look finished).
  const remaining = f.segmentSize * totalSegments * (1 - f.fraction);
  return (remaining / ratePerSecond) * 1_000;
}

export function describeEta(
  f: FractionEstimate,
  eta: number | undefined,
  segmentsDone: number,
  totalSegments: number,
  estimate?: SizeEstimate,
): string {
  if (f.fraction === 1) return 'done';
  if (f.basis === 'unknown') return 'ETA unknown (no segment finished yet)';
  const basis =
    f.basis === 'finished-segments'
      ? `from ${segmentsDone} of ${totalSegments} finished segments`
      : `caller estimate: ${new Intl.NumberFormat('en-US').format(estimate?.items ?? 0)} items from ${estimate?.label ?? 'caller'}`;
  if (eta === undefined) return `ETA unknown (no recent progress; ${basis})`;
  return `ETA ${f.basis === 'caller-estimate' ? '~' : ''}${formatWait(eta)} (${basis})`;
}

/** Per-segment counts of one scan, with its rate and ETA. */
export class ScanProgress {
  readonly segments = new Map<number, SegmentCounts>();
  private readonly rate: MovingRate;

  constructor(
    readonly totalSegments: number,
    private readonly options: { windowMs?: number; now?: Clock; estimate?: SizeEstimate } = {},
  ) {
    if (!Number.isInteger(totalSegments) || totalSegments < 1) {
      throw new RangeError(`totalSegments must be an integer >= 1, got ${totalSegments}`);
    }
    this.rate = new MovingRate(options.windowMs, options.now);
  }

  private seg(segment: number): SegmentCounts {
    if (!Number.isInteger(segment) || segment < 0 || segment >= this.totalSegments) {
      throw new RangeError(`segment ${segment} is outside 0..${this.totalSegments - 1}`);
    }
    let s = this.segments.get(segment);
    if (!s) this.segments.set(segment, (s = emptyCounts()));
    return s;
  }

  /** Counts restored from a checkpoint: they are progress but not part of the current rate. */
  restore(segment: number, counts: SegmentCounts): void {
    Object.assign(this.seg(segment), counts);
  }

  record(segment: number, delta: Partial<Omit<SegmentCounts, 'done'>>): void {
    const s = this.seg(segment);
    s.scanned += delta.scanned ?? 0;
    s.enqueued += delta.enqueued ?? 0;
    s.skipped += delta.skipped ?? 0;
    s.skippedSettled = (s.skippedSettled ?? 0) + (delta.skippedSettled ?? 0);
    if (delta.scanned) this.rate.add(delta.scanned);
  }

  finish(segment: number): void {
    this.seg(segment).done = true;
  }

  report(): ProgressReport {
    let scanned = 0;
    let enqueued = 0;
    let skipped = 0;
    let skippedSettled = 0;
    let segmentsDone = 0;
    for (const s of this.segments.values()) {
      scanned += s.scanned;
      enqueued += s.enqueued;
      skipped += s.skipped;
      skippedSettled += s.skippedSettled ?? 0;
      if (s.done) segmentsDone++;
    }
    const f = estimateFraction(this.segments, this.totalSegments, this.options.estimate);
    const ratePerSecond = this.rate.perSecond();
    const eta = etaMs(f, this.totalSegments, ratePerSecond);
    return {
      totalSegments: this.totalSegments,
      segmentsDone,
      scanned,
      enqueued,
      skipped,
      skippedSettled,
      fraction: f.fraction,
      basis: f.basis,
      ratePerSecond,
      etaMs: eta,
      etaText: describeEta(f, eta, segmentsDone, this.totalSegments, this.options.estimate),
    };
  }
}
