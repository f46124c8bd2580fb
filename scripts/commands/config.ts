// `streamfill config check`: loads the config as every command does, then runs each derive on
// generated items (lib/core/config/check.ts). Exit 0: no error; 1: a derive breaks a rule;
// 2: the config cannot be loaded, is not a config, or a table name is bad.
import type { Command } from 'commander';
import {
  CHECK_LABELS,
  checkConfig,
  type CheckOutcome,
  type ConfigCheckReport,
} from '../../lib/core/config/check.ts';
import {
  describeTableNameSource,
  TableNameError,
  type PhysicalTableName,
} from '../../lib/core/config/table-names.ts';
import {
  builtInPreset,
  ConfigLoadError,
  describeSource,
  loadConfig,
  tableNamesFor,
  withConfigOptions,
  type ConfigSource,
} from '../config-loader.ts';
import { jsonOutput, jsonTarget } from '../output.ts';

const MARK: Record<CheckOutcome['level'], string> = { ok: '✓', warning: '⚠', error: '✗' };

/** The checklist: one block per migration, its first offending item under each failed check. */
export function renderCheck(
  report: ConfigCheckReport,
  source: ConfigSource,
  tables: ReadonlyMap<string, PhysicalTableName>,
): string {
  const lines = [
    `config: ${describeSource(source)}`,
    `tables: ${[...tables]
      .map(([declared, t]) => `${declared} → ${t.name} (${describeTableNameSource(t.from)})`)
      .join(', ')}`,
  ];
  for (const m of report.migrations) {
    const worst = m.checks.some((c) => c.level === 'error')
      ? 'error'
      : m.checks.some((c) => c.level === 'warning')
        ? 'warning'
        : 'ok';
    const derived =
      m.kind === 'search'
        ? `${m.items} keys`
        : `${m.items} items, ${m.malformed} rejected with malformed(…)`;
    lines.push(`${MARK[worst]} ${m.name} (${m.kind}, table ${m.table}; ${derived})`);
    for (const c of m.checks) {
      lines.push(
        `    ${MARK[c.level]} ${CHECK_LABELS[c.check]}${c.message ? `: ${c.message}` : ''}`,
      );
      if (c.item) lines.push(`        item: ${JSON.stringify(c.item)}`);
      if (c.lookups) lines.push(`        lookups: ${JSON.stringify(c.lookups)}`);
    }
  }
  const n = report.migrations.length;
  lines.push(
    `config check: ${report.ok ? 'passed' : 'FAILED'} (${n} migration${n === 1 ? '' : 's'}, ` +
      `${report.errors} error${report.errors === 1 ? '' : 's'}, ` +
      `${report.warnings} warning${report.warnings === 1 ? '' : 's'})`,
  );
  return lines.join('\n');
}

interface CheckOptions {
  config?: string;
  tableName?: string[];
  json?: boolean;
}

export async function configCheckAction(opts: CheckOptions): Promise<number> {
  const out = jsonOutput(jsonTarget(opts.json));
  try {
    let loaded, tables;
    try {
      loaded = await loadConfig({ flag: opts.config, preset: builtInPreset });
      tables = tableNamesFor(loaded.resolved, opts);
    } catch (e) {
      if (!(e instanceof ConfigLoadError || e instanceof TableNameError)) throw e;
      console.error(`streamfill: ${e.message}`);
      await out.emit({ ok: false, error: e.message, issues: e.issues, migrations: [] });
      return 2;
    }
    const report = checkConfig(loaded.resolved);
    console.log(renderCheck(report, loaded.source, tables));
    await out.emit({
      config: loaded.source.kind === 'preset' ? 'preset' : loaded.source.path,
      configFrom: loaded.source.kind,
      tables: Object.fromEntries(tables),
      ...report,
    });
    return report.ok ? 0 : 1;
  } finally {
    out.restore();
  }
}

export function registerConfigCommand(program: Command): void {
  const config = program
    .command('config')
    .description('Check a streamfill config (streamfill.config.ts).');
  withConfigOptions(
    config
      .command('check')
      .description(
        'Validate the config and its table names, then run every derive twice on generated items: catches impure or non-idempotent derives, undeclared reads, lookups and writes. Exit 0: no error; 1: errors; 2: the config or a table name is unusable.',
      ),
  )
    .option('--json', 'print the report as one JSON document on stdout')
    .action(async (opts: CheckOptions) => {
      process.exitCode = await configCheckAction(opts);
    });
}
