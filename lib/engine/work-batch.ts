// The backfill worker's batch, the SQS twin of stream-batch.ts: decode each work message, migrate
// all items messages of a table in one pipeline call (no read: the carried inputs are what the
// write is conditioned on), apply search repairs, scan one page per scan-segment task; then the
// shared batch policy (park, count, report failures). The Lambda handler only wires it.
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ITEMS_PER_MESSAGE, METRIC } from '../config/defaults.ts';
import {
  plannableMigrations,
  scanSegmentMigrations,
  type SetMismatch,
} from '../core/scanned-for.ts';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { BackfillStateStore } from '../adapters/backfill-state.ts';
import type { ParkEntry } from '../adapters/dead-letters.ts';
import { scanSegmentPage } from '../adapters/segment-scanner.ts';
import { sendMessages } from '../adapters/work-queue.ts';
import { isUnfinished, RunOwnershipError } from '../core/backfill-run.ts';
import { emptyCounts } from '../core/scan-progress.ts';
import { segmentPacing } from '../core/segment-pacing.ts';
import { isCanary } from '../core/canary.ts';
import type { Item, Key } from '../core/types.ts';
import {
  decodeWorkMessage,
  WorkMessageDecodeError,
  packItems,
  packMessage,
  salvageWorkMessage,
  workItemOf,
  type ItemsMessage,
  type JsonValue,
  type PackedMessage,
  type ScanSegmentMessage,
  type ScannedFor,
  type SearchRepairMessage,
  type WorkItem,
  type WorkMessage,
} from '../core/work-message.ts';
import {
  parkMalformed,
  publishCounts,
  reportFailures,
  tallyResults,
  type BatchPolicy,
  type BatchUnit,
} from './batch-policy.ts';
import { copyItems, worse } from './copy-items.ts';
import {
  enabledMigrations,
  isSettled,
  migrateItems,
  type EngineDeps,
  type ItemResult,
} from './migrate-items.ts';
import {
  deferSearchFailures,
  processSearchRepairs,
  type SearchRepairOutcome,
} from './search-repair.ts';

/** The `table` of a parked body that names none (`''` would read as "no table at all"). */
export const UNSTATED_TABLE = '(not stated in the message)';

/** A paused run's scan-segment task comes back after this long (SQS's delay, ≤ 900 s). */
export const PAUSED_SCAN_RECHECK_SECONDS = 30;

export interface WorkBatchOptions extends BatchPolicy {
  deps: EngineDeps;
  /** The work queue: where scan-segment pages and continuations go, and repairs are rescheduled. */
  workQueue?: { sqs: SQSClient; url: string };
  /** Reads the page of a scan-segment task. */
  doc?: DynamoDBDocumentClient;
  /** Where scan-segment tasks save their segment's checkpoint (and learn the run is current). */
  stateStore?: BackfillStateStore;
  /** Observes each batch (local runner status line, tests). */
  onResults?: (summary: WorkBatchSummary, event: SQSEvent) => void;
}

/** What one batch did. */
export interface WorkBatchSummary {
  messages: number;
  /** The results of every item of the batch's items messages. */
  items: ItemResult[];
  /** Items and messages this batch parked in the DLQ (malformed, undecodable, repairs given up). */
  parked: number;
  /** Messages reported as failed: SQS redelivers them (and moves them to the DLQ at maxReceiveCount). */
  failedMessageIds: string[];
  /** scan-segment tasks: pages read, items examined, items enqueued. */
  pages: number;
  scanned: number;
  enqueued: number;
  repairs: Record<SearchRepairOutcome, number>;
  /** Items messages scanned for another migration set than this worker runs. */
  mismatches: (SetMismatch & { messages: number })[];
}

// A message's verdict for reportFailures: a failed result fails it, anything else settles it.
const settled = (key: Key = {}): ItemResult => ({ key, outcome: 'unchanged' });
const failed = (reason: string, key: Key = {}): ItemResult => ({ key, outcome: 'failed', reason });

interface Decoded {
  record: SQSRecord;
  message: WorkMessage;
}

/**
 * Processes one work-queue batch and returns Lambda's partial batch response.
 *
 * @example
 * const response = await processWorkBatch(event, { deps, logger, metrics, source: 'backfill-worker' });
 */
export async function processWorkBatch(
  event: SQSEvent,
  options: WorkBatchOptions,
): Promise<SQSBatchResponse> {
  const verdicts = new Map<string, ItemResult>();
  const parkedIds = new Set<string>();
  const toPark: { id: string; entry: ParkEntry }[] = [];
  const summary: WorkBatchSummary = {
    messages: event.Records.length,
    items: [],
    parked: 0,
    failedMessageIds: [],
    pages: 0,
    scanned: 0,
    enqueued: 0,
    repairs: { repaired: 0, rescheduled: 0, failed: 0 },
    mismatches: [],
  };

  const decoded: Decoded[] = [];
  for (const record of event.Records) {
    try {
      decoded.push({ record, message: checkTable(decodeWorkMessage(record.body), options.deps) });
    } catch (e) {
      // Retrying cannot fix a body: park it at once with what is wrong, and with the table
      // and item keys it still names, so a redrive can re-read those items.
      const salvaged = salvageWorkMessage(
        record.body,
        (t) => options.deps.planner.resolved.tables.get(t)?.key,
      );
      toPark.push({
        id: record.messageId,
        entry: {
          source: options.source,
          kind: 'undecodable',
          reason: (e as Error).message,
          table: salvaged.table ? options.deps.writer.tableName(salvaged.table) : UNSTATED_TABLE,
          key: salvaged.keys[0] ?? {},
          ...(salvaged.keys.length > 1 && { keys: salvaged.keys }),
          ...(salvaged.docId && { docId: salvaged.docId }),
          record,
        },
      });
    }
  }
  const ofKind = <K extends WorkMessage['kind']>(kind: K) =>
    decoded.filter((d) => d.message.kind === kind) as (Decoded & {
      message: Extract<WorkMessage, { kind: K }>;
    })[];

  const parkedItems = await migrateItemsMessages(ofKind('items'), options, verdicts, summary);
  await repairSearch(ofKind('search-repair'), options, verdicts, toPark, summary);
  await Promise.all(
    ofKind('scan-segment').map(async (d) => {
      try {
        await scanSegmentTask(d.message, options, summary);
        verdicts.set(d.record.messageId, settled());
      } catch (e) {
        verdicts.set(d.record.messageId, failed(`scan-segment: ${(e as Error).message}`));
      }
    }),
  );

  if (toPark.length) {
    if (options.deadLetters) {
      await options.deadLetters.park(toPark.map((p) => p.entry)); // throws: the batch is retried
      for (const p of toPark) {
        parkedIds.add(p.id);
        options.logger.warn('work message parked in the DLQ', { reason: p.entry.reason });
      }
    } else {
      for (const p of toPark) verdicts.set(p.id, failed(p.entry.reason));
    }
  }

  summary.parked = parkedItems + parkedIds.size;
  summary.failedMessageIds = [...verdicts]
    .filter(([id, r]) => !isSettled(r) && !parkedIds.has(id))
    .map(([id]) => id);
  options.onResults?.(summary, event);
  publishCounts(options.metrics, tallyResults(summary.items, summary.parked));
  return reportFailures(
    event,
    'sqs',
    (r) => r.messageId,
    verdicts,
    parkedIds,
    options.logger,
  ) as Promise<SQSBatchResponse>;
}

/**
 * A message for a table this config does not migrate cannot be planned (the worker and the
 * scanner run different configs): refused like any body that does not decode, so it is parked
 * with the reason instead of settling as "nothing to do".
 */
function checkTable(message: WorkMessage, deps: EngineDeps): WorkMessage {
  const table = message.kind === 'search-repair' ? undefined : message.table;
  if (table !== undefined && !deps.planner.migratedTables.includes(table)) {
    throw new WorkMessageDecodeError([
      `table: "${table}" is not a table this config migrates (migrated: ${deps.planner.migratedTables.join(', ')})`,
    ]);
  }
  return message;
}

/**
 * Migrates the items of all items messages, one pipeline call per table (one user lookup, one
 * bulk). A message fails only when one of its items failed in a way a retry can fix; its
 * malformed items are parked one by one. Returns the number of items parked.
 */
async function migrateItemsMessages(
  batch: readonly (Decoded & { message: ItemsMessage })[],
  options: WorkBatchOptions,
  verdicts: Map<string, ItemResult>,
  summary: WorkBatchSummary,
): Promise<number> {
  // One pipeline call per table and planned migration set (normally one per table).
  const groups = new Map<string, { table: string; plan: string[] }>();
  const groupOf = new Map<Decoded, string>();
  for (const d of batch) {
    const { table } = d.message;
    const { plan, mismatch } = plannableMigrations(
      options.deps.planner,
      table,
      enabledMigrations(table, options.deps),
      d.message.scannedFor,
    );
    const id = `${table}:${plan.join(',')}`;
    groups.set(id, { table, plan });
    groupOf.set(d, id);
    if (mismatch) {
      const seen = summary.mismatches.find((m) => m.text === mismatch.text);
      if (seen) seen.messages++;
      else summary.mismatches.push({ ...mismatch, messages: 1 });
    }
  }
  await reportMismatches(summary.mismatches, options);
  let parked = 0;
  for (const [id, { table, plan }] of groups) {
    const carriers = batch.filter((d) => groupOf.get(d) === id);
    const flat = carriers.flatMap((d) =>
      d.message.items.map((item, i) => ({ d, item, unitId: `${d.record.messageId}#${i}` })),
    );
    let results: ItemResult[];
    try {
      const images = flat.map(({ item }) => ({ ...item.inputs, ...item.key }) as Item);
      const deps = { ...options.deps, migrations: plan };
      results = await migrateItems(table, images, deps);
      const copied = await copyItems(
        table,
        flat.map(({ item }, i) => ({ key: item.key, image: images[i] })),
        deps,
      );
      results.forEach((r, i) => Object.assign(r, worse(r, copied[i] as ItemResult)));
    } catch (e) {
      // The whole call could not proceed: every carrier is retried.
      for (const d of carriers)
        verdicts.set(d.record.messageId, failed((e as Error).message, d.message.items[0]?.key));
      continue;
    }
    // A keyword update that failed after the write settled waits on the work queue, not here.
    if (options.workQueue)
      await deferSearchFailures(table, results, {
        sqs: options.workQueue.sqs,
        workQueueUrl: options.workQueue.url,
      });
    summary.items.push(...results);
    const units: BatchUnit<ItemsMessage>[] = flat.map(({ d, item, unitId }) => ({
      id: unitId,
      // Parked as a one-item message: fixed, it can be sent back to the work queue as is.
      record: { ...d.message, items: [item] },
      table: options.deps.writer.tableName(table),
    }));
    const parkedUnits = await parkMalformed(units, results, options);
    parked += parkedUnits.size;
    for (const d of carriers) verdicts.set(d.record.messageId, settled(d.message.items[0]?.key));
    flat.forEach(({ d, unitId }, i) => {
      const r = results[i] as ItemResult;
      const id = d.record.messageId;
      if (!isSettled(r) && !parkedUnits.has(unitId) && isSettled(verdicts.get(id) as ItemResult))
        verdicts.set(id, { ...r, outcome: 'failed', reason: r.reason ?? r.outcome });
    });
  }
  return parked;
}

/**
 * A worker whose migration set differs from the scanner's says so: a metric per message, a
 * warning per kind of difference, and the newest difference in the state store for `status`.
 */
async function reportMismatches(
  mismatches: readonly (SetMismatch & { messages: number })[],
  options: WorkBatchOptions,
): Promise<void> {
  if (!mismatches.length) return;
  const messages = mismatches.reduce((n, m) => n + m.messages, 0);
  options.metrics.addMetric(METRIC.migrationSetMismatch, MetricUnit.Count, messages);
  for (const m of mismatches) {
    options.logger.warn('work message scanned for another migration set', {
      table: m.table,
      messages: m.messages,
      mismatch: m.text,
    });
    try {
      await options.stateStore?.putSetMismatch({
        tableName: options.deps.writer.tableName(m.table),
        text: m.text,
        messages: m.messages,
        atMs: Date.now(),
      });
    } catch (e) {
      // Telling status is best effort: the items themselves are still migrated.
      options.logger.warn('could not record the mismatch in the state store', {
        error: (e as Error).message,
      });
    }
  }
}

/** Search-only repairs: given up ones are parked with their reason; a throw fails them all. */
async function repairSearch(
  batch: readonly (Decoded & { message: SearchRepairMessage })[],
  options: WorkBatchOptions,
  verdicts: Map<string, ItemResult>,
  toPark: { id: string; entry: ParkEntry }[],
  summary: WorkBatchSummary,
): Promise<void> {
  if (!batch.length) return;
  const search = options.deps.search;
  if (!search || !options.workQueue) {
    const why = !search
      ? 'search-repair: the worker has no search endpoint (set SEARCH_ENDPOINT)'
      : 'search-repair: the worker has no work queue (set STREAMFILL_QUEUE_URL)';
    for (const d of batch) verdicts.set(d.record.messageId, failed(why));
    return;
  }
  try {
    const out = await processSearchRepairs(
      batch.map((d) => d.message),
      { search, sqs: options.workQueue.sqs, workQueueUrl: options.workQueue.url },
    );
    out.forEach((r, i) => {
      const d = batch[i] as Decoded & { message: SearchRepairMessage };
      summary.repairs[r.outcome]++;
      verdicts.set(d.record.messageId, settled());
      if (r.outcome === 'failed') {
        toPark.push({
          id: d.record.messageId,
          entry: {
            source: options.source,
            kind: 'search-repair',
            reason: r.reason ?? 'search repair failed',
            // The item whose document it is (older messages name only the document).
            table: d.message.table
              ? options.deps.writer.tableName(d.message.table)
              : UNSTATED_TABLE,
            key: d.message.key ?? {},
            docId: d.message.docId,
            record: d.message,
          },
        });
      }
    });
  } catch (e) {
    for (const d of batch)
      verdicts.set(d.record.messageId, failed(`search-repair: ${(e as Error).message}`));
  }
}

/**
 * `--distributed`: one page of a segment → its items to the work queue, then the segment's
 * checkpoint, then the continuation task. A crash anywhere before the end leaves this task on
 * the queue: it comes back and re-sends its page (duplicates are harmless, loss is not; the
 * segment's counts then count that page twice). A task of a run that is no longer current is
 * dropped; a paused run's task comes back later.
 *
 * Known limit: a task redelivered after it had already sent its continuation (the delete was
 * lost) starts a second chain for the segment: items are enqueued twice from there on
 * (harmless, conditional writes) and checkpoints of the two chains interleave.
 */
async function scanSegmentTask(
  m: ScanSegmentMessage,
  options: WorkBatchOptions,
  summary: WorkBatchSummary,
): Promise<void> {
  const { doc, workQueue, stateStore, deps, logger } = options;
  if (!doc || !workQueue)
    throw new Error('the worker has no work queue (set STREAMFILL_QUEUE_URL)');
  const tableName = deps.writer.tableName(m.table);
  const run = stateStore ? await stateStore.getRun(tableName) : undefined;
  if (stateStore) {
    if (!run || run.runId !== m.runId || !isUnfinished(run)) {
      logger.warn('scan-segment task of a run that is not current: dropped', {
        table: tableName,
        runId: m.runId,
        current: run ? `${run.runId} (${run.status})` : 'none',
      });
      return;
    }
    if (run.pauseRequested) {
      await sendMessages(workQueue.sqs, workQueue.url, [
        { ...packMessage(m), delaySeconds: PAUSED_SCAN_RECHECK_SECONDS },
      ]);
      return;
    }
  }
  const migrations = scanSegmentMigrations(
    deps.planner,
    m.table,
    enabledMigrations(m.table, deps),
    m.migrations,
  );
  const projection = deps.planner.projection(m.table, migrations);
  const table = deps.planner.table(m.table);
  const keyNames: readonly string[] = table.key;
  const inputNames = projection.filter((n) => !keyNames.includes(n));
  // The run record's limits (`backfill set`) win over the rate the task was started with.
  const pacing = segmentPacing(run?.limits ? run.limits.rate : m.rate, m.totalSegments, m.pageSize);
  const page = await scanSegmentPage(doc, {
    tableName,
    projection,
    segment: m.segment,
    totalSegments: m.totalSegments,
    pageSize: pacing.pageSize,
    ...(m.exclusiveStartKey && { exclusiveStartKey: m.exclusiveStartKey }),
  });

  const unsendable: ParkEntry[] = [];
  const park = (item: Item, e: unknown): void => {
    unsendable.push({
      source: options.source,
      reason: (e as Error).message,
      table: tableName,
      key: (e as { key?: Key }).key ?? deps.planner.partialKey(m.table, item),
      record: item,
    });
  };
  const work: WorkItem[] = [];
  for (const item of page.items) {
    if (isCanary(table, item)) continue; // the backfill gate's, not the application's
    try {
      work.push(workItemOf(table, item, inputNames));
    } catch (e) {
      park(item, e);
    }
  }
  const packed = packOrPark(m, work, { migrations, projection }, (w, e) =>
    park({ ...w.inputs, ...w.key }, e),
  );
  if (unsendable.length) {
    if (!options.deadLetters) throw new Error(unsendable.map((u) => u.reason).join('; '));
    await options.deadLetters.park(unsendable);
  }
  const sent = packed.reduce((n, p) => n + p.count, 0);
  if (packed.length) await sendMessages(workQueue.sqs, workQueue.url, packed);
  const next = page.lastEvaluatedKey as Key | undefined;
  summary.pages++;
  summary.scanned += page.scannedCount;
  summary.enqueued += sent;
  // Checkpoint before the continuation: the next page's task then reads this page's counts
  // (sent after, it could race ahead and a late save would move the checkpoint backwards).
  if (stateStore && run) {
    const previous =
      (await stateStore.getCheckpoints(m.runId)).find((c) => c.segment === m.segment)?.counts ??
      emptyCounts();
    try {
      await stateStore.saveCheckpoint(tableName, run.owner, {
        runId: m.runId,
        segment: m.segment,
        ...(next && { lastEvaluatedKey: next as Record<string, JsonValue> }),
        counts: {
          scanned: previous.scanned + page.scannedCount,
          enqueued: previous.enqueued + sent,
          skipped: previous.skipped + (page.scannedCount - page.items.length),
          done: !next,
        },
        updatedAtMs: Date.now(),
      });
    } catch (e) {
      if (!isRunOwnershipError(e)) throw e;
      // Finished, abandoned or taken over meanwhile: the chain of this run ends here.
      logger.warn('scan-segment task of a run that is no longer current: chain ends', {
        error: (e as Error).message,
      });
      return;
    }
  }
  if (next) {
    const delaySeconds = pacing.delaySeconds(sent);
    await sendMessages(workQueue.sqs, workQueue.url, [
      { ...packMessage({ ...m, exclusiveStartKey: next }), ...(delaySeconds && { delaySeconds }) },
    ]);
  }
}

const isRunOwnershipError = (e: unknown): boolean =>
  e instanceof RunOwnershipError || (e instanceof Error && e.name === 'RunOwnershipError');

/** Packs the items; one that cannot fit a message is handed to `park` and left out. */
function packOrPark(
  m: ScanSegmentMessage,
  work: WorkItem[],
  scannedFor: ScannedFor,
  park: (w: WorkItem, e: unknown) => void,
): PackedMessage[] {
  let rest = work;
  for (;;) {
    try {
      return packItems(m.table, rest, {
        runId: m.runId,
        maxItemsPerMessage: ITEMS_PER_MESSAGE,
        scannedFor,
      });
    } catch (e) {
      const key = (e as { key?: Key }).key;
      const bad = key && rest.find((w) => w.key === key);
      if (!bad) throw e;
      park(bad, e);
      rest = rest.filter((w) => w !== bad);
    }
  }
}
