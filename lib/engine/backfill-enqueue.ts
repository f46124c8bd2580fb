// A page's items onto the work queue: packed into messages within --limit and the rate, the
// items no message can carry parked with their reason (they never stop the lane).
import { sendMessages } from '../adapters/work-queue.ts';
import { ITEMS_PER_MESSAGE } from '../config/defaults.ts';
import type { Item } from '../core/types.ts';
import { packCarryable, parkEntryOf, workItemsOf, type Refused } from './backfill-carry.ts';
import { dryRunPage } from './backfill-dry-run.ts';
import { problem, type Pass } from './backfill-pass.ts';

/**
 * Enqueues the page's items (or plans them, dry); returns how many were taken. Items that
 * cannot be carried are parked before the page is checkpointed, and never stop the lane.
 */
export async function takePage(pass: Pass, segment: number, items: Item[]): Promise<number> {
  if (pass.dryRun) return dryRunPage(pass, items);
  const { table, counts, runId } = pass;
  const { migrations, projection } = pass.scope;
  const { work, refused } = workItemsOf(pass.tableDef, items, projection);
  const take = Math.min(work.length, counts.limitLeft);
  if (take < work.length) counts.limitHit = true;
  counts.limitLeft -= take;
  const packing = packCarryable(table, work.slice(0, take), {
    maxItemsPerMessage: ITEMS_PER_MESSAGE,
    ...(runId && { runId }),
    // What the worker may plan from these items (it never plans what was not projected).
    scannedFor: { migrations, projection },
  });
  await parkRefused(pass, [...refused, ...packing.refused]);
  if (!packing.carried) return take;
  await reserveRate(pass, segment, packing.carried);
  await sendMessages(pass.deps.sqs, pass.deps.queueUrl, packing.packed);
  counts.messages += packing.packed.length;
  return take;
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
