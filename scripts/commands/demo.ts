// `npm start`: the whole story on the embedded local stack — services, legacy data, `run`
// (consumer + worker) under live application writes, `backfill` through the queue, convergence,
// `verify`, a summary — with no in-process shortcut for the historic pass.
import { Option, type Command } from 'commander';
import type { BackfillStateStore } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients } from '../../lib/adapters/clients.ts';
import {
  BACKFILL_SEGMENTS,
  LOCAL_REDELIVERY,
  LOCAL_STATE_TABLE,
  SCANNER_MAX_ATTEMPTS,
} from '../../lib/config/defaults.ts';
import { describeCost } from '../../lib/core/cost-estimate.ts';
import { bundledPlanner } from '../../lib/engine/bundled-config.ts';
import { sessionSearchKeywords } from '../../lib/presets/pika.ts';
import type { BackfillSummary } from '../../lib/engine/backfill.ts';
import { isConverged, verifyAll } from '../../lib/engine/verify.ts';
import { AppSimulator } from '../../local/app-simulator.ts';
import { LatencyTracker } from '../../local/latency-tracker.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { pikaTableNames } from '../../local/pika-tables.ts';
import { seed } from '../../local/seed.ts';
import { configFrom, nonNegativeInt, positiveInt, withSharedOptions } from '../config.ts';
import { makeRuntime, makeStateStore, runnerTargets, type Runtime } from '../runtime.ts';
import { renderSummary } from './backfill/render.ts';
import { backfillTable, startDemoServices } from './demo-steps.ts';
import { demoBedrock } from './demo-bedrock.ts';
import { PRESETS } from '../config-loader.ts';
import { renderVerifyReport } from './verify.ts';
import { jsonOutput, jsonTarget, newTable } from '../output.ts';

/** How long convergence may take once the scan is done (queue drain + stream catch-up). */
const CONVERGE_TIMEOUT_MS = 10 * 60_000;

export function registerDemoCommand(program: Command): void {
  withSharedOptions(
    program
      .command('demo')
      .description(
        'Start local services, seed Pika-shaped legacy data, run the consumer and worker under live writes, backfill through the work queue, verify, print a summary, stop ' +
          '(--preset bedrock-chat-v3: Bedrock Chat V2 data copied into the V3 tables under a V2 application, then checked).',
      )
      .addOption(
        new Option('--preset <name>', 'the built-in preset to demonstrate').choices(PRESETS),
      )
      .option('--sessions <n>', 'legacy sessions to seed', nonNegativeInt('--sessions'), 5000)
      .option('--users <n>', 'users to seed', nonNegativeInt('--users'), 500)
      .option('--malformed <n>', 'malformed sessions to seed', nonNegativeInt('--malformed'), 6)
      .option(
        '--segments <n>',
        'Parallel Scan segments of the backfill',
        positiveInt('--segments'),
        BACKFILL_SEGMENTS,
      )
      .option(
        '--live-rate <n>',
        'application writes per second during the demo',
        positiveInt('--live-rate'),
        50,
      )
      .option(
        '--seed <n>',
        'random seed of the Bedrock data and its application',
        nonNegativeInt('--seed'),
        1,
      )
      .option(
        '--json',
        'print the summary as JSON on stdout (the narration goes to stderr)',
        false,
      ),
  ).action(async (opts, cmd: Command) => {
    const bedrock = opts.preset === 'bedrock-chat-v3';
    if (bedrock) {
      // Bad input before any side effect: the Pika data set's flags mean nothing here.
      const given = PIKA_ONLY.filter((o) => cmd.getOptionValueSource(o) === 'cli');
      if (given.length)
        throw new Error(
          `--preset bedrock-chat-v3 demonstrates Bedrock Chat data: ${given.map((o) => `--${o}`).join(', ')} ` +
            'only apply to the Pika demo (pass --users, --seed, --live-rate, --segments)',
        );
    }
    const json = jsonOutput(jsonTarget(opts.json));
    try {
      if (bedrock) await demoBedrock(opts, json.emit);
      else await demo(opts, json.emit);
    } finally {
      json.restore();
    }
  });
}

/** The flags only the Pika demo reads. */
const PIKA_ONLY = ['sessions', 'malformed'] as const;

interface DemoOptions extends Record<string, unknown> {
  sessions: number;
  users: number;
  malformed: number;
  segments: number;
  liveRate: number;
}

async function demo(opts: DemoOptions, emit: (value: unknown) => Promise<void>): Promise<void> {
  const step = (msg: string): void => console.log(`\n▶ ${msg}`);
  step('starting local services (DynamoDB Local, ElasticMQ, OpenSearch)');
  const t0 = Date.now();
  const services = await startDemoServices();
  try {
    for (const [k, v] of Object.entries(services.env)) console.log(`  ${k}=${v}`);

    // The demo runs the built-in Pika preset on its own data, whatever config the directory has.
    const planner = bundledPlanner();
    const config = configFrom({ ...opts, searchEndpoint: services.env.SEARCH_ENDPOINT }, planner);
    const searchIndex = config.searchIndex ?? sessionSearchKeywords.index;
    const rt = makeRuntime(config, { planner });
    // The scanner's own clients, as `backfill` has them: few SDK retries, so the throttler sees throttling.
    const scanner = makeClients({ maxAttempts: SCANNER_MAX_ATTEMPTS });
    try {
      step(`seeding ${opts.sessions} legacy sessions, ${opts.users} users and tag definitions`);
      const seeded = await seed(
        {
          dynamodb: rt.clients.dynamodb,
          doc: rt.clients.doc,
          tables: pikaTableNames(config.tables),
          search: { client: rt.clients.search!, index: searchIndex },
        },
        {
          sessions: opts.sessions,
          users: opts.users,
          tags: true,
          migratedFraction: 0.2,
          malformed: opts.malformed,
          // Every session has its document: a missing one would wait out its repair attempts
          // (minutes); the repair path itself is tested in test/integration/search-repair.test.ts.
          unindexed: 0,
        },
      );
      console.log(
        `  ${seeded.sessions.length} sessions, ${seeded.users.length} users, ${seeded.tags.length} tags`,
      );

      step('adding the keyword fields to the OpenSearch mapping (additive only)');
      const added = await rt.search!.ensureMapping();
      console.log(`  added: ${added.join(', ') || 'nothing (already present)'}`);

      step(
        '`streamfill run`: stream consumer + work-queue worker, and a live application writer (no write freeze)',
      );
      const state = await makeStateStore(rt.clients, { stateTable: LOCAL_STATE_TABLE });
      const live = await startLive(rt, opts.liveRate, state);

      const backfills: BackfillSummary[] = [];
      const scanStart = performance.now();
      for (const table of planner.migratedTables) {
        step(
          `\`streamfill backfill --table ${table}\`: segmented scan → work queue → worker (conditional writes, bulk search update)`,
        );
        const summary = await backfillTable(rt, scanner, state, live.runner, table, opts.segments);
        console.log(renderSummary(summary));
        backfills.push(summary);
      }

      step('waiting for convergence: work queue empty, stream caught up');
      await live.runner.worker?.waitForIdle(CONVERGE_TIMEOUT_MS);
      const drainedMs = performance.now() - scanStart;
      // Let the application keep writing a little after the queue drained, then drain the stream.
      const liveReport = await live.finish(2_000, CONVERGE_TIMEOUT_MS);
      console.log(`  converged: queue drained ${Math.round(drainedMs)} ms after the scan began`);

      step('verifying every item (re-plan without writing)');
      const report = await verifyAll({
        planner: rt.planner,
        doc: rt.clients.doc,
        tables: config.tables,
        search: rt.search,
      });
      console.log(renderVerifyReport(report));

      printSummary(backfills, liveReport, drainedMs);
      // Malformed items are reported with their reasons; everything else must converge.
      const onlyMalformed = { ...report, malformed: 0, samples: [] };
      const ok =
        isConverged(onlyMalformed) &&
        report.malformed === opts.malformed &&
        backfills.every((b) => b.outcome === 'finished') &&
        liveReport.onFailure === 0;
      console.log(
        ok
          ? `\n✔ every seeded item is migrated or reported with a reason (${Date.now() - t0} ms in all)`
          : '\n✘ the data did not converge (see above)',
      );
      process.exitCode = ok ? 0 : 1;
      await emit({ converged: ok, backfills, live: liveReport, drainedMs, verify: report });
    } finally {
      destroyClients(scanner);
      rt.close();
    }
  } finally {
    step('stopping local services');
    await services.stop();
  }
}

interface LiveReport {
  appWrites: number;
  inserts: number;
  deletes: number;
  streamRecords: number;
  streamMigrated: number;
  streamConflicts: number;
  workerMessages: number;
  workerItems: number;
  workerMigrated: number;
  workerConflicts: number;
  parked: number;
  onFailure: number;
  p50: number;
  p99: number;
}

/** `run` (consumer + worker, heartbeat published) plus an application that keeps writing. */
async function startLive(rt: Runtime, rate: number, stateStore: BackfillStateStore) {
  const stream = { migrated: 0, conflicts: 0 };
  const worker = { migrated: 0, conflicts: 0 };
  const latency = new LatencyTracker();
  const runner = await startLocalRunner({
    ...runnerTargets(rt),
    stateStore,
    // Deployed now: history is the backfill's job, the stream carries what comes after.
    startingPosition: 'LATEST',
    // At least once, as on AWS: some deliveries are made twice on purpose.
    redelivery: LOCAL_REDELIVERY,
    handlerLogLevel: 'SILENT',
    logger: {
      info: () => {},
      warn: (m) => console.error(`  run: ${m}`),
      error: (m) => console.error(`  run: ${m}`),
    },
    onResults: (results, event) => {
      latency.observe(event);
      for (const r of results.values()) {
        if (r.outcome === 'migrated') stream.migrated++;
        if (r.outcome === 'conflict') stream.conflicts++;
      }
    },
    onWorkerResults: (summary) => {
      for (const r of summary.items) {
        if (r.outcome === 'migrated') worker.migrated++;
        if (r.outcome === 'conflict') worker.conflicts++;
      }
    },
  });
  const app = new AppSimulator({
    doc: rt.clients.doc,
    sessionTable: pikaTableNames(rt.config.tables).session,
    ...(rt.clients.search && {
      search: {
        client: rt.clients.search,
        index: rt.config.searchIndex ?? sessionSearchKeywords.index,
      },
    }),
    users: 500,
    idPrefix: 'live',
  });
  let stopping = false;
  const writing = (async () => {
    const started = performance.now();
    for (let n = 0; !stopping; n++) {
      const wait = started + (n / rate) * 1000 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const w = await app.step();
      if (w.item) latency.wrote(w.item, w.at);
    }
  })();
  return {
    runner,
    /** Writes `afterMs` longer, stops the app, waits until both mappings are idle, stops `run`. */
    async finish(afterMs: number, idleTimeoutMs: number): Promise<LiveReport> {
      await new Promise((r) => setTimeout(r, afterMs));
      stopping = true;
      await writing;
      try {
        await runner.waitForIdle(idleTimeoutMs);
      } finally {
        await runner.stop();
      }
      const c = runner.counts();
      const { p50, p99 } = latency.percentiles();
      return {
        appWrites: app.writes.length,
        inserts: app.writes.filter((w) => w.kind === 'insert').length,
        deletes: app.writes.filter((w) => w.kind === 'delete').length,
        streamRecords: c.streamRecords,
        streamMigrated: stream.migrated,
        streamConflicts: stream.conflicts,
        workerMessages: c.workerMessages,
        workerItems: c.workerItems,
        workerMigrated: worker.migrated,
        workerConflicts: worker.conflicts,
        parked: c.parked,
        onFailure: c.onFailure,
        p50: Math.round(p50),
        p99: Math.round(p99),
      };
    },
  };
}

function printSummary(backfills: BackfillSummary[], r: LiveReport, drainedMs: number): void {
  const n = new Intl.NumberFormat('en-US');
  console.log('\nSummary');
  const b = newTable([
    'backfill',
    'scanned',
    'enqueued',
    'skipped',
    'messages',
    'scanned/s',
    'enqueued/s',
  ]);
  for (const s of backfills) {
    b.push([
      s.tableName,
      n.format(s.scanned),
      n.format(s.enqueued),
      n.format(s.skipped),
      n.format(s.messages),
      n.format(Math.round(s.scannedPerSecond)),
      n.format(Math.round(s.enqueuedPerSecond)),
    ]);
  }
  console.log(b.toString());
  for (const s of backfills) console.log(`  cost estimate ${s.tableName}: ${describeCost(s.cost)}`);

  const w = newTable(['worker (work queue)', 'value']);
  w.push(
    ['messages / items processed', `${n.format(r.workerMessages)} / ${n.format(r.workerItems)}`],
    ['items migrated', n.format(r.workerMigrated)],
    ['conflicts (a newer app write won; the stream migrates it)', n.format(r.workerConflicts)],
    [
      'pipeline items/s (scan start → queue drained)',
      n.format(Math.round((r.workerItems / drainedMs) * 1000)),
    ],
  );
  console.log(w.toString());

  const t = newTable(['live path (stream consumer)', 'value']);
  t.push(
    [
      'application writes during the demo',
      `${n.format(r.appWrites)} (${n.format(r.inserts)} inserts, ${n.format(r.deletes)} deletes)`,
    ],
    [
      "stream records processed (incl. those of the worker's own writes)",
      n.format(r.streamRecords),
    ],
    ['items migrated live', n.format(r.streamMigrated)],
    [
      'conflicts (a newer app write won, migrated from its own record)',
      n.format(r.streamConflicts),
    ],
    ['malformed items parked in the DLQ (consumer and worker)', n.format(r.parked)],
    ['given up on (on-failure to the DLQ)', n.format(r.onFailure)],
    ['write → batch done p50 / p99', `${r.p50} ms / ${r.p99} ms`],
  );
  console.log(t.toString());
}
