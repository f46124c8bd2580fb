// A page's items onto the work queue: those the planner filter finds settled left out, the rest
// packed into messages within --limit and the rate, the items no message can carry parked with
// their reason (they never stop the lane).
import { sendMessages } from '../adapters/work-queue.ts';
import { ITEMS_PER_MESSAGE } from '../config/defaults.ts';
import { scanVerdictOf } from '../core/backfill-filter.ts';
import type { Item } from '../core/types.ts';
import { packCarryable, parkEntryOf, workItemsOf, type Refused } from './backfill-carry.ts';
import { dryRunPage } from './backfill-dry-run.ts';
import { problem, type Pass } from './backfill-pass.ts';

/** What became of a page's items. */
export interface PageTake {
  /** Items put into messages (a dry run: planned and not settled). */
  enqueued: number;
  /** Items the planner filter left out as settled (or expired). */
  settled: number;
  /** --limit cut the page: it must not be checkpointed past. */
  cut: boolean;
}

/**
 * Enqueues the page's items that the planner filter does not find settled (or plans them,
 * dry). Items that cannot be carried are parked before the page is checkpointed, and never
 * stop the lane. --limit counts the items enqueued.
 */
export async function takePage(pass: Pass, segment: number, items: Item[]): Promise<PageTake> {
  const pending = pendingOf(pass, items);
  if (pass.dryRun) {
    // Planned in full (lookups read) for the plan counts; the split is the filter's.
    const planned = await dryRunPage(pass, items);
    const kept = new Set(pending);
    const wouldEnqueue = items.slice(0, planned).filter((i) => kept.has(i)).length;
    return { enqueued: wouldEnqueue, settled: planned - wouldEnqueue, cut: planned < items.length };
  }
  const settled = items.length - pending.length;
  const { table, counts, runId } = pass;
  const { migrations, projection } = pass.scope;
  const { work, refused } = workItemsOf(pass.tableDef, pending, projection);
  const take = Math.min(work.length, counts.limitLeft);
  const cut = take < work.length;
  if (cut) counts.limitHit = true;
  counts.limitLeft -= take;
  const packing = packCarryable(table, work.slice(0, take), {
    maxItemsPerMessage: ITEMS_PER_MESSAGE,
    ...(runId && { runId }),
    // What the worker may plan from these items (it never plans what was not projected).
    scannedFor: { migrations, projection },
  });
  await parkRefused(pass, [...refused, ...packing.refused]);
  if (!packing.carried) return { enqueued: 0, settled, cut };
  await reserveRate(pass, segment, packing.carried);
  await sendMessages(pass.deps.sqs, pass.deps.queueUrl, packing.packed);
  counts.messages += packing.packed.length;
  return { enqueued: packing.carried, settled, cut };
}

/** The page's items the planner filter does not leave out (all of them when it is off). */
function pendingOf(pass: Pass, items: Item[]): Item[] {
  const { scope, deps, table } = pass;
  if (!scope.skipSettled) return items;
  const nowSeconds = Math.floor(pass.now() / 1000);
  return items.filter(
    (item) => scanVerdictOf(deps.planner, table, item, nowSeconds, scope.migrations) === 'enqueue',
  );
}

/** Waits until the rate lets `items` through; a `backfill set` change re-takes the reservation. */
async function reserveRate(pass: Pass, segment: number, items: number): Promise<void> {
  for (;;) {
    const wake = pass.limits.changed.signal;
    const d = pass.throttler.reserve(items);
    if (d.go) return;
    await pass.waits.wait(segment, 'rate', d.reason, d.waitMs, wake);
    // Woken by new limits: the reservation is taken again from the new bucket.
    if (!wake.aborted || pass.waits.stopped) return;
  }
}

/** Parks (or, without a DLQ, only reports) the items no message can carry. */
async function parkRefused(pass: Pass, refused: Refused[]): Promise<void> {
  if (!refused.length) return;
  const { counts, deps } = pass;
  counts.unsendable += refused.length;
  for (const r of refused) problem(pass, r.reason);
  if (!deps.deadLetters) return;
  await deps.deadLetters.park(refused.map((r) => parkEntryOf(pass.tableName, r)));
  counts.parked += refused.length;
}
