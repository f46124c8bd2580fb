// `streamfill verify`: the referee from the command line; exit 0 only when nothing is pending.
import type { Command } from 'commander';
import Table from 'cli-table3';
import { isConverged, verifyAll, type VerifyReport } from '../../lib/engine/verify.ts';
import { SCAN_SEGMENTS } from '../../lib/config/defaults.ts';
import type { MigratedTable } from '../../lib/core/migrations/index.ts';
import { configFrom, positiveInt, requireTable, withSharedOptions } from '../config.ts';
import { makeRuntime } from '../runtime.ts';

export function registerVerifyCommand(program: Command): void {
  withSharedOptions(
    program
      .command('verify')
      .description('Re-plan every item without writing; exit 0 only when nothing is pending.')
      .option('--json', 'print the report as JSON', false)
      .option('--tags', 'also verify the tag table', false)
      .option('--segments <n>', 'parallel scan segments', positiveInt('--segments'), SCAN_SEGMENTS),
  ).action(async (opts) => {
    const rt = makeRuntime(configFrom(opts));
    try {
      const include: MigratedTable[] = opts.tags ? ['tag'] : [];
      for (const table of ['session' as const, ...include])
        await requireTable(rt.clients.dynamodb, rt.config.tables, table);
      const report = await verifyAll({
        doc: rt.clients.doc,
        tables: rt.config.tables,
        search: rt.search,
        include,
        segments: opts.segments,
      });
      if (opts.json) console.log(JSON.stringify(report, null, 2));
      else console.log(renderVerifyReport(report));
      process.exitCode = isConverged(report) ? 0 : 1;
    } finally {
      rt.close();
    }
  });
}

export function renderVerifyReport(r: VerifyReport): string {
  const t = new Table({ head: ['', 'checked', 'pending', 'malformed', 'expired', 'missing'] });
  t.push(['sessions', r.checked, r.pending, r.malformed, r.expired, '']);
  const others = Object.entries(r.tables);
  for (const [table, c] of others)
    t.push([`${table}s`, c.checked, c.pending, c.malformed, c.expired, '']);
  if (r.search)
    t.push(['search docs', r.search.checked, r.search.pending, '', '', r.search.missing]);
  const lines = [t.toString()];
  for (const s of r.samples) lines.push(`  ${s.table} ${s.key}: ${s.reason}`);
  const sum = (k: 'pending' | 'malformed'): number =>
    r[k] + others.reduce((n, [, c]) => n + c[k], 0);
  const broken = sum('malformed');
  const pending = sum('pending') + (r.search?.pending ?? 0);
  lines.push(
    isConverged(r)
      ? 'verify: converged'
      : `verify: NOT converged: ${pending} pending, ${broken} malformed (these need a fix by hand)`,
  );
  return lines.join('\n');
}
