// `streamfill verify`: the referee from the command line; exit 0 only when nothing is pending
// and no search document is missing beyond what `--allow-missing-search` says is expected.
import { InvalidArgumentError, Option, type Command } from 'commander';
import {
  isConverged,
  verifyAll,
  type ConvergedOptions,
  type VerifyReport,
} from '../../lib/engine/verify.ts';
import { ENV, LOCAL_STATE_TABLE, SCAN_SEGMENTS } from '../../lib/config/defaults.ts';
import { existingQueueUrl } from '../../lib/adapters/dlq-reader.ts';
import { DLQ_BREAKDOWN_KINDS } from '../../lib/core/dlq-message.ts';
import type { Planner } from '../../lib/core/config/planner.ts';
import {
  commandConfig,
  migrationsOption,
  migrationsToCheck,
  positiveInt,
  requireNamedTable,
  requireTable,
  settingName,
  withSharedOptions,
} from '../config.ts';
import { makeRuntime } from '../runtime.ts';
import { newTable } from '../output.ts';
import { copyTotals, type CopyDiffReport } from '../../lib/engine/copy-diff.ts';
import { COPY_DIFF_REASONS } from '../../lib/core/cutover-diff.ts';

/** Each copy's counts by reason, then its samples (skipped ones with why they derive nothing). */
export function renderCopies(copies: CopyDiffReport): string[] {
  const names = Object.keys(copies);
  if (!names.length) return [];
  const t = newTable(['copy', 'sources', 'targets', 'stamped', ...COPY_DIFF_REASONS]);
  for (const name of names) {
    const c = copies[name] as CopyDiffReport[string];
    t.push([name, c.sources, c.targets, c.stamped, ...COPY_DIFF_REASONS.map((r) => c[r])]);
  }
  const lines = [t.toString()];
  const repaired = Object.values(copies).reduce((n, c) => n + c.repaired, 0);
  if (repaired) lines.push(`  repaired the targets of ${repaired} source(s) (--repair)`);
  for (const c of Object.values(copies))
    for (const s of c.samples)
      lines.push(
        `  ${s.copy} ${s.reason}: source ${s.source}${s.target ? ` target ${s.target}` : ''}: ${s.detail}`,
      );
  return lines;
}

export function registerVerifyCommand(program: Command): void {
  withSharedOptions(
    migrationsOption(program.command('verify'))
      .description(
        "Re-plan every item (no write, unless --repair mends search keywords or copies' targets); show what the DLQ holds by kind; exit 0 only when nothing is pending.",
      )
      .option('--json', 'print the report as JSON', false)
      .option(
        '--table <name>',
        "the migrated table to verify, by the config's declared name, or all (default: every table a checked migration drives)",
        'all',
      )
      .option(
        '--only <names>',
        'comma-separated declared tables to verify (as --table, several at once)',
      )
      .option('--tags', 'kept for old scripts: every migrated table is verified by default', false)
      .option('--contract', "the config's opt-in migrations (contract steps) must hold too", false)
      .option(
        '--repair',
        "rewrite pending search documents' keywords from the items as read now (guarded: never over a newer document), and copies' targets changed or deleted behind their back (through the copy's own transaction); the only writes verify makes",
        false,
      )
      .addOption(
        new Option(
          '--state-table <name>',
          "the copies' ledger and dependencies (--repair of copies)",
        )
          .env(ENV.stateTable)
          .default(LOCAL_STATE_TABLE),
      )
      .option('--segments <n>', 'parallel scan segments', positiveInt('--segments'), SCAN_SEGMENTS)
      .option(
        '--allow-missing-search [n]',
        'converged even with up to n search documents missing (no n: any number)',
        allowMissing,
      ),
  ).action(async (opts) => {
    const { planner, config } = await commandConfig(opts);
    // The state table is the copies' ledger: a config without copies never reads it.
    const hasCopies = planner.migratedTables.some((t) => planner.copiesFor(t).length > 0);
    const rt = makeRuntime(config, { planner, ...(hasCopies && { stateTable: opts.stateTable }) });
    try {
      const migrations = migrationsToCheck(planner, opts.migrations, opts.contract);
      // Every migrated table a checked migration drives (a live path per table).
      const selected = selectedTables(
        planner,
        opts.only ?? opts.table,
        migrations,
        opts.only ? '--only' : '--table',
      );
      for (const table of selected)
        await requireTable(rt.clients.dynamodb, rt.config.tables, table);
      // Each table a lookup reads must exist too, or every item needing it would be pending.
      const lookedUp = selected.flatMap((t) =>
        planner.lookupsFor(t, planner.allMigrations).map((l) => l.table.name),
      );
      for (const table of new Set(lookedUp))
        await requireTable(rt.clients.dynamodb, rt.config.tables, table);
      // And each table the verified tables' copies write (their targets are diffed).
      const copiedTo = selected.flatMap((t) =>
        planner.copiesFor(t, migrations).flatMap((c) => c.to.map((d) => d.name)),
      );
      for (const table of new Set(copiedTo))
        await requireTable(rt.clients.dynamodb, rt.config.tables, table);
      // Copies are repaired through their ledger: it must be there before anything is written.
      if (opts.repair && copiedTo.length)
        await requireNamedTable(
          rt.clients.dynamodb,
          opts.stateTable,
          `--state-table / ${ENV.stateTable}`,
        );
      const dlqUrl = await existingQueueUrl(
        rt.clients.sqs,
        rt.config.dlqName,
        settingName('dlqName'),
      ).catch(() => undefined);
      const report = await verifyAll({
        ...(dlqUrl && { dlq: { sqs: rt.clients.sqs, url: dlqUrl } }),
        doc: rt.clients.doc,
        planner,
        tables: rt.config.tables,
        lookups: rt.lookups,
        search: rt.search,
        only: selected,
        migrations,
        segments: opts.segments,
        repair: opts.repair,
        ...(rt.copies && { copies: rt.copies }),
      });
      const converged: ConvergedOptions = {
        allowMissingSearch: opts.allowMissingSearch === undefined ? 0 : opts.allowMissingSearch,
      };
      if (opts.json) console.log(JSON.stringify(report, null, 2));
      else console.log(renderVerifyReport(report, converged, planner.migratedTables[0]));
      process.exitCode = isConverged(report, converged) ? 0 : 1;
    } finally {
      rt.close();
    }
  });
}

/**
 * `--table` / `--only`: declared migrated tables (comma-separated), or `all`: every migrated
 * table one of `migrations` drives. An unknown name is refused, naming the migrated tables.
 */
export function selectedTables(
  planner: Planner,
  value: string,
  migrations: readonly string[],
  flag = '--table',
): string[] {
  const migrated = planner.migratedTables;
  if (value === 'all') return migrated.filter((t) => planner.migrationsFor(t, migrations).length);
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  const unknown = names.filter((n) => !migrated.includes(n));
  if (unknown.length || !names.length) {
    // A plain Error: the CLI prints it (a CommanderError thrown from an action exits silently).
    throw new Error(
      `${flag} must name migrated tables of the config (${[...migrated, 'all'].join(', ')}), got ${JSON.stringify(value)}`,
    );
  }
  return [...new Set(names)];
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

/** `firstTable`: the declared name of the config's first migrated table (the top-level counts). */
export function renderVerifyReport(
  r: VerifyReport,
  options: ConvergedOptions = {},
  firstTable = 'first table',
): string {
  const t = newTable(['', 'checked', 'pending', 'malformed', 'expired', 'missing']);
  t.push([firstTable, r.checked, r.pending, r.malformed, r.expired, '']);
  const others = Object.entries(r.tables);
  for (const [table, c] of others)
    t.push([table, c.checked, c.pending, c.malformed, c.expired, '']);
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
  lines.push(...renderCopies(r.copies));
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
  const copies = copyTotals(r.copies);
  lines.push(
    isConverged(r, options)
      ? 'verify: converged'
      : `verify: NOT converged: ${pending} pending, ${broken} malformed (these need a fix by hand), ` +
          `${missing} search documents missing (expected: ${options.allowMissingSearch ?? 0}; see --allow-missing-search)` +
          (Object.keys(r.copies).length
            ? `; copies: ${copies.pending} pending, ${copies.orphan} orphan, ${copies.malformed} malformed, ${copies.conflict} conflict`
            : ''),
  );
  return lines.join('\n');
}
