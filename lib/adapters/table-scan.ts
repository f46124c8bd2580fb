// The scanner: a parallel segmented Scan that hands out pages as the consumer takes them.
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SCAN_PAGE_SIZE, SCAN_SEGMENTS } from '../config/defaults.ts';
import type { Item } from '../core/types.ts';

export interface ScanOptions {
  /** Parallel Scan segments. @default 4 (SCAN_SEGMENTS) */
  segments?: number;
  /** Items per Scan page. @default 500 (SCAN_PAGE_SIZE) */
  pageSize?: number;
  consistentRead?: boolean;
  signal?: AbortSignal;
}

/**
 * Parallel segmented Scan, yielding pages as they arrive from any segment. Segments run
 * concurrently; pages are handed out one at a time so the consumer sets the pace
 * (a segment does not fetch its next page until its previous one was taken).
 */
export async function* scanPages(
  doc: DynamoDBDocumentClient,
  TableName: string,
  options: ScanOptions = {},
): AsyncGenerator<Item[]> {
  const TotalSegments = options.segments ?? SCAN_SEGMENTS;
  type Pending = Promise<{ segment: number; items: Item[]; next?: Record<string, unknown> }>;
  const fetch = (segment: number, ExclusiveStartKey?: Record<string, unknown>): Pending =>
    doc
      .send(
        new ScanCommand({
          TableName,
          Segment: segment,
          TotalSegments,
          Limit: options.pageSize ?? SCAN_PAGE_SIZE,
          ConsistentRead: options.consistentRead ?? false,
          ...(ExclusiveStartKey && { ExclusiveStartKey }),
        }),
        { abortSignal: options.signal },
      )
      .then((r) => ({ segment, items: (r.Items ?? []) as Item[], next: r.LastEvaluatedKey }));
  const inFlight = new Map<number, Pending>();
  for (let s = 0; s < TotalSegments; s++) inFlight.set(s, fetch(s));
  while (inFlight.size) {
    const page = await Promise.race(inFlight.values());
    inFlight.delete(page.segment);
    if (page.next) inFlight.set(page.segment, fetch(page.segment, page.next));
    if (page.items.length) yield page.items;
  }
}
