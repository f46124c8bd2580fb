// --distributed: one `scan-segment` task per segment for the workers to scan, and (unless
// detached) their checkpoints followed as this run's progress until the scan is done.
import { sendMessages } from '../adapters/work-queue.ts';
import { RunOwnershipError } from '../core/backfill-run.ts';
import { packMessage } from '../core/work-message.ts';
import { emit, type Pass } from './backfill-pass.ts';

/** Enqueues the segment tasks, then follows them when asked (`guard` keeps a follower's error). */
export async function runDistributed(
  pass: Pass,
  guard: (p: Promise<void>) => Promise<void>,
): Promise<void> {
  const { runId } = pass;
  const count = await enqueueSegmentTasks(pass);
  if (pass.deps.followDistributed) {
    pass.log(
      `enqueued ${count} scan-segment tasks of run ${runId}: the workers scan; following their checkpoints (Ctrl-C stops following, not the scan)`,
    );
    await guard(followDistributed(pass));
  } else {
    pass.log(
      `enqueued ${count} scan-segment tasks of run ${runId}: the workers scan; \`streamfill status\` shows progress`,
    );
  }
}

async function enqueueSegmentTasks(pass: Pass): Promise<number> {
  const { totalSegments, initialRate } = pass;
  const tasks = Array.from({ length: totalSegments }, (_, segment) =>
    packMessage({
      v: 1,
      kind: 'scan-segment',
      table: pass.table as never, // codec
      runId: pass.runId as string,
      segment,
      totalSegments,
      pageSize: pass.pageSize,
      // The workers scan for these (an opt-in contract step only when named here).
      migrations: pass.scope.migrations,
      // The run's rate, shared by its segments; `backfill set` overrides it in the run record.
      ...(initialRate !== undefined && { rate: initialRate }),
    }),
  );
  await sendMessages(pass.deps.sqs, pass.deps.queueUrl, tasks);
  pass.counts.messages = tasks.length;
  return tasks.length;
}

/** The segment tasks' checkpoints as this run's progress, until the scan is done or stopped. */
async function followDistributed(pass: Pass): Promise<void> {
  const { deps, progress, tableName, runId } = pass;
  for (;;) {
    const cps = await deps.state.getCheckpoints(runId as string);
    for (const cp of cps) {
      const seen = progress.segments.get(cp.segment);
      progress.record(cp.segment, {
        scanned: cp.counts.scanned - (seen?.scanned ?? 0),
        enqueued: cp.counts.enqueued - (seen?.enqueued ?? 0),
        skipped: cp.counts.skipped - (seen?.skipped ?? 0),
      });
      if (cp.counts.done) progress.finish(cp.segment);
    }
    emit(pass);
    if (progress.report().segmentsDone === pass.totalSegments || pass.waits.stopped) return;
    const current = await deps.state.getRun(tableName);
    if (!current || current.runId !== runId || current.status === 'abandoned') {
      throw new RunOwnershipError(
        `backfill of ${tableName}: run ${runId} is no longer current (${current ? `${current.runId} ${current.status}` : 'no run'}); stopped following it`,
      );
    }
    const reason = current.pauseRequested
      ? 'paused by operator (`streamfill backfill resume` continues)'
      : 'distributed: the workers scan';
    await pass.waits.wait(
      -1,
      current.pauseRequested ? 'operator-pause' : 'distributed',
      reason,
      pass.pollMs,
    );
  }
}
