// The lanes of a pass: each reads its pages (a Parallel Scan segment, a partition, or the --keys
// in batches) until done, stopped or --limit, waiting when the throttler or the consumer says
// so, and checkpoints a scan segment once SQS accepted its page.
import { getItemsByKey } from '../adapters/backfill-reads.ts';
import {
  DynamoThrottledError,
  queryPartitionPage,
  scanSegmentPage,
  throttlingReasonsOf,
  type ScanPage,
} from '../adapters/segment-scanner.ts';
import { isCanary } from '../core/canary.ts';
import type { SegmentCounts } from '../core/scan-progress.ts';
import type { Decision, ThrottlingReason } from '../core/throttle.ts';
import type { Key } from '../core/types.ts';
import type { JsonValue } from '../core/work-message.ts';
import { runDistributed } from './backfill-distributed.ts';
import { takePage } from './backfill-enqueue.ts';
import { emit, type Pass } from './backfill-pass.ts';
import { classifyPause, throttleKind } from './backfill-waits.ts';

type StartKey = Record<string, unknown> | undefined;

/** Runs the pass's lanes by mode; a lane's error stops the others and is kept in `laneError`. */
export async function runLanes(pass: Pass): Promise<void> {
  if (pass.waits.stopped) return; // stopped while waiting for the consumer: nothing read
  if (pass.mode === 'distributed') return runDistributed(pass, (p) => guard(pass, p));
  if (pass.mode === 'users') return userLanes(pass);
  if (pass.mode === 'keys') return guard(pass, keysLane(pass));
  return scanLanes(pass);
}

/** Keeps a lane's first error and stops the other lanes. */
function guard(pass: Pass, p: Promise<void>): Promise<void> {
  return p.catch((e: unknown) => {
    pass.laneError ??= e;
    pass.waits.stop.abort();
  });
}

/** Whether the lane may read its next page, after every wait the throttler or consumer asks. */
async function gate(pass: Pass, segment: number): Promise<boolean> {
  const { waits, throttler } = pass;
  for (;;) {
    if (waits.stopped || pass.counts.limitHit) return false;
    const d: Decision = throttler.beforePage(segment);
    if (!d.go) {
      const kind = d.kind === 'paused' ? classifyPause(d.reason) : throttleKind(d.reason);
      await waits.wait(segment, kind, d.reason, d.waitMs);
      continue;
    }
    if (pass.consumerReason && pass.waitForConsumer && !pass.dryRun) {
      await waits.wait(segment, 'consumer', pass.consumerReason, pass.pollMs);
      continue;
    }
    return true;
  }
}

/** A throttled read: the throttler says how long this segment (or every segment) backs off. */
async function backOff(pass: Pass, segment: number, reasons: ThrottlingReason[]): Promise<void> {
  const b = pass.throttler.onThrottle(segment, reasons);
  if (b.go) return;
  await pass.waits.wait(segment, throttleKind(b.reason), b.reason, b.waitMs);
}

async function checkpoint(pass: Pass, segment: number, lastEvaluatedKey: StartKey): Promise<void> {
  const { runId } = pass;
  if (!runId || pass.dryRun) return;
  const counts = { ...(pass.progress.segments.get(segment) as SegmentCounts) };
  await pass.deps.state.saveCheckpoint(pass.tableName, pass.runOwner, {
    runId,
    segment,
    ...(lastEvaluatedKey && { lastEvaluatedKey: lastEvaluatedKey as Record<string, JsonValue> }),
    counts,
    updatedAtMs: pass.now(),
  });
}

/** One lane: pages of a segment (or a partition) until done, stopped or the limit. */
async function pageLane(
  pass: Pass,
  segment: number,
  startKey: StartKey,
  read: (start: StartKey) => Promise<ScanPage>,
  keepCheckpoints: boolean,
): Promise<void> {
  const { progress, counts } = pass;
  let start = startKey;
  progress.record(segment, {});
  for (;;) {
    if (!(await gate(pass, segment))) return;
    let page: ScanPage;
    try {
      page = await read(start);
    } catch (e) {
      if (e instanceof DynamoThrottledError) {
        await backOff(pass, segment, e.reasons);
        continue;
      }
      throw e;
    }
    pass.throttler.onSuccess(segment);
    counts.consumedReadUnits += page.consumedCapacity;
    // A canary left behind by a stopped gate is not an application item: skipped.
    const items = page.items.filter((i) => !isCanary(pass.tableDef, i));
    const taken = await takePage(pass, segment, items);
    progress.record(segment, {
      scanned: page.scannedCount,
      enqueued: pass.dryRun ? 0 : taken.enqueued,
      skipped: page.scannedCount - items.length + taken.settled,
      skippedSettled: taken.settled,
    });
    // A page cut by --limit is not checkpointed past: a resume reads it again.
    if (taken.cut) {
      emit(pass);
      return;
    }
    if (!page.lastEvaluatedKey) progress.finish(segment);
    if (keepCheckpoints) await checkpoint(pass, segment, page.lastEvaluatedKey);
    emit(pass);
    if (!page.lastEvaluatedKey) return;
    start = page.lastEvaluatedKey;
  }
}

/** What every page read of a lane asks for: the projection, the page size. */
function pageRequest(pass: Pass, start: StartKey) {
  return {
    tableName: pass.tableName,
    projection: pass.scope.projection,
    pageSize: pass.pageSize,
    ...(start && { exclusiveStartKey: start }),
  };
}

/** --user: one lane per partition key (Query), no checkpoint. */
async function userLanes(pass: Pass): Promise<void> {
  const [pk] = pass.tableDef.key;
  await Promise.all(
    (pass.options.users as string[]).map((user, i) =>
      guard(
        pass,
        pageLane(
          pass,
          i,
          undefined,
          (start) =>
            queryPartitionPage(pass.deps.doc, {
              ...pageRequest(pass, start),
              partitionKey: { [pk]: user },
            }),
          false,
        ),
      ),
    ),
  );
}

/** The Parallel Scan: one lane per segment not done yet, each from its checkpoint. */
async function scanLanes(pass: Pass): Promise<void> {
  const { totalSegments } = pass;
  const bySegment = new Map(pass.checkpoints.map((c) => [c.segment, c]));
  await Promise.all(
    Array.from({ length: totalSegments }, (_, segment) => {
      const cp = bySegment.get(segment);
      if (cp?.counts.done) return Promise.resolve();
      return guard(
        pass,
        pageLane(
          pass,
          segment,
          cp?.lastEvaluatedKey,
          (start) =>
            scanSegmentPage(pass.deps.doc, {
              ...pageRequest(pass, start),
              segment,
              totalSegments,
            }),
          true,
        ),
      );
    }),
  );
}

/** --keys: exactly the given items, read in batches of a page (BatchGet); missing keys kept. */
async function keysLane(pass: Pass): Promise<void> {
  const { deps, progress, counts, pageSize } = pass;
  const keys = pass.options.keys as Key[];
  const missing: Key[] = [];
  pass.missingKeys = missing;
  for (let i = 0; i < keys.length; i += pageSize) {
    if (!(await gate(pass, 0))) return;
    const chunk = keys.slice(i, i + pageSize);
    let got;
    try {
      got = await getItemsByKey(deps.doc, pass.tableName, chunk, pass.scope.projection);
    } catch (e) {
      const reasons = throttlingReasonsOf(e);
      if (!reasons) throw e;
      await backOff(pass, 0, reasons);
      i -= pageSize;
      continue;
    }
    pass.throttler.onSuccess(0);
    counts.consumedReadUnits += got.consumedCapacity;
    missing.push(...got.missing);
    const taken = await takePage(pass, 0, got.items);
    progress.record(0, {
      scanned: chunk.length,
      enqueued: pass.dryRun ? 0 : taken.enqueued,
      skipped: got.missing.length + taken.settled,
      skippedSettled: taken.settled,
    });
    emit(pass);
    if (counts.limitHit) return;
  }
  progress.finish(0);
}
