// Small numeric helpers for progress, bench and status reports.

/** Counts outcomes by name (e.g. WriteOutcome); mergeable across workers and segments. */
export class OutcomeCounter<K extends string = string> {
  private readonly counts = new Map<K, number>();

  /** `initial` names are reported even while zero, so JSON output has a stable shape. */
  constructor(initial: readonly K[] = []) {
    for (const name of initial) this.counts.set(name, 0);
  }

  add(outcome: K, n = 1): this {
    if (!Number.isFinite(n)) throw new RangeError(`count must be finite, got ${n}`);
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + n);
    return this;
  }

  get(outcome: K): number {
    return this.counts.get(outcome) ?? 0;
  }

  get total(): number {
    let sum = 0;
    for (const n of this.counts.values()) sum += n;
    return sum;
  }

  merge(other: OutcomeCounter<K> | Partial<Record<K, number>>): this {
    const entries =
      other instanceof OutcomeCounter
        ? [...other.counts.entries()]
        : (Object.entries(other) as [K, number | undefined][]);
    for (const [name, n] of entries) if (n !== undefined) this.add(name, n);
    return this;
  }

  toJSON(): Record<K, number> {
    return Object.fromEntries(this.counts) as Record<K, number>;
  }
}

/**
 * Nearest-rank percentile (`p` in 0..100) of the values, which need not be sorted and are
 * not mutated. NaN for no values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** Human duration: `850ms`, `12.3s`, `4m 05s`, `2h 03m`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.floor(ms)}ms`;
  if (ms < 60_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)}s`;
  const totalSeconds = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (totalSeconds < 3600) return `${Math.floor(totalSeconds / 60)}m ${pad(totalSeconds % 60)}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  return `${Math.floor(totalMinutes / 60)}h ${pad(totalMinutes % 60)}m`;
}
