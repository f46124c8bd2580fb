// `streamfill verify`: the referee from the command line; exit 0 only when nothing is pending
// and no search document is missing beyond what `--allow-missing-search` says is expected.
import { InvalidArgumentError, type Command } from 'commander';
import {
  isConverged,
  verifyAll,
  type ConvergedOptions,
  type VerifyReport,
} from '../../lib/engine/verify.ts';
import { SCAN_SEGMENTS } from '../../lib/config/defaults.ts';
import {
  MIGRATED_TABLES,
  migrationsFor,
  type MigratedTable,
} from '../../lib/core/migrations/index.ts';
import { existingQueueUrl } from '../../lib/adapters/dlq-reader.ts';
import { DLQ_BREAKDOWN_KINDS } from '../../lib/core/dlq-message.ts';
import {
  configFrom,
  migrationsOption,
  migrationsToCheck,
  positiveInt,
  requireTable,
  settingName,
  withSharedOptions,
} from '../config.ts';
import { loadPlanner } from '../config-loader.ts';
import { makeRuntime } from '../runtime.ts';
import { newTable } from '../output.ts';

export function registerVerifyCommand(program: Command): void {
  withSharedOptions(
    migrationsOption(program.command('verify'))
      .description(
        'Re-plan every item (no write, unless --repair mends search keywords); show what the DLQ holds by kind; exit 0 only when nothing is pending.',
      )
      .option('--json', 'print the report as JSON', false)
      .option(
        '--table <name>',
        `the migrated table to verify: ${[...MIGRATED_TABLES, 'all'].join(', ')} (default: every table a checked migration drives)`,
        'all',
      )
      .option('--tags', 'kept for old scripts: the tag table is verified by default', false)
      .option(
        '--contract',
        'the contract steps (tag-usage-mode-contract: chat_app_id removed) must hold too',
        false,
      )
      .option(
        '--repair',
        "rewrite pending search documents' keywords from the items as read now (guarded: never over a newer document); the only write verify makes",
        false,
      )
      .option('--segments <n>', 'parallel scan segments', positiveInt('--segments'), SCAN_SEGMENTS)
      .option(
        '--allow-missing-search [n]',
        'converged even with up to n search documents missing (no n: any number)',
        allowMissing,
      ),
  ).action(async (opts) => {
    const rt = makeRuntime(configFrom(opts), { planner: await loadPlanner(opts) });
    try {
      const migrations = migrationsToCheck(opts.migrations, opts.contract);
      // Every migrated table a checked migration drives (a live path per table: tags too).
      const selected: MigratedTable[] =
        opts.table === 'all'
          ? MIGRATED_TABLES.filter((t) => migrationsFor(t, migrations).length)
          : tablesOf(opts.table);
      for (const table of selected)
        await requireTable(rt.clients.dynamodb, rt.config.tables, table);
      const dlqUrl = await existingQueueUrl(
        rt.clients.sqs,
        rt.config.dlqName,
        settingName('dlqName'),
      ).catch(() => undefined);
      const report = await verifyAll({
        ...(dlqUrl && { dlq: { sqs: rt.clients.sqs, url: dlqUrl } }),
        doc: rt.clients.doc,
        tables: rt.config.tables,
        search: rt.search,
        only: selected,
        // A stack's output arrives as text (set after parsing); a flag or variable is parsed.
        migrations,
        segments: opts.segments,
        repair: opts.repair,
      });
      const converged: ConvergedOptions = {
        allowMissingSearch: opts.allowMissingSearch === undefined ? 0 : opts.allowMissingSearch,
      };
      if (opts.json) console.log(JSON.stringify(report, null, 2));
      else console.log(renderVerifyReport(report, converged));
      process.exitCode = isConverged(report, converged) ? 0 : 1;
    } finally {
      rt.close();
    }
  });
}

/** `--table`: one migrated table, or `all`. */
function tablesOf(value: string): MigratedTable[] {
  if ((MIGRATED_TABLES as readonly string[]).includes(value)) return [value as MigratedTable];
  throw new InvalidArgumentError(
    `--table must be one of ${[...MIGRATED_TABLES, 'all'].join(', ')}, got "${value}"`,
  );
}

/** `--allow-missing-search` alone allows any number; with a value, that many. */
function allowMissing(value: string | boolean | undefined): number {
  if (value === undefined || value === true) return Number.POSITIVE_INFINITY;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError(
      `--allow-missing-search must be a whole number ≥ 0, got ${JSON.stringify(value)}`,
    );
  return n;
}

export function renderVerifyReport(r: VerifyReport, options: ConvergedOptions = {}): string {
  const t = newTable(['', 'checked', 'pending', 'malformed', 'expired', 'missing']);
  t.push(['sessions', r.checked, r.pending, r.malformed, r.expired, '']);
  const others = Object.entries(r.tables);
  for (const [table, c] of others)
    t.push([`${table}s`, c.checked, c.pending, c.malformed, c.expired, '']);
  if (r.search)
    t.push(['search docs', r.search.checked, r.search.pending, '', '', r.search.missing]);
  const lines = [t.toString()];
  if (r.search?.repaired)
    lines.push(`  repaired ${r.search.repaired} search document(s) (--repair)`);
  if (r.search?.indexMissing)
    lines.push('  search index does not exist: every document is missing');
  for (const [table, c] of others)
    for (const [name, n] of Object.entries(c.phases))
      lines.push(`  ${table} phase ${name}: ${n === 0 ? 'done' : `${n} to go`}`);
  for (const s of r.samples) lines.push(`  ${s.table} ${s.key}: ${s.reason}`);
  const dlqKinds = r.dlq ? DLQ_BREAKDOWN_KINDS.filter((k) => r.dlq?.byKind[k]) : [];
  if (r.dlq && dlqKinds.length)
    lines.push(
      `  DLQ (${r.dlq.sampled} peeked): ${dlqKinds.map((k) => `${k} ${r.dlq?.byKind[k]}`).join(', ')} — see \`streamfill redrive --dry-run\``,
    );
  const sum = (k: 'pending' | 'malformed'): number =>
    r[k] + others.reduce((n, [, c]) => n + c[k], 0);
  const broken = sum('malformed');
  const pending = sum('pending') + (r.search?.pending ?? 0);
  const missing = r.search?.missing ?? 0;
  lines.push(
    isConverged(r, options)
      ? 'verify: converged'
      : `verify: NOT converged: ${pending} pending, ${broken} malformed (these need a fix by hand), ` +
          `${missing} search documents missing (expected: ${options.allowMissingSearch ?? 0}; see --allow-missing-search)`,
  );
  return lines.join('\n');
}
