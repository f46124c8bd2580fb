// `streamfill backfill`: the one-shot historic pass (scanner → work queue → worker), plus
// `backfill pause|resume`. Wires options to runBackfill and renders its progress.
import { stat, readFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { dirname, resolve } from 'node:path';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import cliProgress from 'cli-progress';
import { Option, type Command } from 'commander';
import {
  DynamoStateStore,
  ensureStateTable,
  FileStateStore,
  type BackfillStateStore,
} from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import {
  eventSourceMappingProbe,
  heartbeatProbe,
  isLocalDynamo,
  type ConsumerProbe,
} from '../../lib/adapters/consumer-probe.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { tableExists } from '../../lib/adapters/tables.ts';
import { describeTableFacts } from '../../lib/adapters/backfill-reads.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { UserTypeLookup } from '../../lib/adapters/user-type-lookup.ts';
import {
  BACKFILL_MAX_BACKLOG,
  BACKFILL_MAX_LAG_SECONDS,
  BACKFILL_SEGMENTS,
  CONSUMER_HEARTBEAT,
  consumerHeartbeatId,
  ENV,
  SCAN_PAGE_SIZE,
  SCANNER_MAX_ATTEMPTS,
  LOCAL_STATE_TABLE,
} from '../../lib/config/defaults.ts';
import {
  continuityBreak,
  describeLimitChange,
  RunOwnershipError,
  RunStateError,
  type RunLimits,
} from '../../lib/core/backfill-run.ts';
import { DEFAULT_PRICES, describeCost } from '../../lib/core/cost-estimate.ts';
import { formatKey } from '../../lib/core/key-format.ts';
import {
  MIGRATED_TABLES,
  type MigratedTable,
  type MigrationName,
} from '../../lib/core/migrations/index.ts';
import { formatWait } from '../../lib/core/throttle.ts';
import { KEY_ATTRIBUTES, type Key } from '../../lib/core/types.ts';
import {
  BackfillOptionError,
  runBackfill,
  type BackfillOptions,
  type BackfillProgress,
  type BackfillSummary,
} from '../../lib/engine/backfill.ts';
import {
  keepsRun,
  minDistributedRate,
  validateBackfillOptions,
} from '../../lib/engine/backfill-options.ts';
import { planRun } from '../../lib/engine/backfill-run-record.ts';
import { checkLivePaths, oneShotWarning } from '../../lib/engine/live-path.ts';
import { runPreflight } from '../../lib/engine/preflight.ts';
import {
  configFrom,
  migrationsOption,
  migrationsToCheck,
  positiveInt,
  requireNamedTable,
  settingName,
  withSharedOptions,
  type Config,
} from '../config.ts';
import { preflightLambda, renderFindings } from './preflight.ts';
import { jsonOutput, jsonTarget } from '../output.ts';

const count = new Intl.NumberFormat('en-US');

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

/** The tables `--table` names: one migrated table or all of them. */
export function tablesOf(value: string): MigratedTable[] {
  if (value === 'all') return [...MIGRATED_TABLES];
  if ((MIGRATED_TABLES as readonly string[]).includes(value)) return [value as MigratedTable];
  throw new Error(
    `--table must be one of ${[...MIGRATED_TABLES, 'all'].join(', ')}, got "${value}"`,
  );
}

/**
 * Reads `--keys FILE`: one JSON object per line with exactly the table's key attributes as
 * non-empty strings. Every bad line is named with its number.
 */
export async function readKeysFile(path: string, table: MigratedTable): Promise<Key[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(
      `--keys ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const names = KEY_ATTRIBUTES[table] as readonly string[];
  const keys: Key[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    const where = `--keys ${path} line ${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      problems.push(`${where}: not JSON`);
      return;
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      problems.push(
        `${where}: must be a JSON object like ${JSON.stringify(Object.fromEntries(names.map((n) => [n, '…'])))}`,
      );
      return;
    }
    const o = v as Record<string, unknown>;
    const extra = Object.keys(o).filter((k) => !names.includes(k));
    const bad = names.filter((n) => typeof o[n] !== 'string' || o[n] === '');
    if (extra.length || bad.length) {
      problems.push(
        `${where}: ${table} keys are ${names.join(', ')} (non-empty strings)` +
          `${bad.length ? `; missing or not a string: ${bad.join(', ')}` : ''}${extra.length ? `; not a key attribute: ${extra.join(', ')}` : ''}`,
      );
      return;
    }
    keys.push(Object.fromEntries(names.map((n) => [n, o[n] as string])));
  });
  if (problems.length)
    throw new Error(
      problems.slice(0, 10).join('\n') +
        (problems.length > 10 ? `\n… ${problems.length - 10} more` : ''),
    );
  if (!keys.length) throw new Error(`--keys ${path}: the file names no key`);
  return keys;
}

/** The work queue and DLQ URLs (both created when missing on a local endpoint). */
async function queueUrlsOf(
  clients: Clients,
  config: Config,
  local: boolean,
): Promise<{ work: string; dlq: string }> {
  if (local) return ensureQueues(clients.sqs, config);
  const urlOf = async (name: string, attr: string, what: string): Promise<string> => {
    try {
      const r = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      if (r.QueueUrl) return r.QueueUrl;
    } catch (e) {
      throw new Error(
        `${what} "${name}" not found (set ${settingName(attr)}): ${(e as Error).message}`,
      );
    }
    throw new Error(`${what} "${name}" has no URL (set ${settingName(attr)})`);
  };
  return {
    work: await urlOf(config.queueName, 'queueName', 'work queue'),
    dlq: await urlOf(config.dlqName, 'dlqName', 'dead-letter queue'),
  };
}

/** The state store the options name, the table created when missing on a local endpoint. */
async function stateStoreOf(
  clients: Clients,
  opts: { stateTable: string; checkpointFile?: string },
  local: boolean,
): Promise<BackfillStateStore> {
  if (opts.checkpointFile) return new FileStateStore(opts.checkpointFile);
  if (local) await ensureStateTable(clients.dynamodb, opts.stateTable);
  else
    await requireNamedTable(clients.dynamodb, opts.stateTable, `--state-table / ${ENV.stateTable}`);
  return new DynamoStateStore(clients.doc, opts.stateTable);
}

/**
 * The state store as it is, for the checks before any side effect: a missing local state table
 * is not created here (it holds no run, so it reads as empty).
 */
async function existingStateStore(
  clients: Clients,
  opts: { stateTable: string; checkpointFile?: string },
  local: boolean,
): Promise<Pick<BackfillStateStore, 'getRun' | 'getCheckpoints'>> {
  if (opts.checkpointFile) return new FileStateStore(opts.checkpointFile);
  if (local && !(await tableExists(clients.dynamodb, opts.stateTable))) {
    return { getRun: async () => undefined, getCheckpoints: async () => [] };
  }
  return stateStoreOf(clients, opts, local);
}

function addStateOptions(cmd: Command): Command {
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

/** The limits part of the progress line: what is in force, and the last change with its author. */
function renderLimits(p: BackfillProgress): string {
  const rate = p.limits.rate === null ? 'no rate limit' : `rate ≤ ${count.format(p.limits.rate)}/s`;
  return p.limitsChange ? `${rate} (${p.limitsChange})` : rate;
}

function renderLine(p: BackfillProgress): string {
  const pct = p.fraction === undefined ? '?' : `${(p.fraction * 100).toFixed(1)} %`;
  return (
    `${pct} | scanned ${count.format(p.scanned)} | enqueued ${count.format(p.enqueued)} | skipped ${count.format(p.skipped)} | ` +
    (p.unsendable ? `parked ${count.format(p.unsendable)} | ` : '') +
    `${count.format(Math.round(p.ratePerSecond))} items/s | segments ${p.segmentsDone}/${p.totalSegments} | ${p.etaText} | ` +
    `${renderLimits(p)} | ` +
    (p.waiting
      ? `${p.waiting}${p.waitingLanes > 1 ? ` (${p.waitingLanes} lanes waiting)` : ''}`
      : 'not waiting')
  );
}

/**
 * A progress bar on a TTY; elsewhere (CI, pipes) a plain line every `intervalMs`. Also the
 * demo's view of its backfill.
 */
export function progressView(
  tty: boolean,
  intervalMs: number,
): { update: (p: BackfillProgress) => void; stop: () => void } {
  if (tty) {
    const bar = new cliProgress.SingleBar(
      {
        format:
          '{bar} {pct} | scanned {scanned} | enqueued {enqueued} | skipped {skipped} | {rate} items/s | {eta}\n  ↳ {wait}',
        hideCursor: true,
        barsize: 24,
        etaBuffer: 1,
        fps: 5,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update: (p) => {
        const payload = {
          pct: p.fraction === undefined ? '  ? %' : `${(p.fraction * 100).toFixed(1)} %`,
          scanned: count.format(p.scanned),
          enqueued: count.format(p.enqueued),
          skipped: count.format(p.skipped),
          rate: count.format(Math.round(p.ratePerSecond)),
          eta: `${p.etaText} · segments ${p.segmentsDone}/${p.totalSegments}`,
          wait:
            (p.waiting
              ? `${p.waiting}${p.waitingLanes > 1 ? ` (${p.waitingLanes} lanes waiting)` : ''}`
              : 'not waiting') + ` · ${renderLimits(p)}`,
        };
        const value = Math.round((p.fraction ?? 0) * 1000);
        if (!started) {
          bar.start(1000, value, payload);
          started = true;
        } else bar.update(value, payload);
      },
      stop: () => {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  let lastWait: string | undefined;
  let lastChange: string | undefined;
  return {
    update: (p) => {
      const t = Date.now();
      // Always show a new wait reason or limits change at once; otherwise a line every interval.
      if (
        t - last >= intervalMs ||
        (p.waiting && p.waiting !== lastWait) ||
        p.limitsChange !== lastChange ||
        p.phase === 'done'
      ) {
        last = t;
        lastWait = p.waiting;
        lastChange = p.limitsChange;
        console.log(`backfill: ${renderLine(p)}`);
      }
    },
    stop: () => {},
  };
}

/** The backfill's closing lines: counts, rates, waits, problems and the cost estimate. */
export function renderSummary(s: BackfillSummary): string {
  const lines: string[] = [];
  const head = s.dryRun ? 'dry run' : s.mode === 'distributed' ? 'distributed' : s.outcome;
  lines.push(
    `backfill ${s.tableName} (${s.table}, ${head}${s.runId ? `, run ${s.runId}` : ''}): scanned ${count.format(s.scanned)}, ` +
      `${s.dryRun ? 'would enqueue' : 'enqueued'} ${count.format(s.dryRun ? s.scanned - s.skipped : s.enqueued)} in ${count.format(s.messages)} messages, ` +
      `skipped ${count.format(s.skipped)} (already migrated) in ${formatWait(s.durationMs)} — ${count.format(Math.round(s.scannedPerSecond))} scanned/s, ${count.format(Math.round(s.enqueuedPerSecond))} enqueued/s`,
  );
  lines.push(`  filter: ${s.filter}`);
  if (s.dryRunCounts) {
    const d = s.dryRunCounts;
    lines.push(
      `  plan: ${count.format(d.wouldWrite)} would be written, ${count.format(d.searchOnly)} search-only, ${count.format(d.unchanged)} need nothing, ` +
        `${count.format(d.expired)} expired (left to TTL), ${count.format(d.malformed)} malformed`,
    );
    if (s.samples?.length) {
      lines.push(
        `  samples (before → after; user_type ${s.userTypeSource === 'lookup' ? 'from a real lookup in the user table' : 'shown as "(looked up at write time)"'}):`,
      );
      for (const x of s.samples) {
        lines.push(`    ${formatKey(x.key)}`);
        for (const c of x.changes) {
          lines.push(
            `      ${c.attribute}: ${c.before === undefined ? '(absent)' : JSON.stringify(c.before)} → ${c.after === undefined ? '(removed)' : JSON.stringify(c.after)}`,
          );
        }
        if (x.search) lines.push(`      search doc: ${JSON.stringify(x.search)}`);
      }
    }
  }
  const waits = Object.entries(s.waits);
  if (waits.length) {
    lines.push(
      `  waits: ${waits.map(([k, w]) => `${k} ×${w.count} (${formatWait(w.laneMs)} lane time; last: ${w.last})`).join('; ')}`,
    );
  }
  if (s.missingKeys?.length) {
    lines.push(
      `  ${s.missingKeys.length} key(s) not in the table: ${s.missingKeys.slice(0, 10).map(formatKey).join('; ')}${s.missingKeys.length > 10 ? ' …' : ''}`,
    );
  }
  if (s.unsendable)
    lines.push(
      `  ${s.unsendable} item(s) could not be carried to the worker (malformed or too large for a message): ` +
        (s.parked === s.unsendable
          ? 'each parked in the DLQ with its reason (see problems)'
          : `${s.parked} parked in the DLQ, the rest only listed (see problems)`),
    );
  for (const p of s.problems) lines.push(`  problem: ${p}`);
  lines.push(`  cost estimate: ${describeCost(s.cost)}`);
  for (const a of s.cost.assumptions) lines.push(`    (${a})`);
  return lines.join('\n');
}

const HELP_AFTER = `
Start order (docs/DESIGN.md, "Why it converges", point 1): the stream consumer must be running and caught
up before the first page is read. Locally (AWS_ENDPOINT_URL_DYNAMODB on localhost) backfill
reads the heartbeat \`streamfill run\` writes to the state table; on AWS the Lambda event
source mapping on the table's stream must be Enabled and its IteratorAge within
--max-lag-seconds. Until then it waits and says why.

Filtering: items the registry says are migrated are left out by a FilterExpression — except
when the search-keyword migration is on (a search endpoint is configured): an item migrated in
DynamoDB may still lack its keywords in OpenSearch, so every session is enqueued.

Contract: --contract adds the opt-in contract steps to what is scanned for and carried
(tag-usage-mode-contract: chat_app_id projected, expanded tags that still have it enqueued); the
worker runs a contract step only for messages that name it. Run it once \`verify --tags\` shows
the expand phase done; \`verify --tags --contract\` then shows the contract phase.

Runs: checkpoints per segment after SQS accepted the page's messages. A new run refuses to
start over an unfinished one (--resume or --restart); a run idle longer than the stream's
24 h retention cannot be resumed. SIGINT stops after the current pages (exit 130).
--user and --keys are targeted repairs and keep no run. --dry-run reads, plans and estimates:
nothing is enqueued and no checkpoint is written; its samples look user_type up for real.
Every option and combination, the --keys file and the run state are checked before anything
is created or sent.

Continuity: the filter is trusted only once a full pass without it finished that started after
the stream consumer began reading without a break (its heartbeat says since when); the first
pass under a consumer, the first after a stop longer than the stream's 24 h retention, and any
pass without a heartbeat run without the filter by themselves and say why.

Limits of a running scan: \`streamfill backfill set --rate N|unlimited --max-backlog N
--max-lag-seconds S [--by NAME]\` (through the state table); the progress line shows the change
and who made it, \`streamfill status\` the limits in force.

--distributed: the workers scan (--rate shared by the segments); this command follows their
checkpoints until the scan is done (--detach: return at once).

Exit status: 0 done; 1 refused or failed; 3 done, but items that could not be carried to the
worker (malformed, too large for a message) were parked in the DLQ with their reason;
130 interrupted (checkpoints saved).

Cost: on-demand prices default to ${DEFAULT_PRICES.source}:
$${DEFAULT_PRICES.readPerMillion} per million read units, $${DEFAULT_PRICES.writePerMillion} per million write units.

Examples:
  streamfill backfill --dry-run
  streamfill backfill --rate 500 --json backfill.json   # or --json alone: on stdout
  streamfill backfill --resume
  streamfill backfill pause      # keeps the position; \`backfill resume\` continues
  streamfill backfill set --rate 300 --by ana
`;

export function registerBackfillCommand(program: Command): void {
  const cmd = program
    .command('backfill')
    .description(
      'Scan the historic items and enqueue them for the backfill worker (one-shot, resumable, throttled).',
    );
  // [flags, description, parser, default] — the contract's names (docs/DESIGN.md) plus operability flags.
  const options: [string, string, ((v: string, prev: string[]) => unknown)?, unknown?][] = [
    [
      '--table <table>',
      `table to backfill: ${[...MIGRATED_TABLES, 'all'].join(', ')}`,
      undefined,
      'session',
    ],
    ['--segments <n>', 'Parallel Scan segments', positiveInt('--segments'), BACKFILL_SEGMENTS],
    ['--page-size <n>', 'items examined per Scan page', positiveInt('--page-size'), SCAN_PAGE_SIZE],
    [
      '--rate <n>',
      "items enqueued per second at most, or 'unlimited' (the default)",
      // Commander turns a parsed null into '': the word itself stands for "no limit".
      (v: string) => (v === 'unlimited' ? v : positiveNumber('--rate')(v)),
    ],
    [
      '--dry-run',
      'count, show sample diffs and a cost estimate; enqueue nothing',
      undefined,
      false,
    ],
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
    ['--no-filter', 'enqueue every item, not only those the registry says are pending'],
    [
      '--contract',
      'also run the opt-in contract steps (tag-usage-mode-contract removes chat_app_id): only once the expand phase is done and no app version reads chat_app_id',
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
  for (const [flags, description, parse, fallback] of options) {
    const opt = new Option(flags, description);
    if (parse) opt.argParser(parse as (v: string, prev: unknown) => unknown);
    if (fallback !== undefined) opt.default(fallback);
    cmd.addOption(opt);
  }
  // With --stack the deployed set: the scan carries what the deployed worker plans, no more.
  migrationsOption(cmd, 'to scan for');
  const backfill = withSharedOptions(addStateOptions(cmd.addHelpText('after', HELP_AFTER))).action(
    async (opts) => {
      process.exitCode = await backfillAction(opts);
    },
  );

  registerSetCommand(backfill);

  // The parent parses --table, the table names and the state options wherever they appear
  // (also after `pause`), so the subcommands read them from it.
  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    backfill
      .command(name)
      .description(
        (paused
          ? "Pause the table's running backfill (it keeps its position and waits, saying so)."
          : "Let the table's paused backfill continue.") +
          ' Takes the backfill options --table, --session-table/--tag-table, --state-table and --checkpoint-file.',
      )
      .action(async () => {
        const opts = backfill.opts();
        if (opts.table === 'all')
          throw new Error('--table all: pause or resume one table at a time');
        const [table] = tablesOf(opts.table) as [MigratedTable];
        const config = configFrom(opts);
        const clients = makeClients();
        try {
          const store = await stateStoreOf(clients, opts as BackfillCliOptions, isLocalDynamo());
          const tableName = config.tables[table];
          const run = await store.setPauseRequested(tableName, paused);
          if (jsonTarget(opts.json)?.kind === 'stdout') {
            console.log(
              JSON.stringify({ table: tableName, runId: run.runId, pauseRequested: paused }),
            );
            return;
          }
          console.log(
            paused
              ? `backfill of ${tableName}: pause requested for run ${run.runId}; the scanner stops reading after its current pages and keeps its position (\`streamfill backfill resume\` continues)`
              : `backfill of ${tableName}: run ${run.runId} continues`,
          );
        } finally {
          destroyClients(clients);
        }
      });
  }
}

/** `user@host`: who changed a run's limits, unless `--by` says otherwise. */
function operatorName(): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep $USER
  }
  return `${user}@${hostname()}`;
}

/**
 * `backfill set --rate N --max-backlog N --max-lag-seconds N [--by NAME]`: changes the limits of
 * the table's running backfill through the run record; the scanner (or the distributed segment
 * tasks) picks them up at its next look (--poll-interval-ms, 1 s by default).
 */
function registerSetCommand(backfill: Command): void {
  backfill
    .command('set')
    .description(
      "Change the limits of the table's running backfill without stopping it: --rate (items/s, or 'unlimited'), " +
        '--max-backlog, --max-lag-seconds. Takes the backfill options --table, --session-table/--tag-table, ' +
        '--state-table and --checkpoint-file; the scan shows the change and its author on its progress line.',
    )
    .option('--by <name>', 'who makes the change, shown on the progress line (default: user@host)')
    .action(async (own: { by?: string }) => {
      // The parent parses --rate, --max-backlog and --max-lag-seconds wherever they appear; only
      // those given on the command line change (the others keep the run's value, not a default).
      const opts = backfill.opts();
      const given = (name: string): boolean => backfill.getOptionValueSource(name) === 'cli';
      const rate = given('rate')
        ? opts.rate === 'unlimited'
          ? null
          : (opts.rate as number)
        : undefined;
      const changes: Partial<RunLimits> = {
        ...(rate !== undefined && { rate }),
        ...(given('maxBacklog') && { maxBacklog: opts.maxBacklog as number }),
        ...(given('maxLagSeconds') && { maxLagSeconds: opts.maxLagSeconds as number }),
      };
      if (!Object.keys(changes).length) {
        throw new Error(
          'backfill set: give at least one of --rate, --max-backlog, --max-lag-seconds',
        );
      }
      if (opts.table === 'all') throw new Error('--table all: change one table at a time');
      const by = own.by ?? operatorName();
      if (!by.trim()) throw new Error('--by must not be empty');
      const [table] = tablesOf(opts.table) as [MigratedTable];
      const config = configFrom(opts);
      const clients = makeClients();
      try {
        const tableName = config.tables[table];
        const store = await existingStateStore(
          clients,
          opts as BackfillCliOptions,
          isLocalDynamo(),
        );
        const run = await store.getRun(tableName);
        if (!run || (run.status !== 'running' && run.status !== 'paused')) {
          throw new RunStateError(`backfill of ${tableName}: no unfinished run to change`);
        }
        const before: RunLimits = run.limits ?? {
          rate: typeof run.options.rate === 'number' ? run.options.rate : null,
          ...(typeof run.options.maxBacklog === 'number' && { maxBacklog: run.options.maxBacklog }),
          ...(typeof run.options.maxLagSeconds === 'number' && {
            maxLagSeconds: run.options.maxLagSeconds,
          }),
        };
        const after: RunLimits = { ...before, ...changes, changedBy: by, changedAtMs: Date.now() };
        const segments = run.totalSegments;
        const floor = minDistributedRate(segments);
        if (run.options.mode === 'distributed' && after.rate !== null && after.rate < floor) {
          throw new BackfillOptionError(
            `--rate ${after.rate} is too low for the distributed run over ${segments} segments: at least ${floor.toPrecision(3)} items/s`,
          );
        }
        const store2 = await stateStoreOf(clients, opts as BackfillCliOptions, isLocalDynamo());
        await store2.setLimits(tableName, after);
        console.log(
          `backfill of ${tableName}, run ${run.runId}: ${describeLimitChange(before, after)}`,
        );
      } catch (e) {
        if (e instanceof RunStateError || e instanceof BackfillOptionError) {
          console.error(`streamfill: ${e.message}`);
          process.exitCode = 1;
          return;
        }
        throw e;
      } finally {
        destroyClients(clients);
      }
    });
}

/** What Commander hands the action (flags above, plus the shared options). */
interface BackfillCliOptions extends Record<string, unknown> {
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
  migrations?: readonly MigrationName[] | string;
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

/** Exit status of a pass in which some items could not be carried (each parked with its reason). */
export const EXIT_ITEMS_PARKED = 3;

/** The engine's options for one table, from the flags (no I/O). */
function engineOptions(
  opts: BackfillCliOptions,
  table: MigratedTable,
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
    migrations: migrationsToCheck(opts.migrations, opts.contract),
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

/**
 * Everything that can be refused without touching a service: flag values and combinations, the
 * --keys file, where --json goes. Returns the keys read.
 */
async function checkFlags(
  opts: BackfillCliOptions,
  tables: MigratedTable[],
): Promise<Key[] | undefined> {
  if (tables.length > 1 && (opts.user || opts.keys)) {
    throw new BackfillOptionError(
      '--user and --keys name items of one table: pass --table session or --table tag',
    );
  }
  if (opts.distributed && opts.checkpointFile) {
    throw new BackfillOptionError(
      '--distributed cannot keep its run in --checkpoint-file: the workers read and write the run through the state table (--state-table)',
    );
  }
  const canaryEnv = process.env[ENV.canary];
  if (canaryEnv !== undefined && canaryEnv !== 'on' && canaryEnv !== 'off') {
    throw new BackfillOptionError(`${ENV.canary} must be on or off, got "${canaryEnv}"`);
  }
  if (opts.detach && !opts.distributed) {
    throw new BackfillOptionError('--detach applies to --distributed only');
  }
  const probe = engineOptions(opts, tables[0] as MigratedTable, '', undefined, false);
  // Mode checks see --keys as given; the file itself is read (and checked) just after.
  validateBackfillOptions(
    { ...probe, ...(opts.keys && { keys: [{}] }) },
    opts.segments,
    opts.pageSize,
  );
  const jsonFile = jsonTarget(opts.json);
  if (jsonFile?.kind === 'file') {
    const dir = dirname(resolve(jsonFile.path));
    const isDir = await stat(dir).then(
      (st) => st.isDirectory(),
      () => false,
    );
    if (!isDir)
      throw new BackfillOptionError(`--json ${jsonFile.path}: directory ${dir} does not exist`);
  }
  return opts.keys ? readKeysFile(opts.keys, tables[0] as MigratedTable) : undefined;
}

async function backfillAction(opts: BackfillCliOptions): Promise<number> {
  const config = configFrom(opts);
  const tables = tablesOf(opts.table);
  let keys: Key[] | undefined;
  try {
    keys = await checkFlags(opts, tables);
  } catch (e) {
    console.error(`streamfill: ${(e as Error).message}`);
    return 1;
  }
  const local = isLocalDynamo();
  // Low SDK retries on the scanner's reads: the throttler must see the throttling.
  const clients = makeClients({
    searchEndpoint: config.searchEndpoint,
    maxAttempts: SCANNER_MAX_ATTEMPTS,
  });
  const lambda = preflightLambda();
  const cloudwatch = local
    ? undefined
    : new CloudWatchClient({
        region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      });
  const controller = new AbortController();
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(
      '\nbackfill: stopping after the current pages (checkpoints are saved); Ctrl-C again to quit at once',
    );
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const summaries: BackfillSummary[] = [];
  const json = jsonOutput(jsonTarget(opts.json));
  try {
    // Reads only: the tables exist and the run state allows the pass. Nothing is created, no
    // preflight runs, for a command that is going to be refused.
    for (const table of tables) {
      const tableName = config.tables[table];
      await requireNamedTable(clients.dynamodb, tableName, settingName(`${table}Table`));
    }
    // Every migrated table needs its live path (a stream the consumer reads), or `--one-shot`.
    const livePaths = await checkLivePaths(
      clients.dynamodb,
      tables.map((table) => ({ table, tableName: config.tables[table] })),
    );
    const withoutLivePath = livePaths.filter((l) => !l.ok);
    if (withoutLivePath.length && !opts.oneShot) {
      for (const l of withoutLivePath) console.error(`backfill: ${l.problem}`);
      if (!opts.dryRun) {
        console.error(
          'backfill: refused: a table without a live path never converges while the app writes; ' +
            'enable its stream, or pass --one-shot to migrate it once',
        );
        return 1;
      }
      console.error('backfill: a real run would stop here (dry run continues)');
    }
    const oneShot = opts.oneShot ? withoutLivePath.map(oneShotWarning) : [];
    for (const w of oneShot) console.error(`backfill: WARNING ${w}`);
    const searchEnabled = Boolean(clients.search);
    if (keepsRun(engineOptions(opts, 'session', '', keys, searchEnabled))) {
      const existing = await existingStateStore(clients, opts, local);
      for (const table of tables) {
        await planRun(existing, config.tables[table], opts, Date.now());
      }
    }
    const state = await stateStoreOf(clients, opts, local);
    const queues = await queueUrlsOf(clients, config, local);
    if (tables.includes('session')) {
      if (searchEnabled) {
        console.log(
          'backfill: the search-keyword migration is on: sessions are not filtered (an item migrated in DynamoDB may still lack its keywords in OpenSearch)',
        );
      }
      const pf = await runPreflight({
        table: config.tables.session,
        dynamodb: clients.dynamodb,
        ...lambda,
        ...(clients.search && { search: { client: clients.search, index: config.searchIndex } }),
        ...(typeof opts.rate === 'number' && { rate: opts.rate }),
        ...(opts.consumerFunction && { consumerFunction: opts.consumerFunction }),
      });
      const shown = pf.findings.filter((f) => f.level !== 'ok');
      if (shown.length) console.log(renderFindings(shown));
      if (pf.failed) {
        if (opts.dryRun)
          console.log('preflight failed: a real run would stop here (dry run continues)');
        else if (opts.skipPreflight)
          console.log('WARNING: --skip-preflight: starting despite the failures above');
        else {
          console.error(
            'backfill: preflight failed; fix the findings above, or pass --skip-preflight',
          );
          return 1;
        }
      }
    }
    for (const table of tables) {
      if (controller.signal.aborted) break;
      const tableName = config.tables[table];
      let consumer: ConsumerProbe | undefined;
      // A table with a live path has a stream consumer to wait for; a --one-shot table none.
      if (livePaths.some((l) => l.table === table && l.ok)) {
        if (local) {
          consumer = heartbeatProbe(state, consumerHeartbeatId(tableName), {
            staleMs: CONSUMER_HEARTBEAT.staleAfterMs,
          });
        } else {
          const { streamArn } = await describeTableFacts(clients.dynamodb, tableName);
          if (!streamArn)
            throw new Error(
              `table ${tableName} has no stream: there is no consumer to wait for (see \`streamfill preflight\`)`,
            );
          if (!lambda.lambda || !cloudwatch)
            throw new Error(
              `cannot check the stream consumer: ${lambda.lambdaUnavailable ?? 'no Lambda client'}`,
            );
          consumer = eventSourceMappingProbe({
            lambda: lambda.lambda,
            cloudwatch,
            streamArn,
            ...(opts.consumerFunction && { functionName: opts.consumerFunction }),
            maxLagMs: opts.maxLagSeconds * 1000,
          });
        }
      }
      const view = progressView(
        Boolean(process.stdout.isTTY) && !process.env.CI,
        opts.progressInterval * 1000,
      );
      try {
        const summary = await runBackfill(
          engineOptions(opts, table, tableName, keys, searchEnabled),
          {
            doc: clients.doc,
            dynamodb: clients.dynamodb,
            sqs: clients.sqs,
            queueUrl: queues.work,
            state,
            deadLetters: new DeadLetters(clients.sqs, queues.dlq),
            // The consumer's continuity, from the heartbeat it keeps in the state store.
            continuity: async (lastRun) =>
              continuityBreak(
                await state.getHeartbeat(consumerHeartbeatId(tableName)),
                lastRun,
                Date.now(),
              ),
            followDistributed: !opts.detach,
            ...(consumer && { consumer }),
            ...(consumer &&
              opts.canary &&
              process.env[ENV.canary] !== 'off' && {
                canary: {
                  doc: clients.doc,
                  table,
                  tableName,
                  state,
                  hint: local
                    ? `is \`streamfill run\` running on the state table ${opts.stateTable}? (--no-canary to skip)`
                    : `a consumer deployed before canaries cannot record it: redeploy the stack, or pass --no-canary`,
                },
              }),
            ...(opts.dryRun && { lookup: new UserTypeLookup(clients.doc, config.tables.user) }),
          },
          {
            signal: controller.signal,
            onProgress: (p) => view.update(p),
            log: (line) => {
              view.stop();
              console.log(`backfill: ${line}`);
            },
          },
        );
        view.stop();
        summaries.push(summary);
        console.log(renderSummary(summary));
      } finally {
        view.stop();
      }
    }
    const warnings = oneShot.length ? { warnings: oneShot } : {};
    if (opts.json)
      await json.emit(
        summaries.length === 1
          ? { ...summaries[0], ...warnings }
          : { tables: summaries, ...warnings },
      );
    const last = summaries.at(-1);
    if (controller.signal.aborted || last?.outcome === 'stopped') {
      console.error(
        opts.distributed
          ? 'backfill: stopped following; the workers go on scanning (`streamfill status` shows progress)'
          : 'backfill: stopped; checkpoints saved. Continue with `streamfill backfill --resume`',
      );
      return 130;
    }
    if (last?.outcome === 'limit') {
      console.log(
        'backfill: --limit reached; the run is unfinished: `streamfill backfill --resume` continues it, `--restart` starts over',
      );
    }
    const unsendable = summaries.reduce((n, s) => n + s.unsendable, 0);
    if (unsendable) {
      console.error(
        `backfill: ${unsendable} item(s) could not be carried to the worker and were parked in the DLQ with their reason ` +
          `(the rest of the scan completed); fix them, then \`streamfill backfill --keys FILE\` (exit ${EXIT_ITEMS_PARKED})`,
      );
      return EXIT_ITEMS_PARKED;
    }
    return 0;
  } catch (e) {
    if (
      e instanceof BackfillOptionError ||
      e instanceof RunStateError ||
      e instanceof RunOwnershipError
    ) {
      console.error(`streamfill: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    json.restore();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    lambda.lambda?.destroy();
    cloudwatch?.destroy();
    destroyClients(clients);
  }
}
