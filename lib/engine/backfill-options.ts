// The backfill's options, checked before anything else happens: a command that is going to be
// refused creates no queue, runs no preflight and reads no table. Pure: no I/O, no clock.
import type { Key } from '../core/types.ts';
import type { OnDemandPrices } from '../core/cost-estimate.ts';
import type { JsonValue } from '../core/work-message.ts';
import { MAX_DELAY_SECONDS as MAX_TASK_DELAY_SECONDS } from '../core/segment-pacing.ts';

export interface BackfillOptions {
  /** The declared table scanned (a migrated table of the planner's config). */
  table: string;
  /** The physical table scanned. */
  tableName: string;
  /** Parallel Scan segments. @default 16 (BACKFILL_SEGMENTS) */
  segments?: number;
  /** Items per Scan page (examined). @default 500 (SCAN_PAGE_SIZE) */
  pageSize?: number;
  /** Items enqueued per second at most; undefined = as fast as the scan goes. */
  rate?: number;
  /** Count, sample and estimate only: nothing enqueued, no checkpoint. */
  dryRun?: boolean;
  /** Sample before → after diffs shown by a dry run. @default 5 */
  samples?: number;
  /** Continue the table's unfinished run from its checkpoints. */
  resume?: boolean;
  /** Abandon an unfinished run and start a new full pass. */
  restart?: boolean;
  /** Stop once this many items were enqueued (the run stays resumable). */
  limit?: number;
  /** Only these partition keys (Query per key); no run record. */
  users?: readonly string[];
  /** Exactly these items (BatchGet); no run record. Keys missing from the table are reported. */
  keys?: readonly Key[];
  /** Enqueue one `scan-segment` task per segment and let the worker scan. */
  distributed?: boolean;
  /**
   * Leave out items the planner finds settled (backfill-filter.ts), while the consumer's
   * continuity allows it. @default true
   */
  filter?: boolean;
  /** Whether the search-keyword migration runs (a search endpoint is configured). */
  searchEnabled: boolean;
  /** Enabled migrations. @default the table's, less the search ones without search */
  migrations?: readonly string[];
  /** Pause while the work queue holds more messages than this. */
  maxBacklog?: number;
  /** Pause while the consumer lags more than this. */
  maxLagMs?: number;
  /** Wait for a running, caught-up consumer before the first page. @default true */
  waitForConsumer?: boolean;
  /** How often the pause flag, the queue and the consumer are looked at, ms. @default 1000 */
  pollMs?: number;
  prices?: OnDemandPrices;
  /** Recorded in the run record (what status shows). */
  recordOptions?: Record<string, JsonValue>;
}

export type BackfillMode = 'scan' | 'users' | 'keys' | 'distributed';

/** Bad options; the message names the option and the value. */
export class BackfillOptionError extends Error {
  override readonly name = 'BackfillOptionError';
}

/** The lowest `--rate` a distributed run can keep: one item per segment per maximal delay. */
export const minDistributedRate = (segments: number): number => segments / MAX_TASK_DELAY_SECONDS;

export function backfillMode(
  o: Pick<BackfillOptions, 'keys' | 'users' | 'distributed'>,
): BackfillMode {
  return o.keys ? 'keys' : o.users?.length ? 'users' : o.distributed ? 'distributed' : 'scan';
}

/** Whether the pass keeps a run record (checkpoints, resume): full scans that write. */
export const keepsRun = (
  o: Pick<BackfillOptions, 'dryRun' | 'keys' | 'users' | 'distributed'>,
): boolean => {
  const mode = backfillMode(o);
  return !o.dryRun && (mode === 'scan' || mode === 'distributed');
};

/**
 * Throws BackfillOptionError for a value or a combination the pass would refuse, naming the
 * flags. `segments` and `pageSize` are the effective values (defaults applied).
 */
export function validateBackfillOptions(
  o: Omit<BackfillOptions, 'table' | 'tableName' | 'searchEnabled'>,
  segments: number,
  pageSize: number,
): void {
  const bad = (m: string): never => {
    throw new BackfillOptionError(m);
  };
  if (!Number.isInteger(segments) || segments < 1 || segments > 1_000_000)
    bad(`--segments must be an integer in 1..1000000, got ${segments}`);
  if (!Number.isInteger(pageSize) || pageSize < 1)
    bad(`--page-size must be an integer >= 1, got ${pageSize}`);
  if (o.rate !== undefined && !(o.rate > 0))
    bad(`--rate must be a positive number of items/s, got ${o.rate}`);
  if (o.limit !== undefined && !(Number.isInteger(o.limit) && o.limit >= 1))
    bad(`--limit must be an integer >= 1, got ${o.limit}`);
  const modes = [
    o.users?.length && '--user',
    o.keys && '--keys',
    o.distributed && '--distributed',
  ].filter(Boolean);
  if (modes.length > 1) bad(`${modes.join(' and ')} cannot be combined: choose one`);
  if (o.resume && o.restart)
    bad('--resume and --restart cannot be combined: continue the run, or start over');
  if ((o.resume || o.restart) && (o.users?.length || o.keys))
    bad(
      `${o.resume ? '--resume' : '--restart'} applies to full scans; --user and --keys keep no run`,
    );
  if (o.dryRun && (o.resume || o.restart || o.distributed))
    bad(
      `--dry-run cannot be combined with ${o.resume ? '--resume' : o.restart ? '--restart' : '--distributed'}: a dry run keeps no run`,
    );
  if (o.distributed && o.resume)
    bad(
      '--resume of a distributed run: its continuation tasks carry it on by themselves (see `streamfill status`)',
    );
  if (o.distributed && o.limit !== undefined) bad('--limit cannot be combined with --distributed');
  if (o.distributed && o.rate !== undefined && o.rate < minDistributedRate(segments))
    bad(
      `--rate ${o.rate} is too low for --distributed over ${segments} segments: each segment waits at most ` +
        `${MAX_TASK_DELAY_SECONDS} s between pages (SQS's longest delay), so the rate must be at least ` +
        `${minDistributedRate(segments).toPrecision(3)} items/s; use fewer --segments or a higher --rate`,
    );
  if (o.users && o.users.some((u) => !u)) bad('--user must not be empty');
  if (o.keys && !o.keys.length) bad('--keys: the file names no key');
  if (o.maxBacklog !== undefined && !(Number.isInteger(o.maxBacklog) && o.maxBacklog >= 1))
    bad(`--max-backlog must be an integer >= 1, got ${o.maxBacklog}`);
  if (o.maxLagMs !== undefined && !(o.maxLagMs > 0))
    bad(`--max-lag-seconds must be a positive number, got ${o.maxLagMs / 1000}`);
}
