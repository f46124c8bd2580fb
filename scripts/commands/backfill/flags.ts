// The backfill command's flags: their table (names, descriptions, parsers, defaults), what
// Commander hands the action, and the engine's options made from them. No I/O.
import { Option, type Command } from 'commander';
import {
  BACKFILL_MAX_BACKLOG,
  BACKFILL_MAX_LAG_SECONDS,
  BACKFILL_SEGMENTS,
  ENV,
  LOCAL_STATE_TABLE,
  SCAN_PAGE_SIZE,
} from '../../../lib/config/defaults.ts';
import { DEFAULT_PRICES } from '../../../lib/core/cost-estimate.ts';
import type { Planner } from '../../../lib/core/config/planner.ts';
import type { Key } from '../../../lib/core/types.ts';
import type { BackfillOptions } from '../../../lib/engine/backfill.ts';
import { migrationsToCheck, positiveInt } from '../../config.ts';

/** Parses a number option above (or, with `orEqual`, at least) `min`, with a specific error. */
function numberAbove(option: string, min: number, orEqual = false) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || (orEqual ? n < min : n <= min)) {
      const what = orEqual
        ? `a number >= ${min}`
        : min === 0
          ? 'a positive number'
          : `a number > ${min}`;
      throw new Error(`${option} must be ${what}, got "${value}"`);
    }
    return n;
  };
}
const positiveNumber = (option: string) => numberAbove(option, 0);
const nonNegativeNumber = (option: string) => numberAbove(option, 0, true);

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/**
 * The declared tables `--table` names: one migrated table of the config, or `all` of them.
 * Without --table: the config's first migrated table.
 */
export function tablesOf(
  value: string | undefined,
  planner: Pick<Planner, 'migratedTables'>,
): string[] {
  const migrated = planner.migratedTables;
  if (!migrated.length)
    throw new Error('the config declares no migration: there is nothing to backfill');
  if (value === undefined) return [migrated[0] as string];
  if (value === 'all') return [...migrated];
  if (migrated.includes(value)) return [value];
  throw new Error(
    `--table must be a migrated table of the config or all (${[...migrated, 'all'].join(', ')}), got "${value}"`,
  );
}

// [flags, description, parser, default] — the contract's names (docs/DESIGN.md) plus operability flags.
const BACKFILL_FLAGS: [string, string, ((v: string, prev: string[]) => unknown)?, unknown?][] = [
  [
    '--table <table>',
    "declared table to backfill, or 'all' its migrated tables (default: the config's first migrated table)",
  ],
  ['--segments <n>', 'Parallel Scan segments', positiveInt('--segments'), BACKFILL_SEGMENTS],
  ['--page-size <n>', 'items examined per Scan page', positiveInt('--page-size'), SCAN_PAGE_SIZE],
  [
    '--rate <n>',
    "items enqueued per second at most, or 'unlimited' (the default)",
    // Commander turns a parsed null into '': the word itself stands for "no limit".
    (v: string) => (v === 'unlimited' ? v : positiveNumber('--rate')(v)),
  ],
  ['--dry-run', 'count, show sample diffs and a cost estimate; enqueue nothing', undefined, false],
  ['--samples <n>', 'sample before → after diffs of --dry-run', positiveInt('--samples'), 5],
  ['--resume', 'continue the unfinished run from its checkpoints', undefined, false],
  ['--restart', 'abandon the unfinished run and scan from the start', undefined, false],
  [
    '--limit <n>',
    'stop after this many items were enqueued (the run stays resumable)',
    positiveInt('--limit'),
  ],
  ['--user <id>', 'only this partition key (repeatable; Query, no run kept)', collect],
  [
    '--keys <file>',
    'repair exactly these items: JSON lines of keys (BatchGet; missing keys reported)',
  ],
  [
    '--distributed',
    "enqueue one scan-segment task per segment: the workers scan (at --rate, shared by the segments); follows the tasks' checkpoints until the scan is done",
    undefined,
    false,
  ],
  ['--detach', '--distributed: return once the tasks are enqueued', undefined, false],
  [
    '--json [file]',
    'the summary as JSON: on stdout (no FILE, or -; the progress goes to stderr), or written to FILE',
  ],
  ['--no-filter', 'enqueue every item (default: leave out items the planner finds settled)'],
  [
    '--contract',
    'also run the opt-in migrations (contract steps, e.g. removing an attribute): only once the expand phase is done and no app version reads what they remove',
    undefined,
    false,
  ],
  [
    '--max-backlog <n>',
    'pause while the work queue holds more messages',
    positiveInt('--max-backlog'),
    BACKFILL_MAX_BACKLOG,
  ],
  [
    '--max-lag-seconds <s>',
    'pause while the stream consumer lags more',
    positiveNumber('--max-lag-seconds'),
    BACKFILL_MAX_LAG_SECONDS,
  ],
  [
    '--no-wait-for-consumer',
    'do not wait for a running, caught-up stream consumer (unsafe: warns)',
  ],
  [
    '--no-canary',
    `do not prove that the stream consumer reads the stream with a canary item (${ENV.canary}=off does the same)`,
  ],
  [
    '--consumer-function <name>',
    'AWS: the stream consumer function (name or ARN) whose mapping must be Enabled',
  ],
  ['--skip-preflight', 'start even when preflight finds a failure', undefined, false],
  [
    '--one-shot',
    'accept a migrated table without a NEW_AND_OLD_IMAGES stream: one pass, later application writes to it are not migrated (warns)',
    undefined,
    false,
  ],
  [
    '--price-read-per-million <usd>',
    `on-demand read price (default ${DEFAULT_PRICES.readPerMillion})`,
    nonNegativeNumber('--price-read-per-million'),
  ],
  [
    '--price-write-per-million <usd>',
    `on-demand write price (default ${DEFAULT_PRICES.writePerMillion})`,
    nonNegativeNumber('--price-write-per-million'),
  ],
  [
    '--poll-interval-ms <ms>',
    'how often the pause flag, queue depth and consumer are read',
    positiveInt('--poll-interval-ms'),
    1_000,
  ],
  [
    '--progress-interval <s>',
    'seconds between plain progress lines when not on a TTY',
    positiveNumber('--progress-interval'),
    5,
  ],
];

/** Adds the backfill's own flags to its command. */
export function addBackfillFlags(cmd: Command): Command {
  for (const [flags, description, parse, fallback] of BACKFILL_FLAGS) {
    const opt = new Option(flags, description);
    if (parse) opt.argParser(parse as (v: string, prev: unknown) => unknown);
    if (fallback !== undefined) opt.default(fallback);
    cmd.addOption(opt);
  }
  return cmd;
}

export function addStateOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        '--state-table <name>',
        'DynamoDB table of run records, checkpoints and consumer heartbeats (created if missing locally)',
      )
        .env(ENV.stateTable)
        .default(LOCAL_STATE_TABLE),
    )
    .option(
      '--checkpoint-file <file>',
      'keep the run state in this local JSON file instead of the state table',
    );
}

/** What Commander hands the action (flags above, plus the shared options). */
export interface BackfillCliOptions extends Record<string, unknown> {
  table: string;
  stateTable: string;
  checkpointFile?: string;
  segments: number;
  pageSize: number;
  rate?: number | 'unlimited';
  dryRun: boolean;
  samples: number;
  resume: boolean;
  restart: boolean;
  limit?: number;
  user?: string[];
  keys?: string;
  distributed: boolean;
  detach: boolean;
  json?: string | boolean;
  filter: boolean;
  contract: boolean;
  /** A stack's output arrives as text (set after parsing); a flag or variable is parsed. */
  migrations?: readonly string[] | string;
  maxBacklog: number;
  maxLagSeconds: number;
  waitForConsumer: boolean;
  canary: boolean;
  consumerFunction?: string;
  skipPreflight: boolean;
  oneShot: boolean;
  priceReadPerMillion?: number;
  priceWritePerMillion?: number;
  pollIntervalMs: number;
  progressInterval: number;
}

/** The engine's options for one table, from the flags (no I/O). */
export function engineOptions(
  opts: BackfillCliOptions,
  planner: Planner,
  table: string,
  tableName: string,
  keys: Key[] | undefined,
  searchEnabled: boolean,
): BackfillOptions {
  return {
    table,
    tableName,
    segments: opts.segments,
    pageSize: opts.pageSize,
    ...(typeof opts.rate === 'number' && { rate: opts.rate }),
    dryRun: opts.dryRun,
    samples: opts.samples,
    resume: opts.resume,
    restart: opts.restart,
    ...(opts.limit !== undefined && { limit: opts.limit }),
    ...(opts.user && { users: opts.user }),
    ...(keys && { keys }),
    distributed: opts.distributed,
    filter: opts.filter,
    migrations: migrationsToCheck(planner, opts.migrations, opts.contract),
    searchEnabled,
    maxBacklog: opts.maxBacklog,
    maxLagMs: opts.maxLagSeconds * 1000,
    waitForConsumer: opts.waitForConsumer,
    pollMs: opts.pollIntervalMs,
    prices: {
      readPerMillion: opts.priceReadPerMillion ?? DEFAULT_PRICES.readPerMillion,
      writePerMillion: opts.priceWritePerMillion ?? DEFAULT_PRICES.writePerMillion,
      source:
        opts.priceReadPerMillion !== undefined || opts.priceWritePerMillion !== undefined
          ? 'prices from --price-read-per-million / --price-write-per-million'
          : DEFAULT_PRICES.source,
    },
    recordOptions: {
      rate: typeof opts.rate === 'number' ? opts.rate : null,
      limit: opts.limit ?? null,
      filter: opts.filter,
      contract: opts.contract,
      distributed: opts.distributed,
      maxBacklog: opts.maxBacklog,
      maxLagSeconds: opts.maxLagSeconds,
    },
  };
}
