// One backfill pass's shared state: what its steps (consumer gate, lanes, observer, summary)
// read and update, handed to each of them explicitly; and the progress snapshot made from it.
import type { RunRecord, SegmentCheckpoint } from '../core/backfill-run.ts';
import { ScanProgress } from '../core/scan-progress.ts';
import type { Throttler } from '../core/throttle.ts';
import type { Key } from '../core/types.ts';
import type { TableDef } from '../core/config/define.ts';
import type { BackfillMode, BackfillOptions } from './backfill-options.ts';
import type { RunPlan } from './backfill-run-record.ts';
import { initialRateOf, LimitsWatch, limitsOf, throttlerFor } from './backfill-limits.ts';
import type { BackfillScope } from './backfill-scope.ts';
import type {
  BackfillDeps,
  BackfillHooks,
  BackfillProgress,
  BackfillSummary,
  DiffSample,
} from './backfill-types.ts';
import { Waits } from './backfill-waits.ts';

const PROBLEM_LIMIT = 20;

/** What the pass counted; the summary's numbers. */
export interface PassCounts {
  /** Items --limit still lets through. */
  limitLeft: number;
  limitHit: boolean;
  messages: number;
  consumedReadUnits: number;
  /** Items no message could carry: counted (and parked) as the lanes go, shown by the progress. */
  unsendable: number;
  parked: number;
  problems: string[];
}

/** A dry run's plan counts and sample diffs. */
export interface DryRunResult {
  counts: NonNullable<BackfillSummary['dryRunCounts']>;
  samples: DiffSample[];
}

export interface Pass {
  readonly options: BackfillOptions;
  readonly deps: BackfillDeps;
  readonly hooks: BackfillHooks;
  /** The declared table scanned. */
  readonly table: string;
  readonly tableDef: TableDef;
  readonly tableName: string;
  readonly mode: BackfillMode;
  readonly dryRun: boolean;
  readonly pageSize: number;
  readonly pollMs: number;
  readonly waitForConsumer: boolean;
  readonly now: () => number;
  readonly log: (line: string) => void;
  /** Continuity may drop its filter before the run starts. */
  scope: BackfillScope;
  readonly totalSegments: number;
  /** The resumed run's checkpoints (none for a new run). */
  readonly checkpoints: SegmentCheckpoint[];
  /** The rate the pass started with (a distributed run's tasks carry it). */
  readonly initialRate: number | undefined;
  readonly progress: ScanProgress;
  readonly throttler: Throttler;
  readonly limits: LimitsWatch;
  readonly waits: Waits;
  phase: BackfillProgress['phase'];
  /** Why the consumer is not ready, as last probed; undefined: it is. */
  consumerReason: string | undefined;
  /** Undefined until the run is started or claimed (and for passes that keep no run). */
  runId: string | undefined;
  /** Who writes the run's checkpoints and status. */
  runOwner: string;
  readonly counts: PassCounts;
  readonly dry: DryRunResult;
  /** --keys: the keys not found in the table. */
  missingKeys: Key[] | undefined;
  /** The first error of a lane, or the observer's loss of the run (thrown once the lanes stop). */
  laneError: unknown;
  observerError: unknown;
}

/** The pass's state before its first wait: progress restored, limits resumed, nothing counted. */
export function newPass(
  start: {
    options: BackfillOptions;
    deps: BackfillDeps;
    hooks: BackfillHooks;
    mode: BackfillMode;
    scope: BackfillScope;
    pageSize: number;
    requestedSegments: number;
    plan: RunPlan;
    owner: string;
  },
  now: () => number,
  log: (line: string) => void,
): Pass {
  const { options, deps, hooks, mode, plan } = start;
  const run = plan.resume?.run;
  const checkpoints = plan.resume?.checkpoints ?? [];
  const totalSegments = lanesOf(options, mode, run, start.requestedSegments, log);
  const progress = new ScanProgress(totalSegments, { now });
  for (const cp of checkpoints) progress.restore(cp.segment, cp.counts);
  const pass: Pass = {
    options,
    deps,
    hooks,
    table: options.table,
    tableDef: deps.planner.table(options.table),
    tableName: options.tableName,
    mode,
    dryRun: options.dryRun ?? false,
    pageSize: start.pageSize,
    pollMs: options.pollMs ?? 1_000,
    waitForConsumer: options.waitForConsumer ?? true,
    now,
    log,
    scope: start.scope,
    totalSegments,
    checkpoints,
    initialRate: initialRateOf(options, run?.limits),
    progress,
    throttler: throttlerFor(options, run?.limits, now),
    limits: new LimitsWatch(run?.limits),
    waits: new Waits((w) => {
      hooks.onWait?.(w);
      emit(pass);
    }),
    phase: 'scanning',
    consumerReason: undefined,
    runId: undefined,
    runOwner: start.owner,
    counts: {
      limitLeft: options.limit ?? Number.POSITIVE_INFINITY,
      limitHit: false,
      messages: 0,
      consumedReadUnits: 0,
      unsendable: 0,
      parked: 0,
      problems: [],
    },
    dry: {
      counts: { wouldWrite: 0, searchOnly: 0, unchanged: 0, expired: 0, malformed: 0 },
      samples: [],
    },
    missingKeys: undefined,
    laneError: undefined,
    observerError: undefined,
  };
  return pass;
}

/** How many lanes the pass runs: one per user, one for --keys, else the (resumed run's) segments. */
function lanesOf(
  options: BackfillOptions,
  mode: BackfillMode,
  run: RunRecord | undefined,
  requestedSegments: number,
  log: (line: string) => void,
): number {
  if (run && options.segments !== undefined && options.segments !== run.totalSegments) {
    log(
      `--segments ${options.segments} ignored: run ${run.runId} was started with ${run.totalSegments} segments`,
    );
  }
  if (mode === 'users') return (options.users as string[]).length;
  if (mode === 'keys') return 1;
  return run?.totalSegments ?? requestedSegments;
}

/** Notes a problem for the summary (the first few only). */
export function problem(pass: Pass, m: string): void {
  if (pass.counts.problems.length < PROBLEM_LIMIT) pass.counts.problems.push(m);
}

export function snapshot(pass: Pass): BackfillProgress {
  const { waits } = pass;
  const perSegment = [...pass.progress.segments.entries()]
    .map(([segment, c]) => ({ segment, ...c }))
    .sort((a, b) => a.segment - b.segment);
  return {
    ...pass.progress.report(),
    phase: pass.phase,
    waiting: waits.lanes.size ? waits.latest : undefined,
    waitingLanes: waits.lanes.size,
    laneWaits: [...waits.lanes].map(([segment, reason]) => ({ segment, reason })),
    perSegment,
    limits: limitsOf(pass.throttler),
    ...(pass.limits.change && { limitsChange: pass.limits.change }),
    unsendable: pass.counts.unsendable,
  };
}

/** Tells the caller the progress now. */
export const emit = (pass: Pass): void => pass.hooks.onProgress?.(snapshot(pass));
