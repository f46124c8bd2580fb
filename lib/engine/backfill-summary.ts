// How a pass ended and what it did: the outcome, counts, rates, waits and the cost estimate.
import type { TableFacts } from '../adapters/backfill-reads.ts';
import { estimateCost } from '../core/cost-estimate.ts';
import { isItemMigration } from '../core/config/resolve.ts';
import { snapshot, type Pass } from './backfill-pass.ts';
import type { BackfillSummary } from './backfill-types.ts';

export function outcomeOf(pass: Pass): BackfillSummary['outcome'] {
  const allDone = pass.progress.report().segmentsDone === pass.totalSegments;
  const { limitHit } = pass.counts;
  return pass.mode === 'distributed' && !pass.deps.followDistributed
    ? 'tasks-enqueued'
    : allDone && !limitHit
      ? 'finished'
      : limitHit
        ? 'limit'
        : 'stopped';
}

export function summaryOf(
  pass: Pass,
  outcome: BackfillSummary['outcome'],
  facts: TableFacts,
  durationMs: number,
): BackfillSummary {
  const { table, dryRun, counts, dry, scope, options } = pass;
  const report = pass.progress.report();
  const written = [
    ...new Set(
      pass.deps.planner
        .migrationsFor(table, scope.migrations)
        .filter(isItemMigration)
        .flatMap((m) => m.writes),
    ),
  ];
  const cost = estimateCost({
    scanned: report.scanned,
    consumedReadUnits: counts.consumedReadUnits,
    writes: dryRun ? dry.counts.wouldWrite : report.enqueued,
    ...(facts.averageItemBytes !== undefined && { averageItemBytes: facts.averageItemBytes }),
    written,
    indexes: facts.indexes,
    ...(options.prices && { prices: options.prices }),
  });
  return {
    runId: pass.runId,
    table,
    tableName: pass.tableName,
    mode: pass.mode,
    dryRun,
    outcome,
    segments: pass.totalSegments,
    scanned: report.scanned,
    enqueued: report.enqueued,
    skipped: report.skipped,
    skippedSettled: report.skippedSettled,
    unsendable: counts.unsendable,
    parked: counts.parked,
    messages: counts.messages,
    perSegment: snapshot(pass).perSegment,
    durationMs,
    scannedPerSecond: (report.scanned * 1000) / durationMs,
    enqueuedPerSecond: (report.enqueued * 1000) / durationMs,
    waits: pass.waits.totals,
    consumedReadUnits: counts.consumedReadUnits,
    cost,
    filter: scope.filterText,
    projection: scope.projection,
    migrations: scope.migrations,
    ...(pass.missingKeys && { missingKeys: pass.missingKeys }),
    ...(dryRun && {
      dryRunCounts: dry.counts,
      samples: dry.samples,
    }),
    problems: counts.problems,
  };
}
