// `streamfill index status`: is the new GSI of an expand → switch → contract migration ready
// for the app to read? ACTIVE, no longer backfilling, and every item that should carry its
// key does. Exit 0 only then.
import { Option, type Command } from 'commander';
import { destroyClients, makeClients } from '../../lib/adapters/clients.ts';
import {
  describeIndex,
  scanCoverage,
  waitForIndex,
  type IndexDescription,
} from '../../lib/adapters/index-status.ts';
import {
  indexVerdict,
  type Coverage,
  type CoverageSpec,
  type IndexVerdict,
} from '../../lib/core/index-coverage.ts';
import { commandConfig, positiveInt, requireNamedTable, withSharedOptions } from '../config.ts';
import { physicalTable } from '../../lib/core/config/table-names.ts';

/** The session sort-key migration (Pika 0.5) derives chat_app_sk from these. */
export const DEFAULT_BASE_ATTRIBUTES = ['chat_app_id', 'last_update'];

function attributeList(flag: string) {
  return (value: string): string[] => {
    const list = value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (list.length === 0) throw new Error(`${flag} needs a comma-separated list, got "${value}"`);
    return list;
  };
}

function seconds(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0)
      throw new Error(`${flag} must be a non-negative number of seconds, got "${value}"`);
    return n;
  };
}

export interface IndexStatusReport {
  table: string;
  index: string;
  status: string;
  backfilling: boolean;
  keyAttributes: string[];
  baseAttributes: string[];
  projection: IndexDescription['projection'];
  coverage: Coverage;
  ready: boolean;
  reasons: string[];
}

export function registerIndexCommand(program: Command): void {
  const index = program
    .command('index')
    .description('GSI changes without an outage (expand → switch → contract): check a new index');
  withSharedOptions(
    index
      .command('status')
      .description(
        'Exit 0 only when the index is ACTIVE, not backfilling, and every item that should carry its key does.',
      )
      .requiredOption(
        '--index <name>',
        'the new global secondary index, e.g. user-chat-app-sk-index',
      )
      .option('--table <name>', 'table holding the index (default: --session-table)')
      .option(
        '--key-attributes <list>',
        "attributes an item must have to appear in the index (default: the index's key schema)",
        attributeList('--key-attributes'),
      )
      .addOption(
        new Option(
          '--base-attributes <list>',
          'attributes the key is derived from: an item holding all of them should carry the key',
        )
          .argParser(attributeList('--base-attributes'))
          .default(DEFAULT_BASE_ATTRIBUTES, DEFAULT_BASE_ATTRIBUTES.join(',')),
      )
      .option('--wait', 'poll until the index is ACTIVE and no longer backfilling', false)
      .option('--interval <seconds>', 'poll interval with --wait', seconds('--interval'), 15)
      .option(
        '--timeout <seconds>',
        'give up waiting after this long (0: never)',
        seconds('--timeout'),
        0,
      )
      .option(
        '--segments <n>',
        'parallel scan segments for the count',
        positiveInt('--segments'),
        4,
      )
      .option('--json', 'print the report as JSON', false),
  ).action(async (opts) => {
    const { planner, config } = await commandConfig(opts);
    const first = planner.migratedTables[0] as string;
    const table: string = opts.table ?? physicalTable(config.tables, first);
    const clients = makeClients({ searchEndpoint: config.searchEndpoint });
    try {
      await requireNamedTable(
        clients.dynamodb,
        table,
        opts.table ? '--table' : `--table, or --table-name ${first}=<name>`,
      );
      const described = opts.wait
        ? await waitForIndex(clients.dynamodb, table, opts.index, {
            intervalMs: opts.interval * 1000,
            timeoutMs: opts.timeout * 1000,
            onWait: (line) => console.error(line),
          })
        : await describeIndex(clients.dynamodb, table, opts.index);
      const spec: CoverageSpec = {
        baseAttributes: opts.baseAttributes,
        keyAttributes: opts.keyAttributes ?? described.keyAttributes,
        primaryKey: described.tableKeyAttributes,
      };
      const coverage = await scanCoverage(clients.doc, table, spec, { segments: opts.segments });
      const report = toReport(described, spec, coverage, indexVerdict(described, coverage, spec));
      console.log(opts.json ? JSON.stringify(report, null, 2) : renderIndexStatus(report));
      process.exitCode = report.ready ? 0 : 1;
    } finally {
      destroyClients(clients);
    }
  });
}

function toReport(
  d: IndexDescription,
  spec: CoverageSpec,
  coverage: Coverage,
  verdict: IndexVerdict,
): IndexStatusReport {
  return {
    table: d.table,
    index: d.index,
    status: d.status,
    backfilling: d.backfilling,
    keyAttributes: [...spec.keyAttributes],
    baseAttributes: [...spec.baseAttributes],
    projection: d.projection,
    coverage,
    ...verdict,
  };
}

export function renderIndexStatus(r: IndexStatusReport): string {
  const c = r.coverage;
  const projection = r.projection.nonKeyAttributes
    ? `${r.projection.type} [${r.projection.nonKeyAttributes.join(', ')}]`
    : r.projection.type;
  const lines = [
    `index ${r.index} on ${r.table}: ${r.status}${r.backfilling ? ' (backfilling)' : ''}`,
    `  keys ${r.keyAttributes.join(', ')}; projection ${projection}`,
    `  items scanned ${c.scanned}; with ${r.baseAttributes.join(' and ')}: ${c.should}; ` +
      `of those carrying ${r.keyAttributes.join(' and ')}: ${c.carrying}; missing: ${c.missing}` +
      (c.extra ? `; carrying without the base attributes: ${c.extra}` : ''),
  ];
  for (const s of c.samples) lines.push(`  missing: ${JSON.stringify(s)}`);
  lines.push(
    r.ready
      ? `index status: READY: the app can read ${r.index} (deploy the 'switch' phase)`
      : `index status: NOT READY: ${r.reasons.join('; ')}`,
  );
  return lines.join('\n');
}
