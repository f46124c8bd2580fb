// The in-process historic pass: a segmented scan of one migrated table, each page pushed
// through the migration pipeline, with no queue in between. Only tests use it (the pipeline
// without the transport); operators and the demo run `streamfill backfill` (scanner → work
// queue → worker, lib/engine/backfill.ts).
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { scanPages } from '../adapters/table-scan.ts';
import { ALL_MIGRATIONS, type MigratedTable } from '../core/migrations/index.ts';
import { scanProjection } from '../core/backfill-filter.ts';
import { countOutcomes, migrateItems, type EngineDeps, type ItemResult } from './migrate-items.ts';

export interface MigrateTableOptions {
  /** The logical table; its registered migrations are applied. */
  table: MigratedTable;
  tableName: string;
  /** Parallel Scan segments. @default 4 (SCAN_SEGMENTS) */
  segments?: number;
  /** Items per Scan page. @default 500 (SCAN_PAGE_SIZE) */
  pageSize?: number;
  /** Called after every page with the running counts. */
  onProgress?: (counts: Record<string, number>, scanned: number) => void;
  /** Items that did not settle, with reasons, are kept up to this many. @default 50 */
  problemLimit?: number;
  /** Wait for OpenSearch to make updates visible. @default false */
  refresh?: boolean;
}

export interface MigrateTableResult {
  scanned: number;
  counts: Record<string, number>;
  problems: ItemResult[];
  ms: number;
}

/**
 * Migrates every item of a table, page by page.
 *
 * @example
 * const r = await migrateTable(doc, deps, { table: 'tag', tableName: 'pika-tag-def-prod' });
 * console.log(r.counts.migrated, r.problems);
 */
export async function migrateTable(
  doc: DynamoDBDocumentClient,
  deps: EngineDeps,
  opts: MigrateTableOptions,
): Promise<MigrateTableResult> {
  const started = Date.now();
  const counts: Record<string, number> = {};
  const problems: ItemResult[] = [];
  let scanned = 0;
  for await (const page of scanPages(doc, opts.tableName, {
    segments: opts.segments,
    pageSize: opts.pageSize,
    projection: scanProjection(opts.table, ALL_MIGRATIONS),
  })) {
    const results = await migrateItems(opts.table, page, deps, { refresh: opts.refresh });
    scanned += page.length;
    for (const [k, v] of Object.entries(countOutcomes(results))) counts[k] = (counts[k] ?? 0) + v;
    for (const r of results) {
      if (r.reason && problems.length < (opts.problemLimit ?? 50)) problems.push(r);
    }
    opts.onProgress?.(counts, scanned);
  }
  return { scanned, counts, problems, ms: Date.now() - started };
}
