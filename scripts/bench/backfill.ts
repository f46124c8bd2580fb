// `streamfill bench backfill`: the historic path's throughput on one table shape, against the
// local ceiling (64 UpdateItems in flight) and the naive loop (Scan + one awaited UpdateItem per
// item), without and with 5 ms added per DynamoDB request; plus the worker's reads per item and
// the scanner child's peak RSS. Numbers, not pass/fail.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DynamoWriter } from '../../lib/adapters/dynamo-writer.ts';
import { LookupReader } from '../../lib/adapters/lookup-reader.ts';
import { queueStats } from '../../lib/adapters/work-queue.ts';
import { heartbeatProbe } from '../../lib/adapters/consumer-probe.ts';
import {
  BACKFILL_SEGMENTS,
  CONSUMER_HEARTBEAT,
  consumerHeartbeatId,
  SCAN_PAGE_SIZE,
  WORKER_BATCH_SIZE,
  WORKER_CONCURRENCY,
  WRITE_CONCURRENCY,
  LOCAL_REDELIVERY,
} from '../../lib/config/defaults.ts';
import type { Item, ItemChange } from '../../lib/core/types.ts';
import { bundledPlanner } from '../../lib/engine/bundled-config.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { verifyAll } from '../../lib/engine/verify.ts';
import { legacySessions, legacyUsers } from '../../local/legacy-data.ts';
import { DelayProxy } from '../../local/net/delay-proxy.ts';
import { ensurePikaTables, putItems, type PikaTableNames } from '../../local/pika-tables.ts';
import type { EventSourceLogger } from '../../local/event-source/lambda-context.ts';
import { SqsMapping } from '../../local/event-source/sqs-mapping.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { PACKAGE_ROOT } from '../../local/cache-dir.ts';
import { applyServiceEnv, startLocalServices } from '../../local/services/index.ts';

/**
 * The scanner runs as a packaged CLI would: on plain node, the compiled CLI beside this module
 * when it runs from dist/, else (a checkout) the CLI bundled by esbuild, dependencies left to
 * node_modules. Through tsx it also carries the TypeScript loader (about 30 MB more RSS and 1 s
 * more start-up), which is the checkout's convenience, not the scanner's cost.
 */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const CLI_BUNDLE = FROM_SOURCE
  ? join(PACKAGE_ROOT, '.cache/bench/scripts/cli.mjs')
  : fileURLToPath(new URL('../cli.js', import.meta.url));
let cliBundled: Promise<void> | undefined;
const bundleCli = (): Promise<void> =>
  (cliBundled ??= FROM_SOURCE
    ? // esbuild is a dev dependency: imported only here, so the installed CLI never needs it.
      // The built-in preset is its own entry beside the CLI, where the config loader looks for
      // it (lib/presets/ next to scripts/), sharing one copy of the API through a chunk.
      import('esbuild').then(({ build }) =>
        build({
          entryPoints: [
            join(PACKAGE_ROOT, 'scripts/cli.ts'),
            join(PACKAGE_ROOT, 'lib/presets/pika.ts'),
          ],
          outdir: join(PACKAGE_ROOT, '.cache/bench'),
          outbase: PACKAGE_ROOT,
          outExtension: { '.js': '.mjs' },
          // Chunks hold the loader too: beside the CLI, so `../lib/presets/` resolves the same.
          chunkNames: 'scripts/[name]-[hash]',
          bundle: true,
          splitting: true,
          platform: 'node',
          format: 'esm',
          target: 'node20',
          packages: 'external',
          logLevel: 'error',
        }).then(() => undefined),
      )
    : Promise.resolve());
/** The ceiling's writes in flight (issue 8's definition of the local ceiling). */
const CEILING_CONCURRENCY = 64;
/** The bench seeds the Pika preset's legacy sessions: it measures that declared table. */
const BENCH_TABLE = 'session';

export interface BackfillBenchOptions {
  items: number;
  /** The naive loop runs over min(items, naiveItems): it is slow. */
  naiveItems: number;
  users: number;
  /** Added per DynamoDB request in the with-latency half. */
  latencyMs: number;
  /** Runner knobs (defaults: what `streamfill run` uses). */
  workerConcurrency: number;
  workerBatchSize: number;
  writeConcurrency: number;
  /** Scanner knobs (defaults: what `streamfill backfill` uses). */
  segments: number;
  pageSize: number;
  /** Node flags for the scanner process (e.g. `--max-old-space-size=96`). */
  nodeOptions?: readonly string[];
  /** Interleaved pipeline/ceiling/naive runs per half; medians are reported. */
  runs: number;
  /** Skip the with-latency half. */
  noLatency?: boolean;
  log: (line: string) => void;
}

export interface ModeNumbers {
  pipeline_per_s: number;
  ceiling_per_s: number;
  naive_per_s: number;
  pipeline_vs_ceiling: number;
  pipeline_vs_naive: number;
}

/** Issue 8's contract: these keys, exactly. */
export interface BackfillBenchResult {
  items: number;
  no_latency: ModeNumbers;
  with_latency: ModeNumbers | null;
  worker_reads_per_item: number;
  scanner_rss_mb_max: number;
  pending_after: number;
}

/** What the table shows besides the contract's numbers. */
export interface BackfillBenchDetails {
  settings: Omit<BackfillBenchOptions, 'log' | 'noLatency'>;
  seedPerSecond: number;
  naiveItems: number;
  pipelines: PipelineRun[];
  /** By half ('no latency', '+5 ms'). */
  runs: Record<string, RunRates>;
  userLookups: number;
  loadAverage: number[];
}

/** Each run's items/s, in run order (the result reports their medians). */
export interface RunRates {
  pipeline: number[];
  ceiling: number[];
  naive: number[];
}

export interface PipelineRun {
  latencyMs: number;
  migrated: number;
  seconds: number;
  /** Spawn → the worker's first finished batch (CLI start, preflight, consumer gate, first pages). */
  startupSeconds: number;
  /** The scanner's own wall time (its --json summary). */
  scannerSeconds: number;
  scannerRssMb: number;
  itemReads: number;
  userLookups: number;
  conflicts: number;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : round(((s[m - 1] as number) + (s[m] as number)) / 2);
};
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function benchBackfill(
  o: BackfillBenchOptions,
): Promise<{ result: BackfillBenchResult; details: BackfillBenchDetails }> {
  const services = await startLocalServices({ log: o.log });
  applyServiceEnv(services.env);
  // DynamoDB migrations only: the ceiling and the naive loop write DynamoDB, so the pipeline
  // must not also pay for OpenSearch bulks (the keyword migration is `bench live`'s business).
  delete process.env.SEARCH_ENDPOINT;
  const direct = services.env.AWS_ENDPOINT_URL_DYNAMODB;
  const p = `bb-${Date.now().toString(36)}`;
  let seq = 0;
  const sessions = legacySessions({ sessions: o.items, users: o.users, migratedFraction: 0 });
  const naiveCount = Math.min(o.items, o.naiveItems);
  const seedRates: number[] = [];
  // Every mode gets a database of its own, seeded with the same legacy data.
  const mode = async <T>(
    name: string,
    items: readonly Item[],
    fn: (tables: PikaTableNames, base: Clients) => Promise<T>,
  ): Promise<T> => {
    const { tables, base } = await freshTables(services.provider, `${p}-${name}-${seq++}`);
    try {
      seedRates.push(await seed(base, tables, items, o.users));
      o.log(`seeded ${items.length} sessions (${seedRates.at(-1)}/s); ${name}`);
      const keys = ['AWS_ENDPOINT_URL_DYNAMODB', 'AWS_ENDPOINT_URL_DYNAMODB_STREAMS'] as const;
      for (const k of keys) process.env[k] = endpointOf();
      try {
        return await fn(tables, base);
      } finally {
        for (const k of keys) process.env[k] = direct;
      }
    } finally {
      destroyClients(base);
    }
  };

  let currentEndpoint = direct;
  const endpointOf = (): string => currentEndpoint;
  const pipelines: PipelineRun[] = [];
  const runRates: Record<string, RunRates> = {};
  let pendingAfter = 0;
  const half = async (latencyMs: number): Promise<ModeNumbers> => {
    const proxy =
      latencyMs > 0 ? DelayProxy.forUrl(direct, { requestDelayMs: latencyMs }) : undefined;
    await proxy?.start();
    const endpoint = proxy?.url ?? direct;
    currentEndpoint = endpoint;
    try {
      const label = latencyMs ? `+${latencyMs} ms` : 'no latency';
      // Interleaved runs, medians reported: on a small shared machine one run can be 20% off.
      const rates: RunRates = { pipeline: [], ceiling: [], naive: [] };
      for (let i = 1; i <= o.runs; i++) {
        const n = `${label}, run ${i} of ${o.runs}`;
        const run = await mode(`pipe`, sessions, async (tables, base) => {
          o.log(`(a) pipeline, ${n}`);
          const r = await pipeline(o, tables, endpoint, latencyMs, base);
          const { pending } = await verifyAll({ planner: bundledPlanner(), doc: base.doc, tables });
          pendingAfter = Math.max(pendingAfter, pending);
          return r;
        });
        pipelines.push(run);
        rates.pipeline.push(round(run.migrated / run.seconds));
        rates.ceiling.push(
          await mode('ceil', sessions, (tables) => {
            o.log(`(b) ceiling, ${n}`);
            return ceilingRate(tables, sessions, endpoint);
          }),
        );
        rates.naive.push(
          await mode('naive', sessions.slice(0, naiveCount), (tables) => {
            o.log(`(c) naive loop over ${naiveCount} items, ${n}`);
            return naiveRate(tables, naiveCount, endpoint);
          }),
        );
      }
      runRates[label] = rates;
      const pipelinePerS = median(rates.pipeline);
      const ceiling = median(rates.ceiling);
      const naive = median(rates.naive);
      const numbers = {
        pipeline_per_s: pipelinePerS,
        ceiling_per_s: ceiling,
        naive_per_s: naive,
        pipeline_vs_ceiling: round(pipelinePerS / ceiling, 2),
        pipeline_vs_naive: round(pipelinePerS / naive, 1),
      };
      o.log(
        `${label}: ${JSON.stringify(numbers)} (medians of ${JSON.stringify(rates)}); load ${loadAverage().join(' ')}`,
      );
      return numbers;
    } finally {
      currentEndpoint = direct;
      await proxy?.stop();
    }
  };

  try {
    const noLatency = await half(0);
    const withLatency = o.noLatency ? null : await half(o.latencyMs);
    const itemsRead = pipelines.reduce((n, r) => n + r.itemReads, 0);
    const itemsMigrated = pipelines.reduce((n, r) => n + r.migrated, 0);
    const { noLatency: _skip, log: _log, ...settings } = o;
    return {
      result: {
        items: o.items,
        no_latency: noLatency,
        with_latency: withLatency,
        worker_reads_per_item: round(itemsRead / Math.max(1, itemsMigrated), 3),
        scanner_rss_mb_max: Math.max(...pipelines.map((r) => r.scannerRssMb)),
        pending_after: pendingAfter,
      },
      details: {
        settings,
        seedPerSecond: round(Math.min(...seedRates)),
        naiveItems: naiveCount,
        pipelines,
        runs: runRates,
        userLookups: pipelines.reduce((n, r) => n + r.userLookups, 0),
        loadAverage: loadAverage(),
      },
    };
  } finally {
    await services.stop();
  }
}

/**
 * A new DynamoDB Local database (a random access key: one database per key) with the Pika
 * tables in it: DynamoDB Local slows down as stream records accumulate in one database.
 */
async function freshTables(
  provider: string,
  prefix: string,
): Promise<{ tables: PikaTableNames; base: Clients }> {
  if (provider !== 'env') process.env.AWS_ACCESS_KEY_ID = `bench${randomBytes(4).toString('hex')}`;
  const base = makeClients();
  const tables = {
    session: `${prefix}-session`,
    user: `${prefix}-user`,
    tag: `${prefix}-tag`,
  };
  await ensurePikaTables(base.dynamodb, tables);
  return { tables, base };
}

/** Seeds users and `items`; returns sessions seeded per second. */
async function seed(
  base: Clients,
  tables: PikaTableNames,
  items: readonly Item[],
  users: number,
): Promise<number> {
  await putItems(base.doc, tables.user, legacyUsers({ users }));
  const t0 = performance.now();
  await seedParallel(base.doc, tables.session, items);
  return round(items.length / ((performance.now() - t0) / 1000));
}

/** BatchWrite in parallel streams: seeding is set-up, not measured. */
async function seedParallel(
  doc: DynamoDBDocumentClient,
  table: string,
  items: readonly Item[],
  streams = 8,
): Promise<void> {
  const chunk = Math.ceil(items.length / streams);
  await Promise.all(
    Array.from({ length: streams }, (_, i) =>
      putItems(doc, table, items.slice(i * chunk, (i + 1) * chunk)),
    ),
  );
}

/**
 * Clients whose DynamoDB (and Streams) requests go to `endpoint` (the proxy or DynamoDB Local).
 * The SDK resolves AWS_ENDPOINT_URL_* lazily, at a client's first request, so the variables
 * stay set for the whole mode (see `mode`): swapping them around construction is not enough.
 */
function clientsVia(endpoint: string, maxAttempts?: number): Clients {
  if (process.env.AWS_ENDPOINT_URL_DYNAMODB !== endpoint)
    throw new Error(`bench: clients for ${endpoint} made outside its mode`);
  return makeClients({ ...(maxAttempts !== undefined && { maxAttempts }) });
}

/**
 * Counts the reads a client issues, by table: reads of the session table are item reads (the
 * worker should need none: it writes on the carried inputs); a BatchGet of users is a lookup.
 */
function countReads(
  clients: Clients,
  sessionTable: string,
  userTable: string,
): { items: number; lookups: number } {
  const n = { items: 0, lookups: 0 };
  const reads = /^(GetItem|Get|Query|Scan|BatchGetItem|BatchGet)Command$/;
  // The document client shares the low-level client's middleware stack.
  clients.dynamodb.middlewareStack.add(
    (next, context) => async (args) => {
      if (reads.test(context.commandName ?? '')) {
        const input = args.input as { TableName?: string; RequestItems?: Record<string, unknown> };
        const tables = input.RequestItems ? Object.keys(input.RequestItems) : [input.TableName];
        if (tables.includes(sessionTable)) n.items++;
        else if (tables.includes(userTable)) n.lookups++;
      }
      return next(args);
    },
    { step: 'initialize', name: 'benchReadCounter' },
  );
  return n;
}

/** (a) scanner child → work queue → runner's worker → conditional writes, consumer running. */
async function pipeline(
  o: BackfillBenchOptions,
  tables: PikaTableNames,
  endpoint: string,
  latencyMs: number,
  base: Clients,
): Promise<PipelineRun> {
  const clients = clientsVia(endpoint);
  const reads = countReads(clients, tables.session, tables.user);
  const stateTable = `${tables.session}-state`;
  const queueName = `${tables.session}-work`;
  const dlqName = `${tables.session}-dlq`;
  await ensureStateTable(base.dynamodb, stateTable);
  const expected = o.items;
  let firstAt = 0;
  let doneAt = 0;
  const marks: [number, number][] = [];
  const runner = await startLocalRunner({
    clients,
    deps: engineDeps(clients, {
      tables,
      searchIndex: 'unused',
      writeConcurrency: o.writeConcurrency,
    }),
    tables,
    queueName,
    dlqName,
    // Deployed before the scan: history is the scanner's, the stream carries what comes after.
    startingPosition: 'LATEST',
    // At least once, as on AWS: some deliveries are made twice on purpose.
    redelivery: LOCAL_REDELIVERY,
    workerConcurrency: o.workerConcurrency,
    workerBatchSize: o.workerBatchSize,
    stateStore: new DynamoStateStore(clients.doc, stateTable),
    handlerLogLevel: 'SILENT',
    logger: quietLogger(o.log),
    onWorkerResults: () => {
      const migrated = runner.counts().migrated;
      marks.push([performance.now(), migrated]);
      if (migrated > 0 && !firstAt) firstAt = performance.now();
      if (migrated >= expected && !doneAt) doneAt = performance.now();
    },
  });
  const dir = await mkdtemp(join(tmpdir(), 'streamfill-bench-'));
  const summaryFile = join(dir, 'summary.json');
  try {
    // Not timed: a packaged CLI is built, and the consumer deployed and caught up, before a
    // backfill starts (the scanner checks the latter again itself).
    await bundleCli();
    await consumerReady(new DynamoStateStore(base.doc, stateTable), tables.session);
    const started = performance.now();
    const child = await spawnScanner(
      o,
      tables,
      { queueName, dlqName, stateTable },
      endpoint,
      summaryFile,
    );
    const rss = new TreeRssSampler(child.pid as number);
    const exited = waitForExit(child, o.log);
    let childDone = false;
    void exited.then(
      () => (childDone = true),
      () => (childDone = true),
    );
    // Cheap signal first (the runner's migrated count), then the real check once: queue empty,
    // runner idle and no item left without chat_app_sk.
    for (;;) {
      await sleep(doneAt ? 0 : 250);
      if (!doneAt && !childDone) continue;
      if (childDone) await exited; // surfaces a failed scanner
      const q = await queueStats(base.sqs, runner.queues.work);
      if (q.backlog > 0) continue;
      await runner.waitForIdle(300_000);
      if ((await countLacking(base.doc, tables.session)) === 0) break;
      if (childDone && !doneAt) {
        throw new Error(`pipeline: scanner done and queue empty, but items still lack chat_app_sk`);
      }
    }
    const end = doneAt || performance.now();
    await exited;
    rss.stop();
    const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as { durationMs: number };
    const c = runner.counts();
    o.log(`migrated by second: ${timeline(started, marks)}; scanner ${summary.durationMs} ms`);
    return {
      latencyMs,
      migrated: c.migrated,
      seconds: round((end - started) / 1000, 2),
      startupSeconds: round((firstAt - started) / 1000, 2),
      scannerSeconds: round(summary.durationMs / 1000, 2),
      scannerRssMb: round(rss.maxKb / 1024),
      itemReads: reads.items,
      userLookups: reads.lookups,
      conflicts: c.conflicts,
    };
  } finally {
    await runner.stop();
    destroyClients(clients);
    await rm(dir, { recursive: true, force: true });
  }
}

/** `streamfill backfill …` (the bundled CLI) against the mode's endpoint, search off. */
async function spawnScanner(
  o: Pick<BackfillBenchOptions, 'segments' | 'pageSize' | 'nodeOptions'>,
  tables: PikaTableNames,
  names: { queueName: string; dlqName: string; stateTable: string },
  endpoint: string,
  summaryFile: string,
  extraArgs: readonly string[] = [],
): Promise<ChildProcess> {
  await bundleCli();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: endpoint,
    CI: '1', // plain progress lines, no bar
  };
  delete env.SEARCH_ENDPOINT;
  const args = [
    CLI_BUNDLE,
    'backfill',
    '--table',
    BENCH_TABLE,
    '--session-table',
    tables.session,
    '--user-table',
    tables.user,
    '--tag-table',
    tables.tag,
    '--queue-name',
    names.queueName,
    '--dlq-name',
    names.dlqName,
    '--state-table',
    names.stateTable,
    '--segments',
    String(o.segments),
    '--page-size',
    String(o.pageSize),
    '--json',
    summaryFile,
    ...extraArgs,
  ];
  return spawn(process.execPath, [...(o.nodeOptions ?? []), ...args], {
    cwd: PACKAGE_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Resolves on exit 0; rejects with the output's tail otherwise. */
function waitForExit(child: ChildProcess, log: (l: string) => void): Promise<void> {
  let out = '';
  const keep = (b: Buffer): void => {
    out = (out + b.toString()).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return new Promise((resolveExit, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolveExit();
      else {
        log(out);
        reject(new Error(`scanner exited with ${code ?? signal}`));
      }
    });
  });
}

/** Peak RSS (VmHWM) of the largest process in a tree (the scanner and anything it spawns). */
class TreeRssSampler {
  maxKb = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly root: number) {
    this.timer = setInterval(() => this.sample(), 200);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sample(): void {
    const parents = new Map<number, number>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // Field 4 (ppid) follows the command name, which may contain spaces: split after ')'.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        parents.set(Number(name), ppid);
      } catch {
        // gone meanwhile
      }
    }
    const tree = new Set([this.root]);
    for (let grew = true; grew;) {
      grew = false;
      for (const [pid, ppid] of parents)
        if (!tree.has(pid) && tree.has(ppid)) {
          tree.add(pid);
          grew = true;
        }
    }
    for (const pid of tree) {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
        if (m) this.maxKb = Math.max(this.maxKb, Number(m[1]));
      } catch {
        // exited
      }
    }
  }
}

/** Resolves once the runner's heartbeat says its consumer is running and caught up. */
async function consumerReady(store: DynamoStateStore, sessionTable: string): Promise<void> {
  const probe = heartbeatProbe(store, consumerHeartbeatId(sessionTable), {
    staleMs: CONSUMER_HEARTBEAT.staleAfterMs,
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const state = await probe();
    if (state.ready) return;
    if (Date.now() > deadline)
      throw new Error(`bench: the consumer never got ready: ${state.reason}`);
    await sleep(100);
  }
}

/** Items migrated in each second since `started` (where the pipeline spends its time). */
function timeline(started: number, marks: readonly [number, number][]): string {
  const perSecond: number[] = [];
  let before = 0;
  for (const [t, n] of marks) {
    const i = Math.floor((t - started) / 1000);
    while (perSecond.length <= i) perSecond.push(0);
    perSecond[i] = (perSecond[i] ?? 0) + n - before;
    before = n;
  }
  return perSecond.join(' ');
}

/** Items still lacking chat_app_sk: one COUNT scan (only run once the queue looks drained). */
async function countLacking(doc: DynamoDBDocumentClient, table: string): Promise<number> {
  let n = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const r = await doc.send(
      new ScanCommand({
        TableName: table,
        Select: 'COUNT',
        FilterExpression: 'attribute_not_exists(chat_app_sk)',
        ...(start && { ExclusiveStartKey: start }),
      }),
    );
    n += r.Count ?? 0;
    start = r.LastEvaluatedKey;
  } while (start);
  return n;
}

/** The preset's plans for sessions, their lookups read (what the worker would write). */
async function planAll(items: readonly Item[], lookups: LookupReader): Promise<ItemChange[]> {
  const planner = bundledPlanner();
  // The DynamoDB side only: the bench has no search index.
  const enabled = planner.defaultMigrations.filter(
    (m) => planner.summaries.get(m)?.target === 'dynamodb',
  );
  const reads = planner.collectLookups(BENCH_TABLE, items, enabled);
  const { read } = await lookups.read(reads.byTable);
  const ctx = {
    lookups: planner.lookupResults(reads, read),
    nowSeconds: Math.floor(Date.now() / 1000),
  };
  return items.flatMap((item) => {
    const change = planner.planItem(BENCH_TABLE, item, ctx, enabled).change;
    return change ? [change] : [];
  });
}

/** (b) the same conditional writes, 64 in flight through the one writer. */
async function ceilingRate(
  tables: PikaTableNames,
  items: readonly Item[],
  endpoint: string,
): Promise<number> {
  const clients = clientsVia(endpoint);
  try {
    const changes = await planAll(items, new LookupReader(clients.doc, tables));
    const writer = new DynamoWriter(clients.doc, tables, { concurrency: CEILING_CONCURRENCY });
    const t0 = performance.now();
    const results = await writer.applyAll(changes);
    const seconds = (performance.now() - t0) / 1000;
    const migrated = results.filter((r) => r.outcome === 'migrated').length;
    if (migrated !== changes.length)
      throw new Error(`ceiling: ${changes.length - migrated} of ${changes.length} writes failed`);
    return round(migrated / seconds);
  } finally {
    destroyClients(clients);
  }
}

/** (c) the seeds' scripts: sequential Scan pages, one awaited UpdateItem per item. */
async function naiveRate(tables: PikaTableNames, limit: number, endpoint: string): Promise<number> {
  const clients = clientsVia(endpoint);
  try {
    const writer = new DynamoWriter(clients.doc, tables, { concurrency: 1 });
    const lookup = new LookupReader(clients.doc, tables);
    let done = 0;
    let start: Record<string, unknown> | undefined;
    const t0 = performance.now();
    do {
      const page = await clients.doc.send(
        new ScanCommand({ TableName: tables.session, ...(start && { ExclusiveStartKey: start }) }),
      );
      start = page.LastEvaluatedKey;
      for (const change of await planAll(page.Items ?? [], lookup)) {
        if (done >= limit) break;
        const r = await writer.apply(change);
        if (r.outcome !== 'migrated') throw new Error(`naive: ${r.outcome} ${r.error?.message}`);
        done++;
      }
    } while (start && done < limit);
    return round(done / ((performance.now() - t0) / 1000));
  } finally {
    destroyClients(clients);
  }
}

export interface RssRun {
  items: number;
  scannerRssMb: number;
  scannerSeconds: number;
  enqueued: number;
}

/**
 * `--rss-only`: the scanner child alone over one table grown to each size in turn (seeded
 * once, incrementally), the consumer running (a real heartbeat) and the work queue drained by
 * a sink that acknowledges without migrating, so only the scanner's memory is measured.
 */
export async function benchScannerRss(o: {
  sizes: readonly number[];
  users: number;
  segments: number;
  pageSize: number;
  nodeOptions?: readonly string[];
  log: (line: string) => void;
}): Promise<{ runs: RssRun[]; seedPerSecond: number; loadAverage: number[] }> {
  const services = await startLocalServices({ log: o.log });
  applyServiceEnv(services.env);
  delete process.env.SEARCH_ENDPOINT;
  const sizes = [...o.sizes].sort((a, b) => a - b);
  const all = legacySessions({
    sessions: sizes.at(-1) ?? 0,
    users: o.users,
    migratedFraction: 0,
  });
  const { tables, base } = await freshTables(
    services.provider,
    `bb-rss-${Date.now().toString(36)}`,
  );
  const runs: RssRun[] = [];
  let seeded = 0;
  let seedMs = 0;
  await putItems(base.doc, tables.user, legacyUsers({ users: o.users }));
  try {
    for (const [i, size] of sizes.entries()) {
      const t0 = performance.now();
      await seedParallel(base.doc, tables.session, all.slice(seeded, size));
      seedMs += performance.now() - t0;
      o.log(`seeded ${size - seeded} more sessions (${size} in all)`);
      seeded = size;
      const names = {
        queueName: `${tables.session}-work-${i}`,
        dlqName: `${tables.session}-dlq-${i}`,
        stateTable: `${tables.session}-state-${i}`,
      };
      await ensureStateTable(base.dynamodb, names.stateTable);
      const runner = await startLocalRunner({
        clients: base,
        deps: engineDeps(base, { tables, searchIndex: 'unused' }),
        tables,
        queueName: names.queueName,
        dlqName: names.dlqName,
        startingPosition: 'LATEST',
        redelivery: LOCAL_REDELIVERY,
        worker: false,
        stateStore: new DynamoStateStore(base.doc, names.stateTable),
        handlerLogLevel: 'SILENT',
        logger: quietLogger(o.log),
      });
      const sink = new SqsMapping({
        queueUrl: runner.queues.work,
        sqs: base.sqs,
        maxConcurrency: 2,
        handler: async () => ({ batchItemFailures: [] }),
        logger: quietLogger(o.log),
      });
      await sink.start();
      const dir = await mkdtemp(join(tmpdir(), 'streamfill-bench-'));
      try {
        const summaryFile = join(dir, 'summary.json');
        const child = await spawnScanner(
          { segments: o.segments, pageSize: o.pageSize, nodeOptions: o.nodeOptions ?? [] },
          tables,
          names,
          services.env.AWS_ENDPOINT_URL_DYNAMODB,
          summaryFile,
          ['--max-backlog', '1000000000'],
        );
        const rss = new TreeRssSampler(child.pid as number);
        await waitForExit(child, o.log);
        rss.stop();
        const summary = JSON.parse(await readFile(summaryFile, 'utf8')) as {
          durationMs: number;
          enqueued: number;
        };
        runs.push({
          items: size,
          scannerRssMb: round(rss.maxKb / 1024),
          scannerSeconds: round(summary.durationMs / 1000, 1),
          enqueued: summary.enqueued,
        });
        o.log(`scanner over ${size} items: ${JSON.stringify(runs.at(-1))}`);
      } finally {
        await sink.stop();
        await runner.stop();
        await rm(dir, { recursive: true, force: true });
      }
    }
    return {
      runs,
      seedPerSecond: round(seeded / (seedMs / 1000)),
      loadAverage: loadAverage(),
    };
  } finally {
    destroyClients(base);
    await services.stop();
  }
}

/** Warnings and errors only, with their details (why a batch stayed on the queue). */
function quietLogger(log: (line: string) => void): EventSourceLogger {
  const line = (m: string, d?: Record<string, unknown>): void =>
    log(d ? `${m} ${JSON.stringify(d)}` : m);
  return { info: () => {}, warn: line, error: line };
}

function loadAverage(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

export const BENCH_DEFAULTS = {
  runs: 3,
  workerConcurrency: WORKER_CONCURRENCY.local,
  workerBatchSize: WORKER_BATCH_SIZE,
  writeConcurrency: WRITE_CONCURRENCY,
  segments: BACKFILL_SEGMENTS,
  pageSize: SCAN_PAGE_SIZE,
} as const;
