// The observer of a running pass: every poll it reads the run record (operator pause, `backfill
// set` limits), the work queue's backlog and the consumer, and hands them to the throttler.
import { queueStats } from '../adapters/work-queue.ts';
import { RunOwnershipError } from '../core/backfill-run.ts';
import { emit, type Pass } from './backfill-pass.ts';
import { probeConsumer } from './backfill-consumer-gate.ts';

export class Observer {
  private readonly pass: Pass;
  private paused = false;
  private observing = true;
  private loop: Promise<void> | undefined;

  constructor(pass: Pass) {
    this.pass = pass;
  }

  /** Polls until stopped; losing the run (RunOwnershipError) stops the pass. */
  start(): void {
    const { pass } = this;
    this.loop = (async () => {
      while (this.observing && !pass.waits.stopped) {
        try {
          await this.observe();
        } catch (e) {
          if (e instanceof RunOwnershipError) {
            pass.observerError = e;
            pass.waits.stop.abort();
            return;
          }
          pass.log(`could not read the queue, pause flag or consumer: ${(e as Error).message}`);
        }
        emit(pass);
        await pass.waits.sleep(pass.pollMs);
      }
    })();
  }

  /** Stops the pass (its lanes are done) and waits for the poll under way. */
  async stop(): Promise<void> {
    this.observing = false;
    this.pass.waits.stop.abort(); // wakes the observer's sleep
    await this.loop;
  }

  /** One look at the pause flag, the queue, the consumer and the limits. */
  async observe(): Promise<void> {
    const { pass } = this;
    const { deps, runId, tableName, dryRun } = pass;
    const [r, q] = await Promise.all([
      runId ? deps.state.getRun(tableName) : Promise.resolve(undefined),
      dryRun ? Promise.resolve(undefined) : queueStats(deps.sqs, deps.queueUrl),
      dryRun || !pass.waitForConsumer ? Promise.resolve() : probeConsumer(pass),
    ]);
    const operatorPaused = r?.runId === runId && r?.pauseRequested === true;
    pass.throttler.observe({ operatorPaused, ...(q && { queueBacklog: q.backlog }) });
    if (r?.runId === runId && r?.limits && r.limits.changedAtMs !== pass.limits.seen?.changedAtMs) {
      pass.limits.apply(r.limits, pass.throttler, pass.log);
    }
    if (runId && pass.mode === 'scan' && operatorPaused !== this.paused) {
      this.paused = operatorPaused;
      await deps.state.setStatus(
        tableName,
        runId,
        pass.runOwner,
        this.paused ? 'paused' : 'running',
      );
      pass.log(this.paused ? 'paused by operator: position kept' : 'resumed by operator');
    }
  }
}
