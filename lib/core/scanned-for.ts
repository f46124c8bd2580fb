// Which migrations a worker may plan for an items message: only those the scanner scanned for
// and whose inputs it projected. An attribute the projection lacks is unknown, not absent:
// planning it as absent would write a wrong value (a keyword removed at the item's version,
// which the search guard then keeps for good). Pure.
import type { Planner } from './config/planner.ts';
import type { ScannedFor } from './work-message.ts';

/** What these checks ask of the config. */
export type ScannedForPlanner = Pick<Planner, 'table' | 'summaries' | 'migrationsFor'>;

/** A difference between what the scanner scanned for and what the worker runs. */
export interface SetMismatch {
  /** The declared table. */
  table: string;
  /** Named by the message, not run by this worker (not planned: unknown, or not deployed). */
  onlyScanner: string[];
  /** Run by this worker, not named by the message (not planned: not scanned for). */
  onlyWorker: string[];
  /** Named by both, but an input is outside the message's projection (not planned). */
  notCarried: string[];
  /** One line for logs and `status`. */
  text: string;
}

export interface PlannableSet {
  /** The migrations to plan for the message's items. */
  plan: string[];
  /** Set when the message and the worker disagree; undefined when they agree. */
  mismatch?: SetMismatch;
}

const sorted = (xs: Iterable<string>): string[] => [...new Set(xs)].sort();

/**
 * The migrations to plan for a message of `table` scanned for `scannedFor`, by a worker whose
 * enabled set is `worker` (its configuration, less search without an index).
 *
 * - A migration is planned when the message names it, the worker runs it (or it is an opt-in
 *   contract step: naming it is the operator's `backfill --contract`), and every input of it is
 *   a key or in the projection.
 * - A message without `scannedFor` (an older scanner) plans only the worker's DynamoDB
 *   migrations, whose conditions turn a wrongly absent input into a conflict rather than a
 *   write; never a search migration, which no condition guards.
 */
export function plannableMigrations(
  planner: ScannedForPlanner,
  table: string,
  worker: readonly string[],
  scannedFor: ScannedFor | undefined,
): PlannableSet {
  const workerSet = [...summariesOf(planner, table, worker)];
  if (!scannedFor) {
    const notCarried = workerSet.filter((m) => m.target === 'search').map((m) => m.name);
    return {
      plan: workerSet.filter((m) => m.target !== 'search').map((m) => m.name),
      ...(notCarried.length && {
        mismatch: {
          table,
          onlyScanner: [],
          onlyWorker: [],
          notCarried,
          text: `${table} message does not say what it was scanned for (an older scanner): not planned: ${notCarried.join(', ')}`,
        },
      }),
    };
  }
  const named = new Set(scannedFor.migrations);
  const carried = new Set<string>([...planner.table(table).key, ...scannedFor.projection]);
  const runnable = runnableOf(planner, table, worker, named);
  const plan: string[] = [];
  const notCarried: string[] = [];
  for (const m of runnable) {
    if (m.inputs.every((a) => carried.has(a))) plan.push(m.name);
    else notCarried.push(m.name);
  }
  const onlyScanner = sorted(
    scannedFor.migrations.filter((n) => !runnable.some((m) => m.name === n)),
  );
  const onlyWorker = sorted(workerSet.map((m) => m.name).filter((n) => !named.has(n)));
  if (!onlyScanner.length && !onlyWorker.length && !notCarried.length) return { plan };
  const parts = [
    onlyScanner.length && `scanned for but not run by this worker: ${onlyScanner.join(', ')}`,
    onlyWorker.length && `run by this worker but not scanned for: ${onlyWorker.join(', ')}`,
    notCarried.length && `inputs not in the message's projection: ${notCarried.join(', ')}`,
  ].filter(Boolean);
  return {
    plan,
    mismatch: {
      table,
      onlyScanner,
      onlyWorker,
      notCarried: sorted(notCarried),
      text: `${table} message and worker migration sets differ (${parts.join('; ')}): only ${plan.join(', ') || 'nothing'} planned`,
    },
  };
}

/**
 * What a worker scans for in a `--distributed` scan-segment task: the task's migrations that the
 * worker runs, plus the opt-in contract steps it names (the operator's `backfill --contract`);
 * the worker's own set when the task names none (an older scanner).
 */
export function scanSegmentMigrations(
  planner: ScannedForPlanner,
  table: string,
  worker: readonly string[],
  named: readonly string[] | undefined,
): string[] {
  if (!named) return summariesOf(planner, table, worker).map((m) => m.name);
  return runnableOf(planner, table, worker, new Set(named)).map((m) => m.name);
}

/** The summaries of `table`'s enabled migrations, in planning order. */
const summariesOf = (planner: ScannedForPlanner, table: string, enabled: readonly string[]) =>
  planner.migrationsFor(table, enabled).map((m) => planner.summaries.get(m.name)!);

/**
 * The table's migrations that a message names and this worker may plan: those it runs, and the
 * opt-in item migrations (naming one is the operator's explicit choice), in planning order.
 */
function runnableOf(
  planner: ScannedForPlanner,
  table: string,
  worker: readonly string[],
  named: ReadonlySet<string>,
) {
  return [...planner.summaries.values()].filter(
    (m) =>
      m.table === table &&
      named.has(m.name) &&
      (worker.includes(m.name) || (m.optIn && m.target === 'dynamodb')),
  );
}
