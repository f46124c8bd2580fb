// `streamfill bench live`: sustained application writes against the local stack while the
// stream consumer runs in-process; measures write → derived-fields latency, throughput and
// how many DynamoDB writes each changed item cost. A bare stream reader (same polling, no
// processing) runs in the same run as the floor: on a shared 2-core machine absolute times say
// more about the machine than about us, the ratio to the floor says what we add.
import { LOCAL_REDELIVERY } from '../../lib/config/defaults.ts';
import { randomBytes } from 'node:crypto';
import { makeClients, destroyClients } from '../../lib/adapters/clients.ts';
import { ensurePikaTables, ensureSessionIndex, putItems } from '../../local/pika-tables.ts';
import { legacyUsers } from '../../local/legacy-data.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { verifyAll, type VerifyReport } from '../../lib/engine/verify.ts';
import { AppSimulator } from '../../local/app-simulator.ts';
import { LatencyTracker } from '../../local/latency-tracker.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { benchRunnerOptions } from './runner-options.ts';
import { awaitConsumerReads } from './consumer-reads.ts';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { DynamoDBStreamMapping } from '../../local/event-source/dynamodb-stream-mapping.ts';
import { MemoryCheckpointStore } from '../../local/event-source/checkpoint.ts';
import { applyServiceEnv, startLocalServices } from '../../local/services/index.ts';

export interface LiveBenchOptions {
  rate: number;
  durationSeconds: number;
  users: number;
  /** Independent application writers (disjoint items), sharing the rate. */
  writers: number;
  batchSize: number;
  /** Seconds of writes at the start reported apart (cold consumer, empty caches, JIT). */
  warmupSeconds: number;
  log: (line: string) => void;
}

export interface LiveBenchResult {
  targetRate: number;
  achievedRate: number;
  appWrites: number;
  durationSeconds: number;
  latencyMs: { p50: number; p95: number; p99: number; max: number; samples: number };
  /** The bare reader's write → visible latency: what any stream consumer here pays. */
  floorMs: { p50: number; p95: number; p99: number; max: number; samples: number };
  /** The same for the versions written during the warm-up (excluded from the above). */
  warmup: {
    seconds: number;
    latencyMs: { p50: number; p95: number; p99: number; max: number; samples: number };
    floorMs: { p50: number; p95: number; p99: number; max: number; samples: number };
  };
  /** Stable keys for comparisons across machines (issue 8's contract). */
  floor_p99_ms: number;
  p99_ms: number;
  p99_vs_floor: number;
  achieved_writes_per_s: number;
  /** Set when the application writer could not reach the asked rate (the machine is saturated). */
  warning?: string;
  recordsPerSecond: number;
  streamRecords: number;
  dynamoWrites: number;
  itemsNeedingChange: number;
  writesPerChangedItem: number;
  conflicts: number;
  toDlq: number;
  drainMs: number;
  verify: Pick<VerifyReport, 'checked' | 'pending' | 'malformed'> & {
    searchPending: number | null;
  };
}

export async function benchLive(o: LiveBenchOptions): Promise<LiveBenchResult> {
  const services = await startLocalServices({ log: o.log });
  applyServiceEnv(services.env);
  // A database of its own: DynamoDB Local slows down as stream records accumulate in one.
  if (services.provider !== 'env')
    process.env.AWS_ACCESS_KEY_ID = `bench${randomBytes(4).toString('hex')}`;
  const clients = makeClients();
  try {
    const p = `bench-${Date.now().toString(36)}`;
    const tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
    const index = `${p}-session`;
    await ensurePikaTables(clients.dynamodb, tables);
    // Where the consumer records the canary that proves it reads (see below).
    const state = new DynamoStateStore(clients.doc, `${p}-state`);
    await ensureStateTable(clients.dynamodb, `${p}-state`);
    await putItems(clients.doc, tables.user, legacyUsers({ users: o.users }));
    await ensureSessionIndex(clients.search!, index);

    const deps = engineDeps(clients, { tables, searchIndex: index });
    await deps.search!.ensureMapping();

    const latency = new LatencyTracker();
    const floor = new LatencyTracker();
    // The floor: a second reader of the same stream, polling like our mapping, doing nothing.
    const bare = new DynamoDBStreamMapping({
      tableName: tables.session,
      streams: clients.streams,
      dynamodb: clients.dynamodb,
      batchSize: o.batchSize,
      startingPosition: 'TRIM_HORIZON',
      checkpoint: new MemoryCheckpointStore(),
      handler: async (event) => {
        floor.observe(event);
        return { batchItemFailures: [] };
      },
      logger: { info: () => {}, warn: o.log, error: o.log },
    });
    await bare.start();
    let streamRecords = 0;
    let dynamoWrites = 0;
    let conflicts = 0;
    const runner = await startLocalRunner({
      ...benchRunnerOptions({ clients, deps, tables, prefix: p, warn: o.log }),
      batchSize: o.batchSize,
      stateStore: state,
      // At least once, as on AWS: some deliveries are made twice on purpose.
      redelivery: LOCAL_REDELIVERY,
      onResults: (results, event) => {
        // The batch's writes and its search update are done when this runs.
        latency.observe(event);
        streamRecords += event.Records.length;
        for (const r of results.values()) {
          if (r.change) dynamoWrites++;
          if (r.outcome === 'conflict') conflicts++;
        }
      },
    });

    // The runner started at LATEST and pins it seconds later, as AWS may: writes before the pin
    // would never be delivered, so the writers start once a canary proves the consumer reads.
    const pinMs = await awaitConsumerReads(
      { doc: clients.doc, table: deps.planner.table('session'), tableName: tables.session, state },
      clients.dynamodb,
    );
    o.log(`the stream consumer read a canary ${(pinMs / 1000).toFixed(1)} s after it started`);

    const sims = Array.from(
      { length: o.writers },
      (_, i) =>
        new AppSimulator({
          doc: clients.doc,
          sessionTable: tables.session,
          search: { client: clients.search!, index },
          users: o.users,
          seed: i + 1,
          idPrefix: `${p}-w${i}`,
        }),
    );
    o.log(`writing ${o.rate}/s for ${o.durationSeconds} s with ${o.writers} writers`);
    const started = performance.now();
    const perWriter = o.rate / o.writers;
    const total = Math.round(perWriter * o.durationSeconds);
    await Promise.all(
      sims.map(async (sim) => {
        for (let n = 0; n < total; n++) {
          // Open-loop pacing: the n-th write is due at n / rate, however long earlier ones took.
          const due = started + (n / perWriter) * 1000;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const w = await sim.step();
          if (w.item) {
            latency.wrote(w.item, w.at);
            floor.wrote(w.item, w.at);
          }
        }
      }),
    );
    const writeSeconds = (performance.now() - started) / 1000;
    const drainStart = performance.now();
    await runner.waitForIdle(120_000);
    const drainMs = Math.round(performance.now() - drainStart);
    const tail = (t: LatencyTracker): string =>
      [...t.tailBySecond(99, started)].map(([sec, n]) => `${sec}s:${n}`).join(' ');
    o.log(`slowest 1% by second written — ours: ${tail(latency)}`);
    o.log(`slowest 1% by second written — floor: ${tail(floor)}`);
    const consumed = (performance.now() - started) / 1000;
    const stats = runner.stats();
    await runner.stop();
    await bare.waitForIdle(120_000);
    await bare.stop();

    const report = await verifyAll({
      planner: deps.planner,
      doc: clients.doc,
      tables,
      search: deps.search,
    });
    const appWrites = sims.reduce((n, s) => n + s.writes.length, 0);
    const itemsNeedingChange = sims.reduce(
      (n, s) => n + s.writes.filter((w) => w.kind !== 'delete').length,
      0,
    );
    const round = (x: number): number => Math.round(x * 10) / 10;
    // Steady state: versions written after the warm-up; the warm-up is reported on its own.
    const steadyFrom = started + o.warmupSeconds * 1000;
    const ours = latency.percentiles(steadyFrom);
    const bareMs = floor.percentiles(steadyFrom);
    const achievedRate = round(appWrites / writeSeconds);
    return {
      targetRate: o.rate,
      achievedRate,
      appWrites,
      durationSeconds: round(writeSeconds),
      latencyMs: ours,
      floorMs: bareMs,
      warmup: {
        seconds: o.warmupSeconds,
        latencyMs: latency.percentiles(started, steadyFrom),
        floorMs: floor.percentiles(started, steadyFrom),
      },
      floor_p99_ms: bareMs.p99,
      p99_ms: ours.p99,
      p99_vs_floor: Math.round((ours.p99 / bareMs.p99) * 100) / 100,
      achieved_writes_per_s: achievedRate,
      ...(achievedRate < o.rate * 0.95 && {
        warning:
          `the application writer reached ${achievedRate}/s of the ${o.rate}/s asked: ` +
          'the machine is saturated, so absolute latencies overstate what the consumer adds; compare p99_vs_floor',
      }),
      recordsPerSecond: round(streamRecords / consumed),
      streamRecords,
      dynamoWrites,
      itemsNeedingChange,
      writesPerChangedItem: Math.round((dynamoWrites / itemsNeedingChange) * 1000) / 1000,
      conflicts,
      toDlq: stats.recordsToOnFailure,
      drainMs,
      verify: {
        checked: report.checked,
        pending: report.pending,
        malformed: report.malformed,
        searchPending: report.search?.pending ?? null,
      },
    };
  } finally {
    destroyClients(clients);
    await services.stop();
  }
}
