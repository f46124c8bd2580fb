// `streamfill cutover check` / `wait`: may the application switch to the copies' targets? The
// stream consumer of each copied table caught up (as `status --check` judges it), the work queue
// and the DLQ empty, and the copy diff (copy-diff.ts) clean. `wait` repeats the check.
import { checkStatus } from '../core/status-check.ts';
import type { ConsumerStatus, QueueStatus, DlqStatus } from '../core/status-report.ts';
import { judgeCutover, type CutoverVerdict } from '../core/cutover-check.ts';
import type { CopyDiffReason } from '../core/cutover-diff.ts';
import {
  copyTotals,
  diffCopies,
  selectedCopies,
  type CopyDiffDeps,
  type CopyDiffReport,
} from './copy-diff.ts';
import { collectStatus, type StatusSources } from './status.ts';

export interface CutoverDeps {
  /** What the copy diff reads (its `only` and `migrations` select the copies checked). */
  diff: CopyDiffDeps;
  /** The status sources of the stream consumer of a copied table (declared name). */
  statusSources: (table: string) => StatusSources;
  /** A consumer lagging more is not caught up (`status --check --max-lag-seconds`). */
  maxLagMs: number;
}

export interface CutoverReport {
  at: string;
  /** The stream consumer of each copied (source) table. */
  consumers: { table: string; consumer: ConsumerStatus }[];
  queue: QueueStatus;
  dlq: Omit<DlqStatus, 'byKind' | 'sampled'>;
  copies: CopyDiffReport;
  /** Each reason's count over the copies. */
  totals: Record<CopyDiffReason, number>;
  check: CutoverVerdict;
}

/**
 * One check. Bad input (no copies, an unknown `only` name) throws before any read.
 *
 * @example
 * const report = await checkCutover({ diff: { doc, planner, tables, lookups }, statusSources, maxLagMs: 5_000 });
 * process.exitCode = report.check.exitCode;
 */
export async function checkCutover(deps: CutoverDeps): Promise<CutoverReport> {
  const { planner } = deps.diff;
  const copies = selectedCopies(planner, deps.diff.migrations, deps.diff.only);
  const tables = [...new Set(copies.map((c) => c.from.name))];
  // The pipeline's state first: a queue found empty before a clean diff left nothing behind it.
  const statuses = await Promise.all(
    tables.map(async (table) => ({
      table,
      report: await collectStatus(deps.statusSources(table)),
    })),
  );
  const first = (statuses[0] as (typeof statuses)[number]).report;
  const consumers = statuses.map(({ table, report }) => ({
    table,
    consumer: report.consumer,
    // `status --check`'s judgement of the consumer alone (the scan is not the cut-over's).
    problems: checkStatus(
      { ...report, scan: null },
      { maxLagMs: deps.maxLagMs, stalledAfterMs: Number.POSITIVE_INFINITY },
    ).problems.flatMap((p) =>
      p.kind === 'consumerStopped' || p.kind === 'consumerLagging'
        ? [{ kind: p.kind, reason: p.reason }]
        : [],
    ),
  }));
  const copiesReport = await diffCopies(deps.diff);
  const totals = copyTotals(copiesReport);
  const { byKind: _byKind, sampled: _sampled, ...dlq } = first.dlq;
  return {
    at: first.at,
    consumers: consumers.map(({ table, consumer }) => ({ table, consumer })),
    queue: first.queue,
    dlq,
    copies: copiesReport,
    totals,
    check: judgeCutover({ consumers, queue: first.queue, dlq, copies: totals }),
  };
}

export interface WaitOptions {
  intervalMs: number;
  /** Give up after this long (0: never). */
  timeoutMs: number;
  /** Each round's report, as it comes. */
  onRound?: (report: CutoverReport, round: number) => void;
  /** @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  now?: () => number;
}

/**
 * Checks until the cut-over may proceed or `timeoutMs` passes; the last check's report either
 * way (`timedOut` says which).
 */
export async function waitForCutover(
  deps: CutoverDeps,
  options: WaitOptions,
): Promise<{ report: CutoverReport; rounds: number; timedOut: boolean }> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  const deadline = options.timeoutMs > 0 ? now() + options.timeoutMs : Number.POSITIVE_INFINITY;
  for (let round = 1; ; round++) {
    const report = await checkCutover(deps);
    options.onRound?.(report, round);
    if (report.check.exitCode === 0) return { report, rounds: round, timedOut: false };
    const left = deadline - now();
    if (left <= 0) return { report, rounds: round, timedOut: true };
    await sleep(Math.min(options.intervalMs, left));
  }
}
