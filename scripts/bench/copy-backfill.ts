// `streamfill bench backfill --preset bedrock-chat-v3`: the historic copy's throughput (scan →
// work queue → worker → one TransactWriteItems per source and copy, consumer running) in source
// items/s and target writes/s, beside the local ceiling of the same transactions: a tight loop
// issuing the copy writer's own TransactWriteItems (source check, target puts, dependency checks
// and edges, ledger put), plans made beforehand, with the pipeline's transactions in flight at
// most. Numbers, not pass/fail.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ScanCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { CopyWriter } from '../../lib/adapters/copy-writer.ts';
import { LookupReader } from '../../lib/adapters/lookup-reader.ts';
import { LOCAL_REDELIVERY } from '../../lib/config/defaults.ts';
import { mapLimit } from '../../lib/core/concurrency.ts';
import type { Planner } from '../../lib/core/config/planner.ts';
import { physicalTable } from '../../lib/core/config/table-names.ts';
import type { Item, TableNames } from '../../lib/core/types.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { v2Conversation, v3Bot, v3Conversation } from '../../lib/presets/bedrock-chat-v3.ts';
import { seedBedrock } from '../../local/bedrock-seed.ts';
import { bedrockTableNames } from '../../local/bedrock-tables.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { applyServiceEnv, startLocalServices } from '../../local/services/index.ts';
import { loadPlanner } from '../config-loader.ts';
import { backfillTable } from '../commands/demo-steps.ts';
import { awaitConsumerReads } from './consumer-reads.ts';

export interface CopyBackfillBenchOptions {
  /** V2 users seeded (about 7 V2 items each). */
  users: number;
  seed: number;
  /** Runner knobs (defaults: what `streamfill run` uses). */
  workerConcurrency: number;
  workerBatchSize: number;
  writeConcurrency: number;
  segments: number;
  /** Interleaved pipeline/ceiling runs; medians are reported. */
  runs: number;
  log: (line: string) => void;
}

export interface CopyRates {
  source_items_per_s: number;
  target_writes_per_s: number;
}

export interface CopyBackfillBenchResult {
  preset: 'bedrock-chat-v3';
  /** V2 items in the source table (every one is scanned and copied or skipped). */
  source_items: number;
  /** V3 items the copy writes (one Put each; aliases of unpublished or deleted bots write none). */
  target_writes: number;
  /** Transactions: one per source item and copy that derives a target. */
  transactions: number;
  pipeline: CopyRates;
  ceiling: CopyRates & { concurrency: number };
  pipeline_vs_ceiling: number;
}

export interface CopyBackfillBenchDetails {
  settings: Omit<CopyBackfillBenchOptions, 'log'>;
  /** Each run's seconds, in run order. */
  pipelineSeconds: number[];
  ceilingSeconds: number[];
  /** Consumer start → it read a canary (not timed). */
  gateMs: number[];
  loadAverage: number[];
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function benchCopyBackfill(
  o: CopyBackfillBenchOptions,
): Promise<{ result: CopyBackfillBenchResult; details: CopyBackfillBenchDetails }> {
  const services = await startLocalServices({ log: o.log });
  applyServiceEnv(services.env);
  delete process.env.SEARCH_ENDPOINT; // the preset writes no search index
  const planner = await loadPlanner({ preset: 'bedrock-chat-v3' });
  const p = `cb-${Date.now().toString(36)}`;
  let seq = 0;
  const pipelineSeconds: number[] = [];
  const ceilingSeconds: number[] = [];
  const gateMs: number[] = [];
  let shape = { sources: 0, targets: 0, transactions: 0 };
  // Every mode gets a DynamoDB Local database of its own (a random access key: one database per
  // key), the same data: writes to stream-enabled tables slow down as stream records accumulate
  // in one database, which would charge each mode for the ones before it.
  const mode = async <T>(fn: (tables: TableNames, base: Clients, prefix: string) => Promise<T>) => {
    process.env.AWS_ACCESS_KEY_ID = `bench${randomBytes(4).toString('hex')}`;
    const prefix = `${p}-${seq++}`;
    const tables: TableNames = {
      [v2Conversation.name]: `${prefix}-v2`,
      [v3Conversation.name]: `${prefix}-v3c`,
      [v3Bot.name]: `${prefix}-v3b`,
    };
    const base = makeClients();
    try {
      const seeded = await seedBedrock(
        { dynamodb: base.dynamodb, doc: base.doc, tables: bedrockTableNames(tables) },
        { users: o.users, seed: o.seed },
      );
      const n =
        seeded.bots.length +
        seeded.aliases.length +
        seeded.conversations.length +
        seeded.relatedDocuments.length;
      o.log(`seeded ${n} V2 items (${o.users} users)`);
      await ensureStateTable(base.dynamodb, `${prefix}-state`);
      return await fn(tables, base, prefix);
    } finally {
      destroyClients(base);
    }
  };
  try {
    for (let i = 1; i <= o.runs; i++) {
      const pipe = await mode((tables, base, prefix) => {
        o.log(`(a) pipeline, run ${i} of ${o.runs}`);
        return pipeline(o, planner, tables, base, prefix);
      });
      pipelineSeconds.push(pipe.seconds);
      gateMs.push(pipe.gateMs);
      const ceil = await mode(async (tables, base, prefix) => {
        o.log(`(b) ceiling, run ${i} of ${o.runs}`);
        return ceiling(o, planner, tables, base, `${prefix}-state`);
      });
      ceilingSeconds.push(ceil.seconds);
      // The same data: the pipeline must have written what the ceiling's plans say.
      if (pipe.targets !== ceil.targets)
        throw new Error(
          `bench: the pipeline wrote ${pipe.targets} V3 items, the plans derive ${ceil.targets}`,
        );
      shape = { sources: ceil.sources, targets: ceil.targets, transactions: ceil.transactions };
    }
    const rates = (seconds: number): CopyRates => ({
      source_items_per_s: round(shape.sources / seconds),
      target_writes_per_s: round(shape.targets / seconds),
    });
    const pipelineRates = rates(median(pipelineSeconds));
    const ceilingRates = rates(median(ceilingSeconds));
    const { log: _log, ...settings } = o;
    return {
      result: {
        preset: 'bedrock-chat-v3',
        source_items: shape.sources,
        target_writes: shape.targets,
        transactions: shape.transactions,
        pipeline: pipelineRates,
        ceiling: { ...ceilingRates, concurrency: o.workerConcurrency * o.writeConcurrency },
        pipeline_vs_ceiling: round(
          pipelineRates.source_items_per_s / ceilingRates.source_items_per_s,
          2,
        ),
      },
      details: {
        settings,
        pipelineSeconds,
        ceilingSeconds,
        gateMs,
        loadAverage: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number),
      },
    };
  } finally {
    await services.stop();
  }
}

/**
 * (a) `run` (consumer + worker) and an in-process `backfill`: timed from the scan's start (the
 * consumer already reading) until the queue is drained and the runner idle.
 */
async function pipeline(
  o: CopyBackfillBenchOptions,
  planner: Planner,
  tables: TableNames,
  base: Clients,
  prefix: string,
): Promise<{ seconds: number; gateMs: number; targets: number }> {
  const clients = makeClients();
  const scanner = makeClients();
  const stateTable = `${prefix}-state`;
  const state = new DynamoStateStore(clients.doc, stateTable);
  const deps = engineDeps(clients, {
    tables,
    planner,
    stateTable,
    writeConcurrency: o.writeConcurrency,
  });
  const quiet = (m: string, d?: Record<string, unknown>) =>
    o.log(d ? `${m} ${JSON.stringify(d)}` : m);
  const runner = await startLocalRunner({
    clients,
    deps,
    tables,
    queueName: `${prefix}-work`,
    dlqName: `${prefix}-dlq`,
    startingPosition: 'LATEST',
    redelivery: LOCAL_REDELIVERY,
    workerConcurrency: o.workerConcurrency,
    workerBatchSize: o.workerBatchSize,
    stateStore: state,
    handlerLogLevel: 'SILENT',
    logger: { info: () => {}, warn: quiet, error: quiet },
  });
  try {
    const source = physicalTable(tables, v2Conversation.name);
    // Not timed: a deployed consumer reads before a backfill starts.
    const gateMs = await awaitConsumerReads(
      { doc: base.doc, table: planner.table(v2Conversation.name), tableName: source, state },
      base.dynamodb,
    );
    const started = performance.now();
    const summary = await backfillTable(
      {
        planner,
        search: undefined,
        config: {
          tables,
          queueName: `${prefix}-work`,
          dlqName: `${prefix}-dlq`,
          searchEndpoint: undefined,
          searchIndex: undefined,
        },
      },
      scanner,
      state,
      runner,
      v2Conversation.name,
      o.segments,
      () => {},
    );
    if (summary.outcome !== 'finished') throw new Error(`bench: backfill ${summary.outcome}`);
    await runner.waitForIdle(600_000);
    const seconds = (performance.now() - started) / 1000;
    const c = runner.counts();
    if (c.parked || c.onFailure)
      throw new Error(`bench: ${c.parked} parked, ${c.onFailure} given up on`);
    const targets =
      (await count(base.doc, physicalTable(tables, v3Conversation.name))) +
      (await count(base.doc, physicalTable(tables, v3Bot.name)));
    o.log(`pipeline: ${summary.scanned} scanned, ${targets} V3 items in ${round(seconds, 2)} s`);
    return { seconds, gateMs, targets };
  } finally {
    await runner.stop();
    destroyClients(scanner);
    destroyClients(clients);
  }
}

/** (b) the plans' transactions, issued directly by a tight loop with as many in flight. */
async function ceiling(
  o: CopyBackfillBenchOptions,
  planner: Planner,
  tables: TableNames,
  base: Clients,
  ledgerTable: string,
): Promise<{ seconds: number; sources: number; targets: number; transactions: number }> {
  const table = v2Conversation.name;
  const items = await scanAll(base.doc, physicalTable(tables, table));
  // Not timed: the plans, their lookups read as the engine reads them.
  const lookups = new LookupReader(base.doc, tables);
  const reads = planner.collectLookups(table, items);
  const read = await lookups.read(reads.byTable, reads.byIndex);
  const ctx = {
    lookups: planner.lookupResults(reads, read.read, read.indexed),
    nowSeconds: Math.floor(Date.now() / 1000),
  };
  const plans = items
    .flatMap((item) => planner.planCopies(table, planner.keyOf(table, item), item, ctx))
    .filter((plan) => plan.targets.length > 0);
  // The copy writer's own transactions for a first write (no ledger entry yet).
  const writer = new CopyWriter(base.doc, tables, ledgerTable, (t) => planner.table(t).key);
  const requests = plans.map(
    (plan) =>
      new TransactWriteCommand({
        TransactItems: writer.transactionOf(plan, undefined).items as never,
      }),
  );
  const concurrency = o.workerConcurrency * o.writeConcurrency;
  const clients = makeClients();
  try {
    const t0 = performance.now();
    await mapLimit(requests, concurrency, (r) => clients.doc.send(r));
    const seconds = (performance.now() - t0) / 1000;
    const targets = plans.reduce((n, plan) => n + plan.targets.length, 0);
    o.log(`ceiling: ${plans.length} transactions, ${targets} V3 items in ${round(seconds, 2)} s`);
    return { seconds, sources: items.length, targets, transactions: plans.length };
  } finally {
    destroyClients(clients);
  }
}

async function scanAll(doc: DynamoDBDocumentClient, TableName: string): Promise<Item[]> {
  const items: Item[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(new ScanCommand({ TableName, ExclusiveStartKey: start }));
    items.push(...((page.Items ?? []) as Item[]));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

async function count(doc: DynamoDBDocumentClient, TableName: string): Promise<number> {
  let n = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({ TableName, Select: 'COUNT', ExclusiveStartKey: start }),
    );
    n += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  return n;
}
