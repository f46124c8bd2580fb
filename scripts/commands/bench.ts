// `streamfill bench`: benchmarks on the local stack (numbers, not pass/fail).
import { Option, type Command } from 'commander';
import {
  BENCH_DEFAULTS,
  benchBackfill,
  benchScannerRss,
  type BackfillBenchDetails,
  type BackfillBenchResult,
  type RunRates,
} from '../bench/backfill.ts';
import {
  benchCopyBackfill,
  type CopyBackfillBenchDetails,
  type CopyBackfillBenchResult,
} from '../bench/copy-backfill.ts';
import { benchLive, type LiveBenchResult } from '../bench/live.ts';
import { PRESETS } from '../config-loader.ts';
import { BATCH_SIZE } from '../../lib/config/defaults.ts';
import { nonNegativeInt, positiveInt } from '../config.ts';
import { jsonOutput, jsonTarget, newTable } from '../output.ts';

export function registerBenchCommand(program: Command): void {
  const bench = program
    .command('bench')
    .description('Benchmarks on the local stack (numbers, not pass/fail).');
  bench
    .command('live')
    .description(
      'Sustained application writes while the stream consumer runs: latency, throughput, write ratio.',
    )
    .option('--rate <n>', 'application writes per second', positiveInt('--rate'), 200)
    .option('--duration <s>', 'seconds of writing', positiveInt('--duration'), 60)
    .option('--users <n>', 'users in the user table', nonNegativeInt('--users'), 500)
    .option('--writers <n>', 'concurrent application writers', positiveInt('--writers'), 8)
    .option('--batch-size <n>', 'stream batch size', positiveInt('--batch-size'), BATCH_SIZE)
    .option(
      '--warmup <s>',
      'first seconds of writes reported apart from the steady-state percentiles',
      nonNegativeInt('--warmup'),
      5,
    )
    .option('--json', 'print the result as JSON', false)
    .action(async (opts) => {
      const log = opts.json ? (l: string) => console.error(l) : (l: string) => console.log(l);
      const r = await benchLive({
        rate: opts.rate,
        durationSeconds: opts.duration,
        users: opts.users,
        writers: opts.writers,
        batchSize: opts.batchSize,
        warmupSeconds: opts.warmup,
        log,
      });
      if (r.warning) console.error(`warning: ${r.warning}`);
      console.log(opts.json ? JSON.stringify(r, null, 2) : renderLive(r));
    });
  bench
    .command('backfill')
    .description(
      'The historic pipeline (scanner child → work queue → worker, consumer running) against the local ceiling and the naive loop, without and with added latency ' +
        '(--preset bedrock-chat-v3: the V2 → V3 copy in source items/s and target writes/s against the same transactions in a tight loop).',
    )
    .addOption(
      new Option('--preset <name>', 'the built-in preset whose historic pass to measure').choices(
        PRESETS,
      ),
    )
    .option(
      '--seed <n>',
      'random seed of the Bedrock data (--preset bedrock-chat-v3)',
      nonNegativeInt('--seed'),
      1,
    )
    .option('--items <n>', 'legacy sessions per table', positiveInt('--items'), 20_000)
    .option(
      '--naive-items <n>',
      'items the naive loop migrates (it is slow)',
      positiveInt('--naive-items'),
      3_000,
    )
    .option('--users <n>', 'users in the user table', nonNegativeInt('--users'), 500)
    .option(
      '--latency-ms <ms>',
      'added per DynamoDB request in the second half',
      positiveInt('--latency-ms'),
      5,
    )
    .option('--no-latency', 'skip the with-latency half')
    .option(
      '--runs <n>',
      'interleaved pipeline/ceiling/naive runs per half; their medians are reported',
      positiveInt('--runs'),
      BENCH_DEFAULTS.runs,
    )
    .option(
      '--worker-concurrency <n>',
      'worker batches in flight (runner)',
      positiveInt('--worker-concurrency'),
      BENCH_DEFAULTS.workerConcurrency,
    )
    .option(
      '--worker-batch-size <n>',
      'messages per worker batch (runner)',
      positiveInt('--worker-batch-size'),
      BENCH_DEFAULTS.workerBatchSize,
    )
    .option(
      '--write-concurrency <n>',
      'conditional writes in flight per worker batch',
      positiveInt('--write-concurrency'),
      BENCH_DEFAULTS.writeConcurrency,
    )
    .option(
      '--segments <n>',
      'scanner Parallel Scan segments',
      positiveInt('--segments'),
      BENCH_DEFAULTS.segments,
    )
    .option(
      '--page-size <n>',
      'scanner items per Scan page',
      positiveInt('--page-size'),
      BENCH_DEFAULTS.pageSize,
    )
    .option(
      '--rss-only <sizes>',
      'only the scanner, over one table grown to each size (comma-separated item counts): peak RSS',
    )
    .option(
      '--scanner-node-options <flags>',
      'node flags for the scanner process, space-separated (e.g. "--max-old-space-size=96")',
    )
    .option(
      '--json [file]',
      'the result (issue 8 keys) as JSON: on stdout (no FILE, or -), or written to FILE',
    )
    .action(async (opts, cmd: Command) => {
      const bedrock = opts.preset === 'bedrock-chat-v3';
      if (bedrock) {
        // Bad input before any side effect: these measure the Pika bench only.
        const given = PIKA_BENCH_ONLY.filter((o) => cmd.getOptionValueSource(o) === 'cli');
        if (given.length)
          throw new Error(
            `--preset bedrock-chat-v3 measures the Bedrock copy: ${given.map(flagOf).join(', ')} ` +
              'only apply to the Pika bench (pass --users, --seed, --runs, --segments, --worker-*, --write-concurrency)',
          );
      }
      const json = jsonOutput(jsonTarget(opts.json));
      try {
        if (bedrock) await benchCopyBackfillAction(opts, json.emit);
        else await benchBackfillAction(opts, json.emit);
      } finally {
        json.restore();
      }
    });
}

/** `bench backfill` options only the Pika bench reads (attribute names). */
const PIKA_BENCH_ONLY = [
  'items',
  'naiveItems',
  'latencyMs',
  'latency',
  'rssOnly',
  'scannerNodeOptions',
  'pageSize',
] as const;
const flagOf = (attr: string): string =>
  attr === 'latency' ? '--no-latency' : `--${attr.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

async function benchCopyBackfillAction(
  opts: Record<string, any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  emit: (value: unknown) => Promise<void>,
): Promise<void> {
  const { result, details } = await benchCopyBackfill({
    users: opts.users,
    seed: opts.seed,
    runs: opts.runs,
    workerConcurrency: opts.workerConcurrency,
    workerBatchSize: opts.workerBatchSize,
    writeConcurrency: opts.writeConcurrency,
    segments: opts.segments,
    log: (l) => console.error(l),
  });
  await emit(result);
  console.log(renderCopyBackfill(result, details));
}

function renderCopyBackfill(r: CopyBackfillBenchResult, d: CopyBackfillBenchDetails): string {
  const t = newTable([
    `copy backfill, bedrock-chat-v3 (medians of ${d.settings.runs})`,
    'source items/s',
    'target writes/s',
  ]);
  t.push(
    [
      '(a) pipeline: scan → work queue → worker → transactions',
      r.pipeline.source_items_per_s,
      r.pipeline.target_writes_per_s,
    ],
    [
      `(b) ceiling: the same TransactWriteItems, ${r.ceiling.concurrency} in flight`,
      r.ceiling.source_items_per_s,
      r.ceiling.target_writes_per_s,
    ],
    ['pipeline ÷ ceiling', r.pipeline_vs_ceiling, r.pipeline_vs_ceiling],
    [
      '  each run: pipeline / ceiling seconds',
      d.pipelineSeconds.map((s) => s.toFixed(2)).join(', '),
      d.ceilingSeconds.map((s) => s.toFixed(2)).join(', '),
    ],
    [
      'V2 source items / V3 target writes / transactions',
      `${r.source_items} / ${r.target_writes}`,
      r.transactions,
    ],
    ['consumer start → reading (not timed)', `${d.gateMs.join(', ')} ms`, ''],
    [
      'settings',
      `worker concurrency ${d.settings.workerConcurrency}, batch ${d.settings.workerBatchSize}, writes ${d.settings.writeConcurrency}, segments ${d.settings.segments}`,
      `load ${d.loadAverage.join(' ')}`,
    ],
  );
  return t.toString();
}

async function benchBackfillAction(
  opts: Record<string, any>, // eslint-disable-line @typescript-eslint/no-explicit-any
  emit: (value: unknown) => Promise<void>,
): Promise<void> {
  if (opts.rssOnly !== undefined) {
    const sizes = String(opts.rssOnly)
      .split(',')
      .map((v) => positiveInt('--rss-only')(v.trim()));
    const r = await benchScannerRss({
      sizes,
      users: opts.users,
      segments: opts.segments,
      pageSize: opts.pageSize,
      nodeOptions: nodeFlags(opts.scannerNodeOptions),
      log: (l) => console.error(l),
    });
    await emit(r);
    const t = newTable(['items scanned', 'scanner peak RSS', 'scanner time', 'target']);
    for (const run of r.runs)
      t.push([run.items, `${run.scannerRssMb} MB`, `${run.scannerSeconds} s`, '≤ 150 MB, flat']);
    t.push(['seeding', `${r.seedPerSecond} items/s`, `load ${r.loadAverage.join(' ')}`, '']);
    console.log(t.toString());
    return;
  }
  const { result, details } = await benchBackfill({
    items: opts.items,
    naiveItems: opts.naiveItems,
    users: opts.users,
    latencyMs: opts.latencyMs,
    noLatency: opts.latency === false,
    runs: opts.runs,
    workerConcurrency: opts.workerConcurrency,
    workerBatchSize: opts.workerBatchSize,
    writeConcurrency: opts.writeConcurrency,
    segments: opts.segments,
    pageSize: opts.pageSize,
    nodeOptions: nodeFlags(opts.scannerNodeOptions),
    log: (l) => console.error(l),
  });
  await emit(result);
  console.log(renderBackfill(result, details));
}

/** `--scanner-node-options "--a --b=1"` → ['--a', '--b=1']; each must be a flag. */
function nodeFlags(value: string | undefined): string[] {
  const flags = (value ?? '').split(/\s+/).filter(Boolean);
  const bad = flags.find((f) => !f.startsWith('--'));
  if (bad) throw new Error(`--scanner-node-options: "${bad}" is not a node flag (--name[=value])`);
  return flags;
}

function renderBackfill(r: BackfillBenchResult, d: BackfillBenchDetails): string {
  const t = newTable([
    `backfill, ${r.items} items (medians of ${d.settings.runs})`,
    'no latency',
    'with latency',
    'target',
  ]);
  const [plain, delayed] = [
    d.runs['no latency'],
    Object.entries(d.runs).find(([k]) => k !== 'no latency')?.[1],
  ];
  const each = (x: RunRates | undefined, k: keyof RunRates): string => (x ? x[k].join(', ') : '');
  const w = r.with_latency;
  const row = (
    label: string,
    key: keyof BackfillBenchResult['no_latency'],
    unit: string,
    target: [string, string],
  ) => [
    label,
    `${r.no_latency[key]}${unit}`,
    w ? `${w[key]}${unit}` : 'skipped',
    target.filter(Boolean).join('; '),
  ];
  t.push(
    row('(a) pipeline items/s', 'pipeline_per_s', '', ['', '']),
    row('(b) ceiling: 64 UpdateItems in flight', 'ceiling_per_s', '', ['', '']),
    row(`(c) naive loop (${d.naiveItems} items)`, 'naive_per_s', '', ['', '']),
    row('pipeline ÷ ceiling', 'pipeline_vs_ceiling', '', ['≥ 0.8 without latency', '']),
    row('pipeline ÷ naive', 'pipeline_vs_naive', '', ['≥ 20 with latency', '']),
    ...(['pipeline', 'ceiling', 'naive'] as const).map((k) => [
      `  each run: ${k}`,
      each(plain, k),
      each(delayed, k),
      '',
    ]),
  );
  for (const p of d.pipelines) {
    t.push([
      `  pipeline${p.latencyMs ? ` +${p.latencyMs} ms` : ''}: migrated / s`,
      `${p.migrated} in ${p.seconds} s`,
      `startup ${p.startupSeconds} s, scanner ${p.scannerSeconds} s`,
      `conflicts ${p.conflicts}`,
    ]);
  }
  t.push(
    [
      'worker reads per item',
      r.worker_reads_per_item,
      `user lookups (BatchGet): ${d.userLookups}`,
      '0',
    ],
    [
      'scanner peak RSS (bundled CLI, node)',
      `${r.scanner_rss_mb_max} MB`,
      d.settings.nodeOptions?.length ? d.settings.nodeOptions.join(' ') : 'default node flags',
      '≤ 150 MB, flat 100k → 1M',
    ],
    ['verify pending after (a)', r.pending_after, '', '0'],
    [
      'settings',
      `worker concurrency ${d.settings.workerConcurrency}, batch ${d.settings.workerBatchSize}, writes ${d.settings.writeConcurrency}`,
      `segments ${d.settings.segments}, page ${d.settings.pageSize}, +${d.settings.latencyMs} ms`,
      `load ${d.loadAverage.join(' ')}`,
    ],
  );
  return t.toString();
}

function renderLive(r: LiveBenchResult): string {
  const t = newTable(['live path', 'value', 'target']);
  t.push(
    [
      'application writes',
      `${r.appWrites} in ${r.durationSeconds} s (${r.achievedRate}/s)`,
      `${r.targetRate}/s`,
    ],
    ['write → derived fields p50 (after the warm-up)', `${r.latencyMs.p50} ms`, ''],
    ['write → derived fields p95', `${r.latencyMs.p95} ms`, ''],
    ['write → derived fields p99', `${r.latencyMs.p99} ms`, '≤ 1000 ms'],
    ['write → derived fields max', `${r.latencyMs.max} ms (${r.latencyMs.samples} samples)`, ''],
    [
      `first ${r.warmup.seconds} s (warm-up) p99 / max`,
      `${r.warmup.latencyMs.p99} ms / ${r.warmup.latencyMs.max} ms (floor ${r.warmup.floorMs.p99} ms / ${r.warmup.floorMs.max} ms)`,
      'reported apart',
    ],
    ['floor: bare stream reader p50 / p99', `${r.floorMs.p50} ms / ${r.floorMs.p99} ms`, ''],
    ['p99 ÷ floor p99', r.p99_vs_floor, '≤ 2'],
    ['stream records / s', r.recordsPerSecond, ''],
    [
      'DynamoDB writes ÷ items needing a change',
      `${r.dynamoWrites} ÷ ${r.itemsNeedingChange} = ${r.writesPerChangedItem}`,
      '≤ 1.01',
    ],
    ['conflicts (newer app write won)', r.conflicts, ''],
    ['records to DLQ', r.toDlq, '0'],
    ['drain after last write', `${r.drainMs} ms`, ''],
    [
      'verify',
      `checked ${r.verify.checked}, pending ${r.verify.pending}, search pending ${r.verify.searchPending ?? 'n/a'}`,
      'pending 0',
    ],
  );
  return t.toString();
}
