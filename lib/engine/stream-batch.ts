// The stream consumer's batch, end to end: route each record to its declared table by the table its
// eventSourceARN names (one consumer serves every migrated table's stream), decode the records (a
// record that cannot be decoded is parked alone), keep the newest per item, migrate them through
// the pipeline with that table's migrations, hand keyword
// updates that did not land to delayed search-only repair tasks, then apply the shared batch
// policy (park, count, report failures). The Lambda handler only wires this to its dependencies.
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { unmarshallExact } from '../adapters/exact-numbers.ts';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { METRIC } from '../config/defaults.ts';
import type { Item, Key } from '../core/types.ts';
import { keyId } from '../core/keys.ts';
import { canaryNonce, isCanary, type KeyShape } from '../core/canary.ts';
import type { BackfillStateStore } from '../adapters/backfill-state.ts';
import {
  parkMalformed,
  publishCounts,
  reportFailures,
  tallyResults,
  type BatchPolicy,
  type BatchUnit,
} from './batch-policy.ts';
import { copyItems, enabledCopies, worse } from './copy-items.ts';
import { lookupsReading, rederiveDependents } from './copy-dependents.ts';
import { migrateItems, type EngineDeps, type ItemResult } from './migrate-items.ts';
import { deferSearchFailures, type SearchRepairTarget } from './search-repair.ts';

export interface StreamBatchOptions extends BatchPolicy {
  deps: EngineDeps;
  /**
   * Where keyword updates that failed or found no document go once the DynamoDB write settled
   * (the work queue). Absent: such records fail and are retried like any failure.
   */
  searchRepairs?: SearchRepairTarget;
  /** Observes each batch's results by sequence number (local runner, benchmarks). */
  onResults?: (results: ReadonlyMap<string, ItemResult>, event: DynamoDBStreamEvent) => void;
  /**
   * Where the gate's canaries are recorded as seen (the backfill state table): `backfill` waits
   * for that record before its first page. Absent: canaries are skipped, not recorded.
   */
  canaries?: Pick<BackfillStateStore, 'putCanarySeen'>;
}

// Exact numbers: an app number past 2^53 (or with more digits than a double) is carried as its
// text, never rounded and never a reason to park the record.
const image = (i: Record<string, unknown> | undefined): Item | undefined =>
  i ? unmarshallExact(i as Record<string, AttributeValue>) : undefined;

const seqOf = (r: DynamoDBRecord): string => r.dynamodb?.SequenceNumber as string;

/** A record as the batch needs it, or why it cannot be processed. */
type Decoded =
  | { ok: true; record: DynamoDBRecord; id: string; newImage: Item | undefined }
  | { ok: false; record: DynamoDBRecord; key: Key; reason: string };

function decode(table: string, keyNames: readonly string[], r: DynamoDBRecord): Decoded {
  let key: Key = {};
  try {
    const keys = (image(r.dynamodb?.Keys) ?? {}) as Key;
    // Schema order, as every key the engine builds, so logs and parked messages read alike.
    key = Object.fromEntries(keyNames.flatMap((k) => (k in keys ? [[k, keys[k]]] : []))) as Key;
    const absent = keyNames.filter((k) => key[k] === undefined);
    if (absent.length)
      return {
        ok: false,
        record: r,
        key,
        reason: `stream record without key attribute(s) ${absent.join(', ')} in Keys`,
      };
    return { ok: true, record: r, id: keyId(table, key), newImage: image(r.dynamodb?.NewImage) };
  } catch (e) {
    return {
      ok: false,
      record: r,
      key,
      reason: `stream record cannot be decoded: ${(e as Error).message}`,
    };
  }
}

/**
 * Keeps the newest record of each item, in batch order. Planning from an older image would only
 * produce conflicts (its inputs are stale), so one write per item per batch is enough — and
 * keeps writes per changed item near 1.
 */
export function latestPerKey<T>(records: readonly T[], keyOf: (r: T) => string): T[] {
  const last = new Map<string, number>();
  records.forEach((r, i) => last.set(keyOf(r), i));
  return records.filter((r, i) => last.get(keyOf(r)) === i);
}

/**
 * Processes one stream batch and returns Lambda's partial batch response.
 *
 * @example
 * const response = await processStreamBatch(event, { deps, logger, metrics, source: 'stream-consumer' });
 */
export async function processStreamBatch(
  event: DynamoDBStreamEvent,
  options: StreamBatchOptions,
): Promise<DynamoDBBatchResponse> {
  const bySeq = new Map<string, ItemResult>();
  const units: BatchUnit<DynamoDBRecord>[] = [];
  const unitResults: ItemResult[] = [];
  // A mapping delivers one table's stream; grouping keeps a mixed event (a misrouted mapping,
  // a test) correct too. A record of no migrated table fails (retried, then parked by the
  // mapping's on-failure destination): acknowledging it would skip a change unmigrated.
  const groups = new Map<string, DynamoDBRecord[]>();
  for (const r of event.Records) {
    const table = tableOfRecord(r, options.deps);
    if (table) groups.set(table, [...(groups.get(table) ?? []), r]);
    else {
      const res: ItemResult = {
        key: (image(r.dynamodb?.Keys) ?? {}) as Key,
        outcome: 'failed',
        reason:
          `stream record of ${tableFromArn(r.eventSourceARN) ?? 'an unnamed table'} (${r.eventSourceARN ?? 'no eventSourceARN'}): ` +
          `not a migrated table (${options.deps.planner.migratedTables.map((t) => options.deps.writer.tableName(t)).join(', ')})`,
      };
      bySeq.set(seqOf(r), res);
    }
  }
  for (const [table, records] of groups)
    await processTableRecords(table, records, options, bySeq, units, unitResults);
  const parked = await parkMalformed(units, unitResults, options);
  options.onResults?.(bySeq, event);
  publishCounts(options.metrics, tallyResults(bySeq.values(), parked.size));
  publishDelay(options, event);
  return reportFailures(event, 'stream', seqOf, bySeq, parked, options.logger);
}

/** The migrated table whose stream carried `r`, by the table name in its eventSourceARN. */
function tableOfRecord(r: DynamoDBRecord, deps: EngineDeps): string | undefined {
  const name = tableFromArn(r.eventSourceARN);
  return deps.planner.migratedTables.find((t) => deps.writer.tableName(t) === name);
}

/** One table's records of the batch: decoded, newest per item, migrated; results into `bySeq`. */
async function processTableRecords(
  table: string,
  records: readonly DynamoDBRecord[],
  options: StreamBatchOptions,
  bySeq: Map<string, ItemResult>,
  units: BatchUnit<DynamoDBRecord>[],
  unitResults: ItemResult[],
): Promise<void> {
  const shape = options.deps.planner.table(table);
  const decoded = records.map((r) => decode(table, shape.key, r));
  const ok = decoded.flatMap((d) => (d.ok ? [d] : []));
  const tableOf = (): string => options.deps.writer.tableName(table);
  // Canaries prove to `backfill` that this consumer reads the stream: recorded, never migrated
  // or counted; a failed record is retried like any failure.
  const good = ok.filter((d) => !d.newImage || !isCanary(shape, d.newImage));
  await recordCanaries(
    shape,
    ok.filter((d) => d.newImage && isCanary(shape, d.newImage)),
    tableOf,
    options,
    bySeq,
  );
  const latest = latestPerKey(
    good.filter((d) => !isCanary(shape, (image(d.record.dynamodb?.Keys) ?? {}) as Key)),
    (d) => d.id,
  );
  // Undecodable records are parked alone (malformed): retrying cannot fix them.
  for (const d of decoded) {
    if (d.ok) continue;
    const res: ItemResult = { key: d.key, outcome: 'malformed', reason: d.reason };
    bySeq.set(seqOf(d.record), res);
    units.push({ id: seqOf(d.record), record: d.record, table: tableOf() });
    unitResults.push(res);
  }
  // REMOVE (including TTL expiry) needs nothing: there is no item left to migrate. Any other
  // record without a NewImage means the stream's view type is wrong: an error, never a skip.
  const changes = latest.filter((d) => d.record.eventName !== 'REMOVE');
  for (const d of changes.filter((c) => !c.newImage)) {
    bySeq.set(seqOf(d.record), {
      key: (image(d.record.dynamodb?.Keys) ?? {}) as Key,
      outcome: 'failed',
      reason:
        `${d.record.eventName ?? 'change'} record without NewImage: the stream's view type is ` +
        `${d.record.dynamodb?.StreamViewType ?? 'unknown'}, streamfill needs NEW_AND_OLD_IMAGES (or NEW_IMAGE)`,
    });
  }
  const live = changes.filter((d) => d.newImage);
  if (live.length) {
    const results = await migrateItems(
      table,
      live.map((d) => d.newImage as Item),
      options.deps,
    );
    if (options.searchRepairs) await deferSearchFailures(table, results, options.searchRepairs);
    results.forEach((res, i) => {
      const d = live[i] as (typeof live)[number];
      bySeq.set(seqOf(d.record), res);
      units.push({ id: seqOf(d.record), record: d.record, table: tableOf() });
      unitResults.push(res);
    });
  }
  // Copies follow deletes too: a REMOVE deletes the targets derived from the item. Then the
  // sources whose copies looked the item up are derived again (a bot published → its aliases).
  const sources = latest.filter((d) => d.record.eventName === 'REMOVE' || d.newImage);
  const sourceChanges = sources.map((d) => ({
    key: keyOf(shape.key, d.record),
    image: d.record.eventName === 'REMOVE' ? undefined : d.newImage,
  }));
  const merge = (copied: readonly ItemResult[]) =>
    copied.forEach((res, i) => {
      const d = sources[i] as (typeof sources)[number];
      const known = bySeq.get(seqOf(d.record));
      if (known) Object.assign(known, worse(known, res));
      else {
        bySeq.set(seqOf(d.record), res);
        units.push({ id: seqOf(d.record), record: d.record, table: tableOf() });
        unitResults.push(res);
      }
    });
  if (enabledCopies(table, options.deps).length)
    merge(await copyItems(table, sourceChanges, options.deps));
  if (lookupsReading(table, options.deps).length)
    merge(await rederiveDependents(table, sourceChanges, options.deps));
}

/** A decoded record's key, in schema order. */
function keyOf(keyNames: readonly string[], r: DynamoDBRecord): Key {
  const keys = (image(r.dynamodb?.Keys) ?? {}) as Key;
  return Object.fromEntries(keyNames.map((k) => [k, keys[k]])) as Key;
}

async function recordCanaries(
  shape: KeyShape,
  canaries: readonly Extract<Decoded, { ok: true }>[],
  tableOf: () => string,
  options: StreamBatchOptions,
  bySeq: Map<string, ItemResult>,
): Promise<void> {
  if (!options.canaries) return;
  for (const d of canaries) {
    const key = d.newImage as Item;
    try {
      await options.canaries.putCanarySeen(tableOf(), canaryNonce(shape, key), Date.now());
    } catch (e) {
      bySeq.set(seqOf(d.record), {
        key: key as Key,
        outcome: 'failed',
        reason: `canary not recorded in the state table: ${(e as Error).message}`,
      });
    }
  }
}

/** How far behind the application the consumer runs (stream timestamps have 1 s resolution). */
function publishDelay(policy: BatchPolicy, event: DynamoDBStreamEvent): void {
  const oldest = Math.min(
    ...event.Records.map((r) => r.dynamodb?.ApproximateCreationDateTime ?? Infinity),
  );
  if (Number.isFinite(oldest)) {
    policy.metrics.addMetric(
      METRIC.writeToProcessedDelay,
      MetricUnit.Milliseconds,
      Math.max(0, Date.now() - oldest * 1000),
    );
  }
}

/** `arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>` → `<name>`. */
function tableFromArn(arn: string | undefined): string | undefined {
  return arn?.match(/:table\/([^/]+)/)?.[1];
}
