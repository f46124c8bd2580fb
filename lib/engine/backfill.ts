// The one-shot backfill scanner: waits for the stream consumer (docs/DESIGN.md, "Why it converges", point 1: consumer first),
// reads every segment of a Parallel Scan (or given partitions / keys), packs the projected
// inputs into work messages for the worker, and checkpoints each segment once SQS accepted its
// page. The throttler decides every wait and the progress always says what it waits on.
import { setMaxListeners } from 'node:events';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { newOwnerId, type BackfillStateStore } from '../adapters/backfill-state.ts';
import { describeTableFacts, getItemsByKey, type TableFacts } from '../adapters/backfill-reads.ts';
import type { ConsumerProbe } from '../adapters/consumer-probe.ts';
import {
  DynamoThrottledError,
  queryPartitionPage,
  scanSegmentPage,
  throttlingReasonsOf,
  type ScanFilter,
  type ScanPage,
} from '../adapters/segment-scanner.ts';
import type { UserTypeLookup } from '../adapters/user-type-lookup.ts';
import { queueStats, sendMessages } from '../adapters/work-queue.ts';
import { BACKFILL_SEGMENTS, ITEMS_PER_MESSAGE, SCAN_PAGE_SIZE } from '../config/defaults.ts';
import {
  checkNewRunAllowed,
  checkResumable,
  RunOwnershipError,
  type RunRecord,
  type SegmentCheckpoint,
} from '../core/backfill-run.ts';
import { pendingFilter, scanProjection } from '../core/backfill-filter.ts';
import { estimateCost, type CostEstimate, type OnDemandPrices } from '../core/cost-estimate.ts';
import { KEY_ATTRIBUTES, type Item, type Key } from '../core/types.ts';
import { migrationsFor, type MigratedTable, type MigrationName } from '../core/migrations/index.ts';
import { applyChange, planItem } from '../core/plan.ts';
import { ScanProgress, type ProgressReport, type SegmentCounts } from '../core/scan-progress.ts';
import { Throttler, type Decision, type ThrottlingReason } from '../core/throttle.ts';
import {
  packItems,
  packMessage,
  workItemOf,
  type JsonValue,
  type WorkItem,
} from '../core/work-message.ts';

export interface BackfillOptions {
  table: MigratedTable;
  /** The physical table scanned. */
  tableName: string;
  /** Parallel Scan segments. @default 16 (BACKFILL_SEGMENTS) */
  segments?: number;
  /** Items per Scan page (examined, before the filter). @default 500 (SCAN_PAGE_SIZE) */
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
  /** Leave out items the registry says are migrated. @default true */
  filter?: boolean;
  /** Whether the search-keyword migration runs (a search endpoint is configured). */
  searchEnabled: boolean;
  /** Enabled migrations. @default the table's, less the search ones without search */
  migrations?: readonly MigrationName[];
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

export interface BackfillDeps {
  /** The scanner's client: low SDK maxAttempts so throttling reaches the throttler. */
  doc: DynamoDBDocumentClient;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  queueUrl: string;
  state: BackfillStateStore;
  /** Undefined: the table has no stream consumer to wait for. */
  consumer?: ConsumerProbe;
  /** Dry run: real user_type lookups for the samples (else "(looked up at write time)"). */
  lookup?: UserTypeLookup;
  now?: () => number;
  owner?: string;
}

export type WaitKind =
  | 'consumer'
  | 'operator-pause'
  | 'stream-lag'
  | 'queue-backlog'
  | 'throttle-segment'
  | 'throttle-all'
  | 'rate';

export interface WaitEvent {
  /** The lane (segment, partition or key batch), or -1 for the whole run. */
  segment: number;
  kind: WaitKind;
  reason: string;
  ms: number;
}

export interface BackfillProgress extends ProgressReport {
  phase: 'waiting-for-consumer' | 'scanning' | 'done';
  /** What is being waited on now (the newest wait of any lane), if anything. */
  waiting: string | undefined;
  waitingLanes: number;
  /** Every lane waiting now, with its reason (`-1`: the whole run). */
  laneWaits: { segment: number; reason: string }[];
  perSegment: (SegmentCounts & { segment: number })[];
}

export interface BackfillHooks {
  /** Abort: lanes stop after their current page (messages sent, checkpoint saved). */
  signal?: AbortSignal;
  onProgress?: (p: BackfillProgress) => void;
  onWait?: (w: WaitEvent) => void;
  log?: (line: string) => void;
}

export interface DiffSample {
  key: Key;
  changes: { attribute: string; before: unknown; after: unknown }[];
  search?: Record<string, string>;
}

export interface BackfillSummary {
  runId: string | undefined;
  table: MigratedTable;
  tableName: string;
  mode: 'scan' | 'users' | 'keys' | 'distributed';
  dryRun: boolean;
  /** finished: every lane done; limit: --limit reached; stopped: signal; tasks-enqueued: distributed. */
  outcome: 'finished' | 'limit' | 'stopped' | 'tasks-enqueued';
  segments: number;
  scanned: number;
  enqueued: number;
  skipped: number;
  /** Items a message cannot carry (reported in `problems`). */
  unsendable: number;
  messages: number;
  perSegment: (SegmentCounts & { segment: number })[];
  durationMs: number;
  scannedPerSecond: number;
  enqueuedPerSecond: number;
  /** Per wait kind: how many waits and their summed lane-milliseconds. */
  waits: Partial<Record<WaitKind, { count: number; laneMs: number; last: string }>>;
  consumedReadUnits: number;
  cost: CostEstimate;
  /** The scan filter, or why there is none. */
  filter: string;
  projection: string[];
  migrations: MigrationName[];
  missingKeys?: Key[];
  dryRunCounts?: {
    wouldWrite: number;
    searchOnly: number;
    unchanged: number;
    expired: number;
    malformed: number;
  };
  samples?: DiffSample[];
  /** How user_type was shown in the samples. */
  userTypeSource?: 'lookup' | 'at-write-time';
  problems: string[];
}

/** Bad options; the message names the option and the value. */
export class BackfillOptionError extends Error {
  override readonly name = 'BackfillOptionError';
}

const WRITE_TIME = '(looked up at write time)';
const PROBLEM_LIMIT = 20;

function validate(o: BackfillOptions, segments: number, pageSize: number): void {
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
  if (o.dryRun && (o.resume || o.distributed))
    bad(`--dry-run cannot be combined with ${o.resume ? '--resume' : '--distributed'}`);
  if (o.distributed && o.resume)
    bad(
      '--resume of a distributed run: its continuation tasks carry it on by themselves (see `streamfill status`)',
    );
  if (o.distributed && o.limit !== undefined) bad('--limit cannot be combined with --distributed');
  if (o.users && o.users.some((u) => !u)) bad('--user must not be empty');
  if (o.keys && !o.keys.length) bad('--keys: the file names no key');
}

function classifyPause(reason: string): WaitKind {
  if (reason.startsWith('paused by operator')) return 'operator-pause';
  if (reason.startsWith('waiting: stream lag')) return 'stream-lag';
  if (reason.startsWith('waiting: work queue backlog')) return 'queue-backlog';
  return 'consumer';
}

/**
 * Runs one backfill pass (or a dry run) to its end, a --limit, or the abort signal.
 *
 * @example
 * const summary = await runBackfill(
 *   { table: 'session', tableName, searchEnabled: false, rate: 500 },
 *   { doc, dynamodb, sqs, queueUrl, state, consumer: heartbeatProbe(state, component, { staleMs }) },
 *   { onProgress: (p) => render(p) },
 * );
 */
export async function runBackfill(
  options: BackfillOptions,
  deps: BackfillDeps,
  hooks: BackfillHooks = {},
): Promise<BackfillSummary> {
  const now = deps.now ?? Date.now;
  const started = now();
  const log = hooks.log ?? (() => {});
  const requested = options.segments ?? BACKFILL_SEGMENTS;
  const pageSize = options.pageSize ?? SCAN_PAGE_SIZE;
  validate(options, requested, pageSize);
  const { table, tableName } = options;
  const dryRun = options.dryRun ?? false;
  const mode: BackfillSummary['mode'] = options.keys
    ? 'keys'
    : options.users?.length
      ? 'users'
      : options.distributed
        ? 'distributed'
        : 'scan';
  const migrations = migrationsFor(table, options.migrations)
    .filter((m) => m.target !== 'search' || options.searchEnabled)
    .map((m) => m.name);
  if (!migrations.length)
    throw new BackfillOptionError(`no migration is enabled for table ${table}`);
  const projection = scanProjection(table, migrations);
  const filter: ScanFilter | undefined =
    options.filter === false || mode === 'keys' ? undefined : pendingFilter(table, migrations);
  const filterText = filter
    ? `${filter.expression} (${Object.entries(filter.names ?? {})
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')})`
    : options.filter === false
      ? 'none (--no-filter: every item is enqueued; the worker skips what needs nothing)'
      : mode === 'keys'
        ? 'none (--keys: exactly the given items)'
        : 'none: the search-keyword migration is on, and an item migrated in DynamoDB may still lack its keywords in OpenSearch';
  const facts: TableFacts = await describeTableFacts(deps.dynamodb, tableName);

  // --- the run record: refuse early, before any wait -------------------------------------------
  const owner = deps.owner ?? newOwnerId();
  const keepsRun = !dryRun && (mode === 'scan' || mode === 'distributed');
  let run: RunRecord | undefined;
  let checkpoints: SegmentCheckpoint[] = [];
  if (keepsRun) {
    const current = await deps.state.getRun(tableName);
    if (options.resume) {
      checkpoints = current ? await deps.state.getCheckpoints(current.runId) : [];
      checkResumable(current, checkpoints, { nowMs: now(), tableName });
      run = current;
      if (options.segments !== undefined && options.segments !== run.totalSegments) {
        log(
          `--segments ${options.segments} ignored: run ${run.runId} was started with ${run.totalSegments} segments`,
        );
      }
    } else {
      checkNewRunAllowed(current, { restart: options.restart ?? false, nowMs: now() });
    }
  }
  const totalSegments =
    mode === 'users'
      ? (options.users as string[]).length
      : mode === 'keys'
        ? 1
        : (run?.totalSegments ?? requested);

  const progress = new ScanProgress(totalSegments, { now });
  for (const cp of checkpoints) progress.restore(cp.segment, cp.counts);
  const throttler = new Throttler({
    ...(options.rate !== undefined && { rate: options.rate }),
    ...(options.maxBacklog !== undefined && { maxQueueBacklog: options.maxBacklog }),
    ...(options.maxLagMs !== undefined && { maxStreamLagMs: options.maxLagMs }),
    pollMs: options.pollMs ?? 1_000,
    now,
  });
  const pollMs = options.pollMs ?? 1_000;

  // --- stopping and waiting ---------------------------------------------------------------------
  const stop = new AbortController();
  // Every segment's lane may sleep on it at once (each removes its listener when it wakes).
  setMaxListeners(0, stop.signal);
  const onAbort = (): void => stop.abort();
  hooks.signal?.addEventListener('abort', onAbort);
  if (hooks.signal?.aborted) stop.abort();
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (stop.signal.aborted) return resolve();
      const t = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(t);
        stop.signal.removeEventListener('abort', done);
        resolve();
      }
      stop.signal.addEventListener('abort', done, { once: true });
    });
  const waits: BackfillSummary['waits'] = {};
  const laneWaits = new Map<number, string>();
  let latestWait: string | undefined;
  let phase: BackfillProgress['phase'] = 'scanning';

  const snapshot = (): BackfillProgress => {
    const perSegment = [...progress.segments.entries()]
      .map(([segment, c]) => ({ segment, ...c }))
      .sort((a, b) => a.segment - b.segment);
    const waiting = laneWaits.size ? latestWait : undefined;
    return {
      ...progress.report(),
      phase,
      waiting,
      waitingLanes: laneWaits.size,
      laneWaits: [...laneWaits].map(([segment, reason]) => ({ segment, reason })),
      perSegment,
    };
  };
  const emit = (): void => hooks.onProgress?.(snapshot());
  const wait = async (
    segment: number,
    kind: WaitKind,
    reason: string,
    ms: number,
  ): Promise<void> => {
    const w = (waits[kind] ??= { count: 0, laneMs: 0, last: reason });
    w.count++;
    w.laneMs += ms;
    w.last = reason;
    laneWaits.set(segment, reason);
    latestWait = reason;
    hooks.onWait?.({ segment, kind, reason, ms });
    emit();
    await sleep(ms);
    laneWaits.delete(segment);
  };

  // --- consumer first ---------------------------------------------------------------------------
  const waitForConsumer = options.waitForConsumer ?? true;
  let consumerReason: string | undefined;
  const probeConsumer = async (): Promise<void> => {
    if (!deps.consumer) return;
    const c = await deps.consumer();
    consumerReason = c.ready ? undefined : c.reason;
    throttler.observe({ ...(c.lagMs !== undefined && { streamLagMs: c.lagMs }) });
  };
  if (!dryRun && deps.consumer) {
    if (!waitForConsumer) {
      log(
        'WARNING: --no-wait-for-consumer: the scan does not wait for a running, caught-up stream consumer; items changed meanwhile may stay unmigrated until their next change',
      );
    } else {
      phase = 'waiting-for-consumer';
      for (;;) {
        await probeConsumer();
        if (!consumerReason || stop.signal.aborted) break;
        await wait(-1, 'consumer', consumerReason, pollMs);
      }
      phase = 'scanning';
    }
  } else if (!dryRun && !deps.consumer) {
    log(
      `${tableName}: no stream consumer to wait for (the table has none): items the app changes later are not migrated by a consumer`,
    );
  }

  // --- start or claim the run -------------------------------------------------------------------
  let runId: string | undefined;
  if (keepsRun && !stop.signal.aborted) {
    if (run) {
      run = await deps.state.claimRun(tableName, run.runId, owner, run.owner);
      runId = run.runId;
      log(
        `resuming run ${runId}: ${checkpoints.filter((c) => c.counts.done).length} of ${totalSegments} segments done`,
      );
    } else {
      runId = `${new Date(now()).toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${owner.slice(-8)}`;
      run = {
        runId,
        table,
        tableName,
        totalSegments,
        startedAtMs: now(),
        updatedAtMs: now(),
        status: 'running',
        pauseRequested: false,
        // A distributed run's checkpoints are written by the workers under this owner.
        owner: mode === 'distributed' ? `distributed:${runId}` : owner,
        options: { mode, segments: totalSegments, pageSize, ...(options.recordOptions ?? {}) },
      };
      await deps.state.startRun(run, { restart: options.restart ?? false, nowMs: now() });
      if (options.restart)
        log(`started run ${runId} (--restart: the unfinished run was abandoned)`);
    }
  }
  const runOwner = run?.owner ?? owner;

  // --- shared counters --------------------------------------------------------------------------
  let limitLeft = options.limit ?? Number.POSITIVE_INFINITY;
  let limitHit = false;
  let messages = 0;
  let unsendable = 0;
  let consumedReadUnits = 0;
  const problems: string[] = [];
  const problem = (m: string): void => {
    if (problems.length < PROBLEM_LIMIT) problems.push(m);
  };
  const dry = { wouldWrite: 0, searchOnly: 0, unchanged: 0, expired: 0, malformed: 0 };
  const samples: DiffSample[] = [];
  const sampleLimit = options.samples ?? 5;
  const userTypeSource: BackfillSummary['userTypeSource'] = deps.lookup
    ? 'lookup'
    : 'at-write-time';
  let missingKeys: Key[] | undefined;

  const dryRunPage = async (items: Item[]): Promise<number> => {
    const needsUsers = migrations.includes('session-user-type') && table === 'session';
    let userTypes: Map<string, string | null> | undefined;
    if (needsUsers) {
      const ids = items.flatMap((i) => (typeof i.user_id === 'string' ? [i.user_id] : []));
      userTypes = deps.lookup
        ? await deps.lookup.resolve(ids)
        : new Map(ids.map((id) => [id, WRITE_TIME]));
    }
    let taken = 0;
    for (const item of items) {
      if (limitLeft <= 0) {
        limitHit = true;
        break;
      }
      limitLeft--;
      taken++;
      try {
        const plan = planItem(
          table,
          item,
          { userTypes, nowSeconds: Math.floor(now() / 1000) },
          migrations,
        );
        if (plan.expired) dry.expired++;
        else if (plan.change) dry.wouldWrite++;
        else if (plan.search) dry.searchOnly++;
        else dry.unchanged++;
        if ((plan.change || plan.search) && samples.length < sampleLimit) {
          const after = plan.change ? applyChange(item, plan.change) : item;
          const written = plan.change
            ? [...Object.keys(plan.change.set), ...plan.change.remove]
            : [];
          samples.push({
            key: Object.fromEntries(KEY_ATTRIBUTES[table].map((k) => [k, item[k] as string])),
            changes: written.map((attribute) => ({
              attribute,
              before: item[attribute],
              after: after[attribute],
            })),
            ...(plan.search && { search: plan.search.doc }),
          });
        }
      } catch (e) {
        dry.malformed++;
        problem((e as Error).message);
      }
    }
    return taken;
  };

  /** Enqueues the page's items (or plans them, dry); returns how many were taken. */
  const handleItems = async (segment: number, items: Item[]): Promise<number> => {
    if (dryRun) return dryRunPage(items);
    const work: WorkItem[] = [];
    for (const item of items) {
      try {
        work.push(workItemOf(table, item, projection));
      } catch (e) {
        unsendable++;
        problem((e as Error).message);
      }
    }
    const take = Math.min(work.length, limitLeft);
    if (take < work.length) limitHit = true;
    limitLeft -= take;
    const batch = work.slice(0, take);
    if (!batch.length) return 0;
    const d = throttler.reserve(batch.length);
    if (!d.go) await wait(segment, 'rate', d.reason, d.waitMs);
    const packed = packItems(table, batch, {
      maxItemsPerMessage: ITEMS_PER_MESSAGE,
      ...(runId && { runId }),
    });
    await sendMessages(deps.sqs, deps.queueUrl, packed);
    messages += packed.length;
    return batch.length;
  };

  const gate = async (segment: number): Promise<boolean> => {
    for (;;) {
      if (stop.signal.aborted || limitHit) return false;
      const d: Decision = throttler.beforePage(segment);
      if (!d.go) {
        const kind =
          d.kind === 'paused'
            ? classifyPause(d.reason)
            : d.reason.startsWith('all segments')
              ? 'throttle-all'
              : 'throttle-segment';
        await wait(segment, kind, d.reason, d.waitMs);
        continue;
      }
      if (consumerReason && waitForConsumer && !dryRun) {
        await wait(segment, 'consumer', consumerReason, pollMs);
        continue;
      }
      return true;
    }
  };
  const backOff = async (segment: number, reasons: ThrottlingReason[]): Promise<void> => {
    const b = throttler.onThrottle(segment, reasons);
    if (b.go) return;
    await wait(
      segment,
      b.reason.startsWith('all segments') ? 'throttle-all' : 'throttle-segment',
      b.reason,
      b.waitMs,
    );
  };

  const checkpoint = async (
    segment: number,
    lastEvaluatedKey: Record<string, unknown> | undefined,
  ): Promise<void> => {
    if (!runId || dryRun) return;
    const counts = { ...(progress.segments.get(segment) as SegmentCounts) };
    await deps.state.saveCheckpoint(tableName, runOwner, {
      runId,
      segment,
      ...(lastEvaluatedKey && { lastEvaluatedKey: lastEvaluatedKey as Record<string, JsonValue> }),
      counts,
      updatedAtMs: now(),
    });
  };

  /** One lane: pages of a segment (or a partition) until done, stopped or the limit. */
  const lane = async (
    segment: number,
    startKey: Record<string, unknown> | undefined,
    read: (start: Record<string, unknown> | undefined) => Promise<ScanPage>,
    keepCheckpoints: boolean,
  ): Promise<void> => {
    let start = startKey;
    progress.record(segment, {});
    for (;;) {
      if (!(await gate(segment))) return;
      let page: ScanPage;
      try {
        page = await read(start);
      } catch (e) {
        if (e instanceof DynamoThrottledError) {
          await backOff(segment, e.reasons);
          continue;
        }
        throw e;
      }
      throttler.onSuccess(segment);
      consumedReadUnits += page.consumedCapacity;
      const taken = await handleItems(segment, page.items);
      progress.record(segment, {
        scanned: page.scannedCount,
        enqueued: dryRun ? 0 : taken,
        skipped: page.scannedCount - page.items.length,
      });
      // A page cut by --limit is not checkpointed past: a resume reads it again.
      if (limitHit && taken < page.items.length) {
        emit();
        return;
      }
      if (!page.lastEvaluatedKey) progress.finish(segment);
      if (keepCheckpoints) await checkpoint(segment, page.lastEvaluatedKey);
      emit();
      if (!page.lastEvaluatedKey) return;
      start = page.lastEvaluatedKey;
    }
  };

  // --- the observer: pause flag, queue backlog, consumer ----------------------------------------
  let observing = true;
  let paused = false;
  const observe = async (): Promise<void> => {
    const [r, q] = await Promise.all([
      runId ? deps.state.getRun(tableName) : Promise.resolve(undefined),
      dryRun ? Promise.resolve(undefined) : queueStats(deps.sqs, deps.queueUrl),
      dryRun || !waitForConsumer ? Promise.resolve() : probeConsumer(),
    ]);
    const operatorPaused = r?.runId === runId && r?.pauseRequested === true;
    throttler.observe({ operatorPaused, ...(q && { queueBacklog: q.backlog }) });
    if (runId && mode === 'scan' && operatorPaused !== paused) {
      paused = operatorPaused;
      await deps.state.setStatus(tableName, runId, runOwner, paused ? 'paused' : 'running');
      log(paused ? 'paused by operator: position kept' : 'resumed by operator');
    }
  };
  let observerError: unknown;
  const observer = (async () => {
    while (observing && !stop.signal.aborted) {
      try {
        await observe();
      } catch (e) {
        if (e instanceof RunOwnershipError) {
          observerError = e;
          stop.abort();
          return;
        }
        log(`could not read the queue, pause flag or consumer: ${(e as Error).message}`);
      }
      emit();
      await sleep(pollMs);
    }
  })();

  // --- the lanes --------------------------------------------------------------------------------
  let laneError: unknown;
  const guard = (p: Promise<void>): Promise<void> =>
    p.catch((e: unknown) => {
      laneError ??= e;
      stop.abort();
    });
  try {
    if (!stop.signal.aborted) await observe().catch(() => {});
    if (stop.signal.aborted) {
      // stopped while waiting for the consumer: nothing read
    } else if (mode === 'distributed') {
      const tasks = Array.from({ length: totalSegments }, (_, segment) =>
        packMessage({
          v: 1,
          kind: 'scan-segment',
          table,
          runId: runId as string,
          segment,
          totalSegments,
          pageSize,
        }),
      );
      await sendMessages(deps.sqs, deps.queueUrl, tasks);
      messages = tasks.length;
      log(
        `enqueued ${tasks.length} scan-segment tasks of run ${runId}: the workers scan; \`streamfill status\` shows progress`,
      );
    } else if (mode === 'users') {
      const pk = KEY_ATTRIBUTES[table][0];
      await Promise.all(
        (options.users as string[]).map((user, i) =>
          guard(
            lane(
              i,
              undefined,
              (start) =>
                queryPartitionPage(deps.doc, {
                  tableName,
                  partitionKey: { [pk]: user },
                  projection,
                  ...(filter && { filter }),
                  pageSize,
                  ...(start && { exclusiveStartKey: start }),
                }),
              false,
            ),
          ),
        ),
      );
    } else if (mode === 'keys') {
      const keys = options.keys as Key[];
      missingKeys = [];
      await guard(
        (async () => {
          for (let i = 0; i < keys.length; i += pageSize) {
            if (!(await gate(0))) return;
            const chunk = keys.slice(i, i + pageSize);
            let got;
            try {
              got = await getItemsByKey(deps.doc, tableName, chunk, projection);
            } catch (e) {
              const reasons = throttlingReasonsOf(e);
              if (!reasons) throw e;
              await backOff(0, reasons);
              i -= pageSize;
              continue;
            }
            throttler.onSuccess(0);
            consumedReadUnits += got.consumedCapacity;
            missingKeys?.push(...got.missing);
            const taken = await handleItems(0, got.items);
            progress.record(0, {
              scanned: chunk.length,
              enqueued: dryRun ? 0 : taken,
              skipped: got.missing.length,
            });
            emit();
            if (limitHit) return;
          }
          progress.finish(0);
        })(),
      );
    } else {
      const bySegment = new Map(checkpoints.map((c) => [c.segment, c]));
      await Promise.all(
        Array.from({ length: totalSegments }, (_, segment) => {
          const cp = bySegment.get(segment);
          if (cp?.counts.done) return Promise.resolve();
          return guard(
            lane(
              segment,
              cp?.lastEvaluatedKey,
              (start) =>
                scanSegmentPage(deps.doc, {
                  tableName,
                  segment,
                  totalSegments,
                  projection,
                  ...(filter && { filter }),
                  pageSize,
                  ...(start && { exclusiveStartKey: start }),
                }),
              true,
            ),
          );
        }),
      );
    }
  } finally {
    observing = false;
    stop.abort(); // wakes the observer's sleep
    await observer;
    hooks.signal?.removeEventListener('abort', onAbort);
  }
  if (laneError) throw laneError;
  if (observerError) throw observerError;

  const report = progress.report();
  const allDone = report.segmentsDone === totalSegments;
  const outcome: BackfillSummary['outcome'] =
    mode === 'distributed'
      ? 'tasks-enqueued'
      : allDone && !limitHit
        ? 'finished'
        : limitHit
          ? 'limit'
          : 'stopped';
  if (runId && mode === 'scan' && outcome === 'finished') {
    await deps.state.setStatus(tableName, runId, runOwner, 'finished');
  }
  phase = 'done';
  emit();
  const durationMs = Math.max(1, now() - started);
  const written = [
    ...new Set(
      migrationsFor(table, migrations)
        .filter((m) => m.target === 'dynamodb')
        .flatMap((m) => m.writes),
    ),
  ];
  const cost = estimateCost({
    scanned: report.scanned,
    consumedReadUnits,
    writes: dryRun ? dry.wouldWrite : report.enqueued,
    ...(facts.averageItemBytes !== undefined && { averageItemBytes: facts.averageItemBytes }),
    written,
    indexes: facts.indexes,
    ...(options.prices && { prices: options.prices }),
  });
  const perSegment = snapshot().perSegment;
  return {
    runId,
    table,
    tableName,
    mode,
    dryRun,
    outcome,
    segments: totalSegments,
    scanned: report.scanned,
    enqueued: report.enqueued,
    skipped: report.skipped,
    unsendable,
    messages,
    perSegment,
    durationMs,
    scannedPerSecond: (report.scanned * 1000) / durationMs,
    enqueuedPerSecond: (report.enqueued * 1000) / durationMs,
    waits,
    consumedReadUnits,
    cost,
    filter: filterText,
    projection,
    migrations,
    ...(missingKeys && { missingKeys }),
    ...(dryRun && { dryRunCounts: dry, samples, userTypeSource }),
    problems,
  };
}
