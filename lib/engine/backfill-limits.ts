// The limits a pass runs under (rate, queue backlog, consumer lag): the throttler built from the
// flags or from the resumed run's last `backfill set`, and the changes `backfill set` makes
// while the scan goes.
import { setMaxListeners } from 'node:events';
import { describeLimitChange, type RunLimits } from '../core/backfill-run.ts';
import { Throttler } from '../core/throttle.ts';
import type { BackfillOptions } from './backfill-options.ts';
import type { BackfillProgress } from './backfill-types.ts';

/** The rate the pass starts with: a resumed run keeps the limits it was last set to. */
export const initialRateOf = (
  options: BackfillOptions,
  resumed: RunLimits | undefined,
): number | undefined => (resumed !== undefined ? (resumed.rate ?? undefined) : options.rate);

/** The throttler of a pass: the flags' limits, overridden by the resumed run's (`backfill set`). */
export function throttlerFor(
  options: BackfillOptions,
  resumed: RunLimits | undefined,
  now: () => number,
): Throttler {
  const rate = initialRateOf(options, resumed);
  return new Throttler({
    ...(rate !== undefined && { rate }),
    ...(options.maxBacklog !== undefined && { maxQueueBacklog: options.maxBacklog }),
    ...(options.maxLagMs !== undefined && { maxStreamLagMs: options.maxLagMs }),
    ...(resumed?.maxBacklog !== undefined && { maxQueueBacklog: resumed.maxBacklog }),
    ...(resumed?.maxLagSeconds !== undefined && {
      maxStreamLagMs: resumed.maxLagSeconds * 1000,
    }),
    pollMs: options.pollMs ?? 1_000,
    now,
  });
}

/** The limits in force, as the progress and the run record show them. */
export function limitsOf(throttler: Throttler): BackfillProgress['limits'] {
  const l = throttler.limits();
  return {
    rate: l.rate,
    ...(l.maxQueueBacklog !== undefined && { maxBacklog: l.maxQueueBacklog }),
    ...(l.maxStreamLagMs !== undefined && { maxLagSeconds: l.maxStreamLagMs / 1000 }),
  };
}

/** The run record's limits as last seen, and the signal that wakes rate waits on a change. */
export class LimitsWatch {
  seen: RunLimits | undefined;
  /** The last change, e.g. `limits changed by ana@laptop: rate 100 → 300`. */
  change: string | undefined;
  /** Rate waits also end when `backfill set` changes the limits: they are then taken again. */
  changed = LimitsWatch.signal();

  constructor(seen: RunLimits | undefined) {
    this.seen = seen;
  }

  private static signal(): AbortController {
    const c = new AbortController();
    setMaxListeners(0, c.signal);
    return c;
  }

  /** Applies `backfill set`'s limits to the throttler, logs the change and wakes rate waits. */
  apply(l: RunLimits, throttler: Throttler, log: (line: string) => void): void {
    throttler.setLimits({
      rate: l.rate,
      ...(l.maxBacklog !== undefined && { maxQueueBacklog: l.maxBacklog }),
      ...(l.maxLagSeconds !== undefined && { maxStreamLagMs: l.maxLagSeconds * 1000 }),
    });
    this.change = describeLimitChange(this.seen, l);
    this.seen = l;
    log(this.change);
    this.changed.abort();
    this.changed = LimitsWatch.signal();
  }
}
