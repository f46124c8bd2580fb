// In-process historic pass: scan a table and push each page through the migration
// pipeline. The SQS-distributed backfill sends the same pages to the worker instead.
import { scanPages } from '../adapters/table-scan.ts';
import {
  countOutcomes,
  migrateSessionItems,
  migrateTagItems,
  type EngineDeps,
  type ItemResult,
} from './migrate-items.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

export interface MigrateTableOptions {
  table: 'session' | 'tag';
  tableName: string;
  segments?: number;
  pageSize?: number;
  /** Called after every page with the running counts. */
  onProgress?: (counts: Record<string, number>, scanned: number) => void;
  /** Items that did not settle, with reasons (capped). */
  problemLimit?: number;
  refresh?: boolean;
}

export interface MigrateTableResult {
  scanned: number;
  counts: Record<string, number>;
  problems: ItemResult[];
  ms: number;
}

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
  })) {
    const results =
      opts.table === 'session'
        ? await migrateSessionItems(page, deps, { refresh: opts.refresh })
        : await migrateTagItems(page, deps);
    scanned += page.length;
    for (const [k, v] of Object.entries(countOutcomes(results))) counts[k] = (counts[k] ?? 0) + v;
    for (const r of results) {
      if (r.reason && problems.length < (opts.problemLimit ?? 50)) problems.push(r);
    }
    opts.onProgress?.(counts, scanned);
  }
  return { scanned, counts, problems, ms: Date.now() - started };
}
