// `streamfill backfill`: the one-shot historic pass (scanner → work queue → worker), plus
// `backfill pause|resume`. Wires options to runBackfill and renders its progress.
import { readFile } from 'node:fs/promises';
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
import { RunOwnershipError, RunStateError } from '../../lib/core/backfill-run.ts';
import { DEFAULT_PRICES, describeCost } from '../../lib/core/cost-estimate.ts';
import { formatKey } from '../../lib/core/key-format.ts';
import { MIGRATED_TABLES, type MigratedTable } from '../../lib/core/migrations/index.ts';
import { formatWait } from '../../lib/core/throttle.ts';
import { KEY_ATTRIBUTES, type Key } from '../../lib/core/types.ts';
import {
  BackfillOptionError,
  runBackfill,
  type BackfillProgress,
  type BackfillSummary,
} from '../../lib/engine/backfill.ts';
import { runPreflight } from '../../lib/engine/preflight.ts';
import {
  configFrom,
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

async function queueUrlOf(clients: Clients, config: Config, local: boolean): Promise<string> {
  if (local) return (await ensureQueues(clients.sqs, config)).work;
  try {
    const r = await clients.sqs.send(new GetQueueUrlCommand({ QueueName: config.queueName }));
    if (r.QueueUrl) return r.QueueUrl;
  } catch (e) {
    throw new Error(
      `work queue "${config.queueName}" not found (set ${settingName('queueName')}): ${(e as Error).message}`,
    );
  }
  throw new Error(`work queue "${config.queueName}" has no URL (set ${settingName('queueName')})`);
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

function renderLine(p: BackfillProgress): string {
  const pct = p.fraction === undefined ? '?' : `${(p.fraction * 100).toFixed(1)} %`;
  return (
    `${pct} | scanned ${count.format(p.scanned)} | enqueued ${count.format(p.enqueued)} | skipped ${count.format(p.skipped)} | ` +
    `${count.format(Math.round(p.ratePerSecond))} items/s | segments ${p.segmentsDone}/${p.totalSegments} | ${p.etaText} | ` +
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
          wait: p.waiting
            ? `${p.waiting}${p.waitingLanes > 1 ? ` (${p.waitingLanes} lanes waiting)` : ''}`
            : 'not waiting',
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
  return {
    update: (p) => {
      const t = Date.now();
      // Always show a new wait reason at once; otherwise a line every interval.
      if (t - last >= intervalMs || (p.waiting && p.waiting !== lastWait) || p.phase === 'done') {
        last = t;
        lastWait = p.waiting;
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
    lines.push(`  ${s.unsendable} item(s) could not be put in a message (see problems)`);
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

Runs: checkpoints per segment after SQS accepted the page's messages. A new run refuses to
start over an unfinished one (--resume or --restart); a run idle longer than the stream's
24 h retention cannot be resumed. SIGINT stops after the current pages (exit 130).
--user and --keys are targeted repairs and keep no run. --dry-run reads, plans and estimates:
nothing is enqueued and no checkpoint is written; its samples look user_type up for real.

Cost: on-demand prices default to ${DEFAULT_PRICES.source}:
$${DEFAULT_PRICES.readPerMillion} per million read units, $${DEFAULT_PRICES.writePerMillion} per million write units.

Examples:
  streamfill backfill --dry-run
  streamfill backfill --rate 500 --json backfill.json   # or --json alone: on stdout
  streamfill backfill --resume
  streamfill backfill pause      # keeps the position; \`backfill resume\` continues
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
      'items enqueued per second at most (default: unlimited)',
      positiveNumber('--rate'),
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
      'enqueue one scan-segment task per segment: the workers scan',
      undefined,
      false,
    ],
    [
      '--json [file]',
      'the summary as JSON: on stdout (no FILE, or -; the progress goes to stderr), or written to FILE',
    ],
    ['--no-filter', 'enqueue every item, not only those the registry says are pending'],
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
      '--consumer-function <name>',
      'AWS: the stream consumer function (name or ARN) whose mapping must be Enabled',
    ],
    ['--skip-preflight', 'start even when preflight finds a failure', undefined, false],
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
  const backfill = withSharedOptions(addStateOptions(cmd.addHelpText('after', HELP_AFTER))).action(
    async (opts) => {
      process.exitCode = await backfillAction(opts);
    },
  );

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

/** What Commander hands the action (flags above, plus the shared options). */
interface BackfillCliOptions extends Record<string, unknown> {
  table: string;
  stateTable: string;
  checkpointFile?: string;
  segments: number;
  pageSize: number;
  rate?: number;
  dryRun: boolean;
  samples: number;
  resume: boolean;
  restart: boolean;
  limit?: number;
  user?: string[];
  keys?: string;
  distributed: boolean;
  json?: string | boolean;
  filter: boolean;
  maxBacklog: number;
  maxLagSeconds: number;
  waitForConsumer: boolean;
  consumerFunction?: string;
  skipPreflight: boolean;
  priceReadPerMillion?: number;
  priceWritePerMillion?: number;
  pollIntervalMs: number;
  progressInterval: number;
}

async function backfillAction(opts: BackfillCliOptions): Promise<number> {
  const config = configFrom(opts);
  const tables = tablesOf(opts.table);
  if (tables.length > 1 && (opts.user || opts.keys)) {
    throw new Error(
      '--user and --keys name items of one table: pass --table session or --table tag',
    );
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
    for (const table of tables) {
      const tableName = config.tables[table];
      await requireNamedTable(clients.dynamodb, tableName, settingName(`${table}Table`));
    }
    const keys = opts.keys ? await readKeysFile(opts.keys, tables[0] as MigratedTable) : undefined;
    const state = await stateStoreOf(clients, opts, local);
    const queueUrl = await queueUrlOf(clients, config, local);
    const searchEnabled = Boolean(clients.search);
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
        ...(opts.rate !== undefined && { rate: opts.rate }),
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
      // Only the session table has a stream consumer (the live path); the tag pass is one-shot.
      if (table === 'session') {
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
          {
            table,
            tableName,
            segments: opts.segments,
            pageSize: opts.pageSize,
            ...(opts.rate !== undefined && { rate: opts.rate }),
            dryRun: opts.dryRun,
            samples: opts.samples,
            resume: opts.resume,
            restart: opts.restart,
            ...(opts.limit !== undefined && { limit: opts.limit }),
            ...(opts.user && { users: opts.user }),
            ...(keys && { keys }),
            distributed: opts.distributed,
            filter: opts.filter,
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
              rate: opts.rate ?? null,
              limit: opts.limit ?? null,
              filter: opts.filter,
              distributed: opts.distributed,
              maxBacklog: opts.maxBacklog,
              maxLagSeconds: opts.maxLagSeconds,
            },
          },
          {
            doc: clients.doc,
            dynamodb: clients.dynamodb,
            sqs: clients.sqs,
            queueUrl,
            state,
            ...(consumer && { consumer }),
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
    if (opts.json) await json.emit(summaries.length === 1 ? summaries[0] : { tables: summaries });
    const last = summaries.at(-1);
    if (controller.signal.aborted || last?.outcome === 'stopped') {
      console.error(
        'backfill: stopped; checkpoints saved. Continue with `streamfill backfill --resume`',
      );
      return 130;
    }
    if (last?.outcome === 'limit') {
      console.log(
        'backfill: --limit reached; the run is unfinished: `streamfill backfill --resume` continues it, `--restart` starts over',
      );
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
