// The one-shot backfill scanner: waits for the stream consumer (docs/DESIGN.md, "Why it converges", point 1: consumer first),
// reads every segment of a Parallel Scan (or given partitions / keys), packs the projected
// inputs into work messages for the worker, and checkpoints each segment once SQS accepted its
// page. The throttler decides every wait and the progress always says what it waits on.
import { setMaxListeners } from 'node:events';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { newOwnerId, type BackfillStateStore } from '../adapters/backfill-state.ts';
import type { DeadLetters } from '../adapters/dead-letters.ts';
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
  describeLimitChange,
  RunOwnershipError,
  type RunLimits,
  type RunRecord,
  type SegmentCheckpoint,
} from '../core/backfill-run.ts';
import { pendingFilter, scanProjection } from '../core/backfill-filter.ts';
import { estimateCost, type CostEstimate } from '../core/cost-estimate.ts';
import { KEY_ATTRIBUTES, type Item, type Key } from '../core/types.ts';
import { migrationsFor, type MigratedTable, type MigrationName } from '../core/migrations/index.ts';
import { packCarryable, parkEntryOf, workItemsOf, type Refused } from './backfill-carry.ts';
import {
  backfillMode,
  BackfillOptionError,
  keepsRun as keepsRunOf,
  validateBackfillOptions,
  type BackfillOptions,
} from './backfill-options.ts';
import { planRun, startOrClaimRun } from './backfill-run-record.ts';
import {
  canarySeen,
  removeGateCanaries,
  writeGateCanary,
  type Canary,
  type CanaryGate,
} from './backfill-canary.ts';
import { CANARY_REWRITE_MS, isCanary } from '../core/canary.ts';
import { formatKey } from '../core/key-format.ts';
import { applyChange, planItem } from '../core/plan.ts';
import { ScanProgress, type ProgressReport, type SegmentCounts } from '../core/scan-progress.ts';
import { formatWait, Throttler, type Decision, type ThrottlingReason } from '../core/throttle.ts';
import { packMessage, type JsonValue } from '../core/work-message.ts';

export { BackfillOptionError, type BackfillOptions } from './backfill-options.ts';

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
  /**
   * Where items the scanner cannot carry to the worker (malformed, too large for a message) are
   * parked with their reason. Absent: they are only counted and reported in `problems`.
   */
  deadLetters?: DeadLetters;
  /**
   * Why the consumer's continuity is broken (the scan filter could skip stale items), given the
   * table's last run; undefined when it holds. Asked once the consumer is ready; absent: the
   * filter is trusted.
   */
  continuity?: (lastRun: RunRecord | undefined) => Promise<string | undefined>;
  /**
   * The consumer-first gate's proof: once the consumer looks ready, a canary item is written and
   * the scan starts only after the consumer recorded reading it. Absent: no canary.
   */
  canary?: CanaryGate;
  /**
   * `--distributed`: follow the segment tasks' checkpoints until the scan is done (progress,
   * ETA, the run marked finished). @default false: return once the tasks are enqueued.
   */
  followDistributed?: boolean;
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
  | 'rate'
  | 'distributed';

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
  /** The limits in force (`backfill set` changes them while the run goes). */
  limits: { rate: number | null; maxBacklog?: number; maxLagSeconds?: number };
  /** The last `backfill set` change, e.g. `limits changed by ana@laptop: rate 100 → 300`. */
  limitsChange?: string;
  /** Items parked so far because no message could carry them. */
  unsendable: number;
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
  /**
   * finished: every lane done; limit: --limit reached; stopped: signal; tasks-enqueued:
   * distributed without following (--detach).
   */
  outcome: 'finished' | 'limit' | 'stopped' | 'tasks-enqueued';
  segments: number;
  scanned: number;
  enqueued: number;
  skipped: number;
  /** Items a message cannot carry: each parked in the DLQ with its reason (and in `problems`). */
  unsendable: number;
  /** Of those, how many were parked (the rest: no dead-letter queue given). */
  parked: number;
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

const WRITE_TIME = '(looked up at write time)';
const PROBLEM_LIMIT = 20;

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
  validateBackfillOptions(options, requested, pageSize);
  const { table, tableName } = options;
  const dryRun = options.dryRun ?? false;
  const mode = backfillMode(options);
  const migrations = migrationsFor(table, options.migrations)
    .filter((m) => m.target !== 'search' || options.searchEnabled)
    .map((m) => m.name);
  if (!migrations.length)
    throw new BackfillOptionError(`no migration is enabled for table ${table}`);
  const projection = scanProjection(table, migrations);
  let filter: ScanFilter | undefined =
    options.filter === false || mode === 'keys' ? undefined : pendingFilter(table, migrations);
  let filterText = filter
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
  const keepsRun = keepsRunOf(options);
  const plan = keepsRun
    ? await planRun(deps.state, tableName, options, now())
    : { current: undefined };
  let run: RunRecord | undefined = plan.resume?.run;
  const checkpoints: SegmentCheckpoint[] = plan.resume?.checkpoints ?? [];
  if (run && options.segments !== undefined && options.segments !== run.totalSegments) {
    log(
      `--segments ${options.segments} ignored: run ${run.runId} was started with ${run.totalSegments} segments`,
    );
  }
  const totalSegments =
    mode === 'users'
      ? (options.users as string[]).length
      : mode === 'keys'
        ? 1
        : (run?.totalSegments ?? requested);

  const progress = new ScanProgress(totalSegments, { now });
  for (const cp of checkpoints) progress.restore(cp.segment, cp.counts);
  // A resumed run keeps the limits it was last set to (`backfill set`), not the flags' defaults.
  const resumedLimits = run?.limits;
  const initialRate =
    resumedLimits !== undefined ? (resumedLimits.rate ?? undefined) : options.rate;
  const throttler = new Throttler({
    ...(initialRate !== undefined && { rate: initialRate }),
    ...(options.maxBacklog !== undefined && { maxQueueBacklog: options.maxBacklog }),
    ...(options.maxLagMs !== undefined && { maxStreamLagMs: options.maxLagMs }),
    ...(resumedLimits?.maxBacklog !== undefined && { maxQueueBacklog: resumedLimits.maxBacklog }),
    ...(resumedLimits?.maxLagSeconds !== undefined && {
      maxStreamLagMs: resumedLimits.maxLagSeconds * 1000,
    }),
    pollMs: options.pollMs ?? 1_000,
    now,
  });
  let limitsChange: string | undefined;
  let limitsSeen: RunLimits | undefined = resumedLimits;
  const currentLimits = (): BackfillProgress['limits'] => {
    const l = throttler.limits();
    return {
      rate: l.rate,
      ...(l.maxQueueBacklog !== undefined && { maxBacklog: l.maxQueueBacklog }),
      ...(l.maxStreamLagMs !== undefined && { maxLagSeconds: l.maxStreamLagMs / 1000 }),
    };
  };
  const pollMs = options.pollMs ?? 1_000;

  // --- stopping and waiting ---------------------------------------------------------------------
  const stop = new AbortController();
  // Every segment's lane may sleep on it at once (each removes its listener when it wakes).
  setMaxListeners(0, stop.signal);
  const onAbort = (): void => stop.abort();
  hooks.signal?.addEventListener('abort', onAbort);
  if (hooks.signal?.aborted) stop.abort();
  // Rate waits also end when `backfill set` changes the limits: they are then taken again.
  let limitsChanged = new AbortController();
  setMaxListeners(0, limitsChanged.signal);
  const sleep = (ms: number, wake?: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      if (stop.signal.aborted || wake?.aborted) return resolve();
      const t = setTimeout(done, Math.max(0, ms));
      function done(): void {
        clearTimeout(t);
        stop.signal.removeEventListener('abort', done);
        wake?.removeEventListener('abort', done);
        resolve();
      }
      stop.signal.addEventListener('abort', done, { once: true });
      wake?.addEventListener('abort', done, { once: true });
    });
  const waits: BackfillSummary['waits'] = {};
  // Items no message could carry: counted (and parked) as the lanes go, shown by the progress.
  let unsendable = 0;
  let parked = 0;
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
      limits: currentLimits(),
      ...(limitsChange && { limitsChange }),
      unsendable,
    };
  };
  const emit = (): void => hooks.onProgress?.(snapshot());
  const wait = async (
    segment: number,
    kind: WaitKind,
    reason: string,
    ms: number,
    wake?: AbortSignal,
  ): Promise<void> => {
    const w = (waits[kind] ??= { count: 0, laneMs: 0, last: reason });
    w.count++;
    w.laneMs += ms;
    w.last = reason;
    laneWaits.set(segment, reason);
    latestWait = reason;
    hooks.onWait?.({ segment, kind, reason, ms });
    emit();
    await sleep(ms, wake);
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
      if (deps.canary && !stop.signal.aborted) await proveConsumerReads(deps.canary);
      phase = 'scanning';
    }
  } else if (!dryRun && !deps.consumer) {
    log(
      `${tableName}: no stream consumer to wait for (the table has none): items the app changes later are not migrated by a consumer`,
    );
  }

  // --- the canary: the consumer proves it reads the stream ----------------------------------
  async function proveConsumerReads(gate: CanaryGate): Promise<void> {
    const canaries = [await writeGateCanary(gate, now())];
    for (;;) {
      const c = await canarySeen(gate, canaries);
      if (c.seen) {
        log(
          `the stream consumer read the canary ${formatKey(c.seen.key)} ${formatWait(now() - c.seen.writtenAtMs)} after it was written: it reads the stream`,
        );
        break;
      }
      if (stop.signal.aborted) return; // left to their TTL
      await wait(-1, 'consumer', c.reason, pollMs);
      // One written before the consumer's position was fixed is never read: write another.
      if (now() - (canaries.at(-1) as Canary).writtenAtMs >= CANARY_REWRITE_MS)
        canaries.push(await writeGateCanary(gate, now()));
    }
    await removeGateCanaries(gate, canaries);
  }

  // --- continuity: after a break longer than the stream's retention the filter is unsafe ------
  if (filter && !dryRun && deps.consumer && deps.continuity && !stop.signal.aborted) {
    const broken = await deps.continuity(plan.current);
    if (broken) {
      filter = undefined;
      filterText = `none: ${broken}; a derived value can be present but stale, which the filter cannot tell, so every item is enqueued (the worker skips what needs nothing)`;
      log(`scanning without the filter: ${broken}`);
    }
  }

  // --- start or claim the run -------------------------------------------------------------------
  let runId: string | undefined;
  if (keepsRun && !stop.signal.aborted) {
    const resuming = Boolean(run);
    run = await startOrClaimRun(deps.state, plan, {
      table,
      tableName,
      owner,
      mode,
      totalSegments,
      pageSize,
      restart: options.restart ?? false,
      // What `continuity` reads next time: only a finished pass without the filter repairs a break.
      recordOptions: { ...(options.recordOptions ?? {}), unfiltered: !filter },
      limits: { ...currentLimits() },
      nowMs: now(),
    });
    runId = run.runId;
    limitsSeen = run.limits;
    if (resuming)
      log(
        `resuming run ${runId}: ${checkpoints.filter((c) => c.counts.done).length} of ${totalSegments} segments done`,
      );
    else if (options.restart)
      log(`started run ${runId} (--restart: the unfinished run was abandoned)`);
  }
  const runOwner = run?.owner ?? owner;

  // --- shared counters --------------------------------------------------------------------------
  let limitLeft = options.limit ?? Number.POSITIVE_INFINITY;
  let limitHit = false;
  let messages = 0;
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

  /** Parks (or, without a DLQ, only reports) the items no message can carry. */
  const refuse = async (refused: Refused[]): Promise<void> => {
    if (!refused.length) return;
    unsendable += refused.length;
    for (const r of refused) problem(r.reason);
    if (!deps.deadLetters) return;
    await deps.deadLetters.park(refused.map((r) => parkEntryOf(tableName, r)));
    parked += refused.length;
  };

  /**
   * Enqueues the page's items (or plans them, dry); returns how many were taken. Items that
   * cannot be carried are parked before the page is checkpointed, and never stop the lane.
   */
  const handleItems = async (segment: number, items: Item[]): Promise<number> => {
    if (dryRun) return dryRunPage(items);
    const { work, refused } = workItemsOf(table, items, projection);
    const take = Math.min(work.length, limitLeft);
    if (take < work.length) limitHit = true;
    limitLeft -= take;
    const packing = packCarryable(table, work.slice(0, take), {
      maxItemsPerMessage: ITEMS_PER_MESSAGE,
      ...(runId && { runId }),
      // What the worker may plan from these items (it never plans what was not projected).
      scannedFor: { migrations, projection },
    });
    await refuse([...refused, ...packing.refused]);
    if (!packing.carried) return take;
    for (;;) {
      const wake = limitsChanged.signal;
      const d = throttler.reserve(packing.carried);
      if (d.go) break;
      await wait(segment, 'rate', d.reason, d.waitMs, wake);
      // Woken by new limits: the reservation is taken again from the new bucket.
      if (!wake.aborted || stop.signal.aborted) break;
    }
    await sendMessages(deps.sqs, deps.queueUrl, packing.packed);
    messages += packing.packed.length;
    return take;
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
      // A canary left behind by a stopped gate is not an application item: skipped.
      const items = page.items.filter((i) => !isCanary(table, i));
      const taken = await handleItems(segment, items);
      progress.record(segment, {
        scanned: page.scannedCount,
        enqueued: dryRun ? 0 : taken,
        skipped: page.scannedCount - items.length,
      });
      // A page cut by --limit is not checkpointed past: a resume reads it again.
      if (limitHit && taken < items.length) {
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

  // --- `backfill set`: the run record's limits, applied while the scan goes ----------------------
  const applyLimits = (l: RunLimits): void => {
    throttler.setLimits({
      rate: l.rate,
      ...(l.maxBacklog !== undefined && { maxQueueBacklog: l.maxBacklog }),
      ...(l.maxLagSeconds !== undefined && { maxStreamLagMs: l.maxLagSeconds * 1000 }),
    });
    limitsChange = describeLimitChange(limitsSeen, l);
    limitsSeen = l;
    log(limitsChange);
    limitsChanged.abort();
    limitsChanged = new AbortController();
    setMaxListeners(0, limitsChanged.signal);
  };

  // --- the observer: pause flag, queue backlog, consumer, limits ---------------------------------
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
    if (r?.runId === runId && r?.limits && r.limits.changedAtMs !== limitsSeen?.changedAtMs) {
      applyLimits(r.limits);
    }
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

  // --- --distributed: the segment tasks' checkpoints as this run's progress ----------------------
  const followDistributed = async (): Promise<void> => {
    for (;;) {
      const cps = await deps.state.getCheckpoints(runId as string);
      for (const cp of cps) {
        const seen = progress.segments.get(cp.segment);
        progress.record(cp.segment, {
          scanned: cp.counts.scanned - (seen?.scanned ?? 0),
          enqueued: cp.counts.enqueued - (seen?.enqueued ?? 0),
          skipped: cp.counts.skipped - (seen?.skipped ?? 0),
        });
        if (cp.counts.done) progress.finish(cp.segment);
      }
      emit();
      if (progress.report().segmentsDone === totalSegments || stop.signal.aborted) return;
      const current = await deps.state.getRun(tableName);
      if (!current || current.runId !== runId || current.status === 'abandoned') {
        throw new RunOwnershipError(
          `backfill of ${tableName}: run ${runId} is no longer current (${current ? `${current.runId} ${current.status}` : 'no run'}); stopped following it`,
        );
      }
      const reason = current.pauseRequested
        ? 'paused by operator (`streamfill backfill resume` continues)'
        : 'distributed: the workers scan';
      await wait(-1, current.pauseRequested ? 'operator-pause' : 'distributed', reason, pollMs);
    }
  };

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
          // The workers scan for these (an opt-in contract step only when named here).
          migrations,
          // The run's rate, shared by its segments; `backfill set` overrides it in the run record.
          ...(initialRate !== undefined && { rate: initialRate }),
        }),
      );
      await sendMessages(deps.sqs, deps.queueUrl, tasks);
      messages = tasks.length;
      if (deps.followDistributed) {
        log(
          `enqueued ${tasks.length} scan-segment tasks of run ${runId}: the workers scan; following their checkpoints (Ctrl-C stops following, not the scan)`,
        );
        await guard(followDistributed());
      } else {
        log(
          `enqueued ${tasks.length} scan-segment tasks of run ${runId}: the workers scan; \`streamfill status\` shows progress`,
        );
      }
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
    mode === 'distributed' && !deps.followDistributed
      ? 'tasks-enqueued'
      : allDone && !limitHit
        ? 'finished'
        : limitHit
          ? 'limit'
          : 'stopped';
  if (runId && (mode === 'scan' || mode === 'distributed') && outcome === 'finished') {
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
    parked,
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
