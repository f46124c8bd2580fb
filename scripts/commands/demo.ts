// `npm start`: the whole job on the embedded local stack, from nothing to verified.
import type { Command } from 'commander';
import Table from 'cli-table3';
import { randomBytes } from 'node:crypto';
import { SCAN_SEGMENTS } from '../../lib/config/defaults.ts';
import { formatKey } from '../../lib/core/key-format.ts';
import { AppSimulator } from '../../local/app-simulator.ts';
import { LatencyTracker } from '../../local/latency-tracker.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { migrateTable, type MigrateTableResult } from '../../lib/engine/migrate-table.ts';
import { isConverged, verifyAll } from '../../lib/engine/verify.ts';
import { applyServiceEnv, startLocalServices } from '../../local/services/index.ts';
import { seed } from '../../local/seed.ts';
import { configFrom, nonNegativeInt, positiveInt, withSharedOptions } from '../config.ts';
import { makeRuntime, runnerTargets, type Runtime } from '../runtime.ts';
import { renderVerifyReport } from './verify.ts';

export function registerDemoCommand(program: Command): void {
  withSharedOptions(
    program
      .command('demo')
      .description(
        'Start local services, seed Pika-shaped legacy data, migrate it, verify, print a summary, stop.',
      )
      .option('--sessions <n>', 'legacy sessions to seed', nonNegativeInt('--sessions'), 5000)
      .option('--users <n>', 'users to seed', nonNegativeInt('--users'), 500)
      .option('--malformed <n>', 'malformed sessions to seed', nonNegativeInt('--malformed'), 6)
      .option('--segments <n>', 'parallel scan segments', positiveInt('--segments'), SCAN_SEGMENTS)
      .option(
        '--live-rate <n>',
        'application writes per second during the demo',
        positiveInt('--live-rate'),
        50,
      ),
  ).action(async (opts) => {
    const step = (msg: string): void => console.log(`\n▶ ${msg}`);
    step('starting local services (DynamoDB Local, ElasticMQ, OpenSearch)');
    const t0 = Date.now();
    const services = await startLocalServices({ log: (l) => console.log(`  ${l}`) });
    try {
      applyServiceEnv(services.env);
      // A fresh DynamoDB Local database per demo run (it keys databases by access key).
      if (services.provider !== 'env')
        process.env.AWS_ACCESS_KEY_ID = `demo${randomBytes(4).toString('hex')}`;
      console.log(`  ready in ${Date.now() - t0} ms via ${services.provider}`);
      for (const [k, v] of Object.entries(services.env)) console.log(`  ${k}=${v}`);

      const config = configFrom({ ...opts, searchEndpoint: services.env.SEARCH_ENDPOINT });
      const rt = makeRuntime(config);
      try {
        step(`seeding ${opts.sessions} legacy sessions, ${opts.users} users and tag definitions`);
        const seeded = await seed(
          {
            dynamodb: rt.clients.dynamodb,
            doc: rt.clients.doc,
            tables: config.tables,
            search: { client: rt.clients.search!, index: config.searchIndex },
          },
          {
            sessions: opts.sessions,
            users: opts.users,
            tags: true,
            migratedFraction: 0.2,
            malformed: opts.malformed,
            unindexed: 10,
          },
        );
        console.log(
          `  ${seeded.sessions.length} sessions, ${seeded.users.length} users, ${seeded.tags.length} tags`,
        );

        step('adding the keyword fields to the OpenSearch mapping (additive only)');
        const added = await rt.search!.ensureMapping();
        console.log(`  added: ${added.join(', ') || 'nothing (already present)'}`);

        step('starting the stream consumer and a live application writer (no write freeze)');
        const live = await startLive(rt, opts.liveRate);

        step(
          'migrating historic items (segmented scan → plan → conditional writes → bulk search update)',
        );
        const progress = (c: Record<string, number>, scanned: number): void => {
          process.stdout.write(`\r  scanned ${scanned}, migrated ${c.migrated ?? 0}   `);
        };
        const sessions = await migrateTable(rt.clients.doc, rt, {
          table: 'session',
          tableName: config.tables.session,
          segments: opts.segments,
          onProgress: progress,
          refresh: true,
        });
        process.stdout.write('\n');
        const tags = await migrateTable(rt.clients.doc, rt, {
          table: 'tag',
          tableName: config.tables.tag,
        });
        // Let the application keep writing a little after the backfill, then drain the stream.
        const liveReport = await live.finish(2_000);

        step('verifying every item (re-plan without writing)');
        const report = await verifyAll({
          doc: rt.clients.doc,
          tables: config.tables,
          search: rt.search,
          include: ['tag'],
        });
        console.log(renderVerifyReport(report));

        printSummary(sessions, tags);
        printLive(liveReport);
        // Malformed items are reported with their reasons; everything else must converge.
        const onlyMalformed = { ...report, malformed: 0, samples: [] };
        // The seed leaves 10 sessions without a document (the app indexer's lag): expected missing.
        const ok =
          isConverged(onlyMalformed, { allowMissingSearch: 10 }) &&
          report.malformed === opts.malformed;
        console.log(
          ok
            ? `\n✔ every seeded item is migrated or reported with a reason (${Date.now() - t0} ms in all)`
            : '\n✘ the data did not converge (see above)',
        );
        process.exitCode = ok ? 0 : 1;
      } finally {
        rt.close();
      }
    } finally {
      step('stopping local services');
      await services.stop();
    }
  });
}

interface LiveReport {
  appWrites: number;
  inserts: number;
  deletes: number;
  streamRecords: number;
  migrated: number;
  conflicts: number;
  parked: number;
  p50: number;
  p99: number;
}

/** The stream consumer plus an application that keeps writing while the backfill runs. */
async function startLive(rt: Runtime, rate: number) {
  const counts = { streamRecords: 0, migrated: 0, conflicts: 0, parked: 0 };
  const latency = new LatencyTracker();
  const runner = await startLocalRunner({
    ...runnerTargets(rt),
    // Deployed now: history is the backfill's job, the stream carries what comes after.
    startingPosition: 'LATEST',
    handlerLogLevel: 'SILENT',
    logger: { info: () => {}, warn: () => {}, error: (m) => console.error(`  stream: ${m}`) },
    onResults: (results, event) => {
      latency.observe(event);
      counts.streamRecords += event.Records.length;
      for (const r of results.values()) {
        if (r.outcome === 'migrated') counts.migrated++;
        if (r.outcome === 'conflict') counts.conflicts++;
        if (r.outcome === 'malformed') counts.parked++;
      }
    },
  });
  const app = new AppSimulator({
    doc: rt.clients.doc,
    sessionTable: rt.config.tables.session,
    ...(rt.clients.search && {
      search: { client: rt.clients.search, index: rt.config.searchIndex },
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
    async finish(afterMs: number): Promise<LiveReport> {
      await new Promise((r) => setTimeout(r, afterMs));
      stopping = true;
      await writing;
      await runner.waitForIdle(60_000);
      await runner.stop();
      const { p50, p99 } = latency.percentiles();
      return {
        appWrites: app.writes.length,
        inserts: app.writes.filter((w) => w.kind === 'insert').length,
        deletes: app.writes.filter((w) => w.kind === 'delete').length,
        ...counts,
        p50: Math.round(p50),
        p99: Math.round(p99),
      };
    },
  };
}

function printLive(r: LiveReport): void {
  const t = new Table({ head: ['live path (stream consumer)', 'value'] });
  t.push(
    [
      'application writes during the demo',
      `${r.appWrites} (${r.inserts} inserts, ${r.deletes} deletes)`,
    ],
    ["stream records processed (incl. those of the backfill's own writes)", r.streamRecords],
    ['items migrated live', r.migrated],
    ['conflicts (a newer app write won, migrated from its own record)', r.conflicts],
    ['malformed items parked in the DLQ', r.parked],
    ['write → batch done p50 / p99', `${r.p50} ms / ${r.p99} ms`],
  );
  console.log(t.toString());
}

function printSummary(sessions: MigrateTableResult, tags: MigrateTableResult): void {
  const cols = ['migrated', 'unchanged', 'conflict', 'missing', 'expired', 'malformed', 'failed'];
  const t = new Table({ head: ['table', 'scanned', ...cols, 'items/s'] });
  for (const [name, r] of [
    ['chat-session', sessions],
    ['tag definitions', tags],
  ] as const) {
    t.push([
      name,
      r.scanned,
      ...cols.map((c) => r.counts[c] ?? 0),
      Math.round((r.scanned / r.ms) * 1000),
    ]);
  }
  console.log('\nSummary');
  console.log(t.toString());
  const s = new Table({ head: ['search documents', 'migrated', 'unchanged', 'missing', 'failed'] });
  const c = sessions.counts;
  s.push([
    'session index',
    c['search-migrated'] ?? 0,
    c['search-unchanged'] ?? 0,
    c['search-missing'] ?? 0,
    c['search-failed'] ?? 0,
  ]);
  console.log(s.toString());
  // Malformed items are listed by verify above; here only the other problems.
  const problems = [...sessions.problems, ...tags.problems].filter(
    (p) => p.outcome !== 'malformed',
  );
  if (problems.length) {
    console.log('Reported with a reason:');
    for (const p of problems) console.log(`  ${formatKey(p.key)} ${p.outcome}: ${p.reason}`);
  }
}
