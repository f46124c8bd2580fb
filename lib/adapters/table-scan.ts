import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Item } from '../core/types.ts';

export interface ScanOptions {
  segments?: number;
  /** Items per Scan page. */
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
  const TotalSegments = options.segments ?? 4;
  type Pending = Promise<{ segment: number; items: Item[]; next?: Record<string, unknown> }>;
  const fetch = (segment: number, ExclusiveStartKey?: Record<string, unknown>): Pending =>
    doc
      .send(
        new ScanCommand({
          TableName,
          Segment: segment,
          TotalSegments,
          Limit: options.pageSize ?? 500,
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
