// The lifecycle both local event source mappings share: new → running → stopping → stopped,
// the stop signal, the poll loop with its error backoff, and waiting until idle.

import { sleep, toError, type EventSourceLogger } from './lambda-context.ts';

export type MappingState = 'new' | 'running' | 'stopping' | 'stopped';

/** What a poll loop does after a failed step. */
export type PollErrorVerdict =
  /** Leave the loop (e.g. stop requested). */
  | 'stop'
  /** An expected condition already handled: go again at once, not counted as an error. */
  | 'again'
  /** An error: log it and back off (250 ms × 2^n, at most 5 s). */
  | 'backoff';

export interface PollLoopOptions {
  /** One unit of work; `'done'` ends the loop. */
  step: () => Promise<'done' | void>;
  /** Default: every error backs off. */
  onError?: (err: unknown) => PollErrorVerdict;
  /** Logged with each backed-off error. */
  errorMessage: string;
  errorDetails?: (err: unknown) => Record<string, unknown>;
}

export class MappingLifecycle {
  private current: MappingState = 'new';
  private readonly controller = new AbortController();

  /** `label` names the mapping in errors: `SqsMapping`, `DynamoDBStreamMapping`. */
  constructor(
    private readonly label: string,
    private readonly log: EventSourceLogger,
  ) {}

  get state(): MappingState {
    return this.current;
  }

  get running(): boolean {
    return this.current === 'running';
  }

  /** True from `stop()` on (and before `start()`): no new work may begin. */
  get stopping(): boolean {
    return this.current !== 'running';
  }

  /** Aborted by `stop()`: sleeps end early. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Runs `setup` once; a failed setup leaves the mapping stopped and rethrows. */
  async start(setup: () => Promise<void>): Promise<void> {
    if (this.current !== 'new')
      throw new Error(`${this.label} cannot start: it is ${this.current} (create a new instance)`);
    this.current = 'running';
    try {
      await setup();
    } catch (err) {
      this.current = 'stopped';
      throw err;
    }
  }

  /**
   * Graceful stop: signals, then awaits `drain` (in-flight work finishing). Stopping a mapping
   * that never started just marks it stopped; a second stop is a no-op.
   */
  async stop(drain: () => Promise<void>, summary: Record<string, unknown>): Promise<void> {
    if (this.current === 'new') {
      this.current = 'stopped';
      return;
    }
    if (this.current !== 'running') return;
    this.current = 'stopping';
    this.controller.abort();
    await drain();
    this.current = 'stopped';
    this.log.info(`${this.label} stopped`, summary);
  }

  /**
   * Resolves once `isIdle()` holds (checked every `intervalMs`); rejects after `timeoutMs`
   * with `describe()`, or at once when the mapping is not running.
   */
  async untilIdle(
    timeoutMs: number,
    intervalMs: number,
    isIdle: () => boolean | Promise<boolean>,
    describe: () => string,
  ): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (!this.running) throw new Error(`waitForIdle: the mapping is ${this.current}`);
      if (await isIdle()) return;
      await sleep(intervalMs);
    }
    throw new Error(`${this.label} not idle after ${timeoutMs} ms: ${describe()}`);
  }

  /** Runs `step` until stopped or done; errors are classified, logged and backed off. */
  async pollLoop(o: PollLoopOptions): Promise<void> {
    let errors = 0;
    while (!this.stopping) {
      try {
        if ((await o.step()) === 'done') return;
        errors = 0;
      } catch (err) {
        const verdict = o.onError?.(err) ?? 'backoff';
        if (verdict === 'stop') return;
        if (verdict === 'again') continue;
        errors++;
        this.log.error(o.errorMessage, {
          ...o.errorDetails?.(err),
          error: toError(err).message,
        });
        await sleep(Math.min(5_000, 250 * 2 ** Math.min(errors, 5)), this.signal);
      }
    }
  }
}
