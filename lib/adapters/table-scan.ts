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
  /** Attributes to read (keys and inputs): a 300 KB blob beside them is never read. Default: all. */
  projection?: readonly string[];
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
          ...projectionOf(options.projection),
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

/** A ProjectionExpression with a placeholder per name (`source`, `status`… are reserved words). */
function projectionOf(names: readonly string[] | undefined): {
  ProjectionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
} {
  if (!names?.length) return {};
  return {
    ProjectionExpression: names.map((_, i) => `#p${i}`).join(', '),
    ExpressionAttributeNames: Object.fromEntries(names.map((n, i) => [`#p${i}`, n])),
  };
}
