// How a pass stops and waits: one stop signal for every lane, and each wait recorded (per kind
// for the summary, per lane for the progress) before it sleeps, so the progress always says
// what the pass waits on.
import { setMaxListeners } from 'node:events';
import type { BackfillSummary, WaitEvent, WaitKind } from './backfill-types.ts';

/** The wait kind of a throttler pause, from its reason. */
export function classifyPause(reason: string): WaitKind {
  if (reason.startsWith('paused by operator')) return 'operator-pause';
  if (reason.startsWith('waiting: stream lag')) return 'stream-lag';
  if (reason.startsWith('waiting: work queue backlog')) return 'queue-backlog';
  return 'consumer';
}

/** The wait kind of a throttling back-off: one segment's, or every segment's. */
export const throttleKind = (reason: string): WaitKind =>
  reason.startsWith('all segments') ? 'throttle-all' : 'throttle-segment';

export class Waits {
  /** Aborted by the caller's signal, a lane's error or the end of the pass. */
  readonly stop = new AbortController();
  /** Per wait kind: how many waits and their summed lane-milliseconds. */
  readonly totals: BackfillSummary['waits'] = {};
  /** Every lane waiting now, with its reason (`-1`: the whole run). */
  readonly lanes = new Map<number, string>();
  /** The newest wait of any lane. */
  latest: string | undefined;
  private readonly onWait: (w: WaitEvent) => void;

  /** `onWait`: told of each wait once it is recorded, before the sleep. */
  constructor(onWait: (w: WaitEvent) => void) {
    this.onWait = onWait;
    // Every segment's lane may sleep on it at once (each removes its listener when it wakes).
    setMaxListeners(0, this.stop.signal);
  }

  get stopped(): boolean {
    return this.stop.signal.aborted;
  }

  /** Stops the pass when `signal` aborts; returns the unlinking. */
  stopOn(signal: AbortSignal | undefined): () => void {
    const onAbort = (): void => this.stop.abort();
    signal?.addEventListener('abort', onAbort);
    if (signal?.aborted) this.stop.abort();
    return () => signal?.removeEventListener('abort', onAbort);
  }

  /** Sleeps `ms`, or less when the pass stops or `wake` aborts. */
  sleep(ms: number, wake?: AbortSignal): Promise<void> {
    const stop = this.stop.signal;
    return new Promise((resolve) => {
      if (stop.aborted || wake?.aborted) return resolve();
      const t = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(t);
        stop.removeEventListener('abort', done);
        wake?.removeEventListener('abort', done);
        resolve();
      }
      stop.addEventListener('abort', done, { once: true });
      wake?.addEventListener('abort', done, { once: true });
    });
  }

  /** Records the wait of a lane (`-1`: the whole run), then sleeps it. */
  async wait(
    segment: number,
    kind: WaitKind,
    reason: string,
    ms: number,
    wake?: AbortSignal,
  ): Promise<void> {
    const w = (this.totals[kind] ??= { count: 0, laneMs: 0, last: reason });
    w.count++;
    w.laneMs += ms;
    w.last = reason;
    this.lanes.set(segment, reason);
    this.latest = reason;
    this.onWait({ segment, kind, reason, ms });
    await this.sleep(ms, wake);
    this.lanes.delete(segment);
  }
}
