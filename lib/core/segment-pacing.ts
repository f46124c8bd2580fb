// `--distributed --rate`: the run's rate shared by its segment tasks. Each task scans one page
// and delays its continuation by the time its share of the rate needs for what it enqueued.
// Pure.

/** SQS delays a message by at most this long (a segment's longest pause between two pages). */
export const MAX_DELAY_SECONDS = 900;

export interface SegmentPacing {
  /** The page size a task may read so that its continuation fits one SQS delay. */
  pageSize: number;
  /** The continuation's delay after `enqueued` items, in whole seconds (0 = at once). */
  delaySeconds(enqueued: number): number;
}

/**
 * The pacing of one segment of a run limited to `rate` items/s over `totalSegments` segments
 * (undefined or null: unlimited). A rate too low for one item per segment per 900 s is paced at
 * that floor (the CLI refuses it before the run starts).
 */
export function segmentPacing(
  rate: number | null | undefined,
  totalSegments: number,
  pageSize: number,
): SegmentPacing {
  if (rate === null || rate === undefined) return { pageSize, delaySeconds: () => 0 };
  const share = rate / totalSegments;
  return {
    pageSize: Math.max(1, Math.min(pageSize, Math.floor(share * MAX_DELAY_SECONDS))),
    delaySeconds: (enqueued) =>
      enqueued <= 0 ? 0 : Math.min(MAX_DELAY_SECONDS, Math.ceil(enqueued / share)),
  };
}
