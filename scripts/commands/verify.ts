import type { Command } from 'commander';
import Table from 'cli-table3';
import { isConverged, verifyAll, type VerifyReport } from '../../lib/engine/verify.ts';
import { configFrom, positiveInt, requireTable, withSharedOptions } from '../config.ts';
import { makeRuntime } from '../runtime.ts';

export function registerVerifyCommand(program: Command): void {
  withSharedOptions(
    program
      .command('verify')
      .description('Re-plan every item without writing; exit 0 only when nothing is pending.')
      .option('--json', 'print the report as JSON', false)
      .option('--tags', 'also verify the tag table', false)
      .option('--segments <n>', 'parallel scan segments', positiveInt('--segments'), 4),
  ).action(async (opts) => {
    const rt = makeRuntime(configFrom(opts));
    try {
      const { session, tag } = rt.config.tables;
      await requireTable(
        rt.clients.dynamodb,
        session,
        '--session-table / STREAMFILL_SESSION_TABLE',
      );
      if (opts.tags)
        await requireTable(rt.clients.dynamodb, tag, '--tag-table / STREAMFILL_TAG_TABLE');
      const report = await verifyAll({
        doc: rt.clients.doc,
        tables: rt.config.tables,
        search: rt.search,
        includeTags: opts.tags,
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
  if (r.tags)
    t.push(['tags', r.tags.checked, r.tags.pending, r.tags.malformed, r.tags.expired, '']);
  if (r.search)
    t.push(['search docs', r.search.checked, r.search.pending, '', '', r.search.missing]);
  const lines = [t.toString()];
  for (const s of r.samples) lines.push(`  ${s.table} ${s.key}: ${s.reason}`);
  const broken = r.malformed + (r.tags?.malformed ?? 0);
  const pending = r.pending + (r.tags?.pending ?? 0) + (r.search?.pending ?? 0);
  lines.push(
    isConverged(r)
      ? 'verify: converged'
      : `verify: NOT converged: ${pending} pending, ${broken} malformed (these need a fix by hand)`,
  );
  return lines.join('\n');
}
