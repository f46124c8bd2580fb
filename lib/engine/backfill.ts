// The one-shot backfill scanner: waits for the stream consumer (docs/DESIGN.md, "Why it converges", point 1: consumer first),
// reads every segment of a Parallel Scan (or given partitions / keys), packs the projected
// inputs into work messages for the worker, and checkpoints each segment once SQS accepted its
// page. The throttler decides every wait and the progress always says what it waits on.
// runBackfill is the sequence of the pass's steps; each step is a module of its own role.
import { newOwnerId } from '../adapters/backfill-state.ts';
import { describeTableFacts } from '../adapters/backfill-reads.ts';
import { BACKFILL_SEGMENTS, SCAN_PAGE_SIZE } from '../config/defaults.ts';
import { awaitConsumer, checkContinuity } from './backfill-consumer-gate.ts';
import { runLanes } from './backfill-lanes.ts';
import { limitsOf } from './backfill-limits.ts';
import { Observer } from './backfill-observer.ts';
import {
  BackfillOptionError,
  backfillMode,
  keepsRun,
  validateBackfillOptions,
  type BackfillMode,
  type BackfillOptions,
} from './backfill-options.ts';
import { emit, newPass, type Pass } from './backfill-pass.ts';
import { planRun, startOrClaimRun, type RunPlan } from './backfill-run-record.ts';
import { scopeOf, type BackfillScope } from './backfill-scope.ts';
import { outcomeOf, summaryOf } from './backfill-summary.ts';
import type { BackfillDeps, BackfillHooks, BackfillSummary } from './backfill-types.ts';

export { BackfillOptionError, type BackfillOptions } from './backfill-options.ts';
export type {
  BackfillDeps,
  BackfillHooks,
  BackfillProgress,
  BackfillSummary,
  DiffSample,
  WaitEvent,
  WaitKind,
} from './backfill-types.ts';

/**
 * Runs one backfill pass (or a dry run) to its end, a --limit, or the abort signal.
 *
 * @example
 * const summary = await runBackfill(
 *   { table: 'orders', tableName: tables.orders, searchEnabled: false, rate: 500 },
 *   { planner, doc, dynamodb, sqs, queueUrl, state, consumer: heartbeatProbe(state, component, { staleMs }) },
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
  const checked = await checkBeforeStart(options, deps, now);
  const facts = await describeTableFacts(deps.dynamodb, options.tableName);
  const owner = deps.owner ?? newOwnerId();
  const pass = newPass({ options, deps, hooks, owner, ...checked }, now, log);
  const unlinkSignal = pass.waits.stopOn(hooks.signal);
  await awaitConsumer(pass);
  // A pass that keeps no run (dry run, --user) still reads the last one for its continuity.
  const lastRun = keepsRun(options)
    ? checked.plan.current
    : await deps.state.getRun(options.tableName);
  await checkContinuity(pass, lastRun);
  if (keepsRun(options) && !pass.waits.stopped) await startRun(pass, checked.plan, owner);

  const observer = new Observer(pass);
  observer.start();
  try {
    if (!pass.waits.stopped) await observer.observe().catch(() => {});
    await runLanes(pass);
  } finally {
    await observer.stop();
    unlinkSignal();
  }
  if (pass.laneError) throw pass.laneError;
  if (pass.observerError) throw pass.observerError;

  const outcome = outcomeOf(pass);
  const { runId, mode } = pass;
  if (runId && (mode === 'scan' || mode === 'distributed') && outcome === 'finished') {
    await deps.state.setStatus(pass.tableName, runId, pass.runOwner, 'finished');
  }
  pass.phase = 'done';
  emit(pass);
  return summaryOf(pass, outcome, facts, Math.max(1, now() - started));
}

/**
 * Everything refused before any wait or write: the options (BackfillOptionError), an empty set
 * of migrations, and what the run state forbids (RunStateError: nothing to resume, an unfinished
 * run without --restart). Reads the run record only for passes that keep one.
 */
async function checkBeforeStart(
  options: BackfillOptions,
  { planner, state, lookups }: Pick<BackfillDeps, 'planner' | 'state' | 'lookups'>,
  now: () => number,
): Promise<{
  mode: BackfillMode;
  scope: BackfillScope;
  pageSize: number;
  requestedSegments: number;
  plan: RunPlan;
}> {
  const requestedSegments = options.segments ?? BACKFILL_SEGMENTS;
  const pageSize = options.pageSize ?? SCAN_PAGE_SIZE;
  validateBackfillOptions(options, requestedSegments, pageSize);
  const mode = backfillMode(options);
  const scope = scopeOf(options, mode, planner);
  if (options.dryRun && !lookups && planner.lookupsFor(options.table, scope.migrations).length) {
    throw new BackfillOptionError(
      `a dry run of ${options.table} needs a lookup reader: its migrations read ${planner
        .lookupsFor(options.table, scope.migrations)
        .map((l) => l.name)
        .join(', ')}`,
    );
  }
  const plan: RunPlan = keepsRun(options)
    ? await planRun(state, options.tableName, options, now())
    : { current: undefined };
  return { mode, scope, pageSize, requestedSegments, plan };
}

/** Starts a new run, or claims the resumed one, once the consumer is ready; says which. */
async function startRun(pass: Pass, plan: RunPlan, owner: string): Promise<void> {
  const { options } = pass;
  const resuming = Boolean(plan.resume);
  const run = await startOrClaimRun(pass.deps.state, plan, {
    table: pass.table,
    tableName: pass.tableName,
    owner,
    mode: pass.mode,
    totalSegments: pass.totalSegments,
    pageSize: pass.pageSize,
    restart: options.restart ?? false,
    // What `continuity` reads next time: only a finished pass without the filter repairs a break.
    recordOptions: { ...(options.recordOptions ?? {}), unfiltered: !pass.scope.skipSettled },
    limits: { ...limitsOf(pass.throttler) },
    nowMs: pass.now(),
  });
  pass.runId = run.runId;
  pass.runOwner = run.owner;
  pass.limits.seen = run.limits;
  const done = pass.checkpoints.filter((c) => c.counts.done).length;
  if (resuming)
    pass.log(`resuming run ${run.runId}: ${done} of ${pass.totalSegments} segments done`);
  else if (options.restart)
    pass.log(`started run ${run.runId} (--restart: the unfinished run was abandoned)`);
}
