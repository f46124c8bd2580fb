// `streamfill demo --preset bedrock-chat-v3`: Bedrock Chat V2 → V3 as a live copy on the local
// stack — the V2 and V3 tables, V2 data, `run` (consumer + worker) with the preset's config, the
// V2 application writing throughout, `backfill` through the work queue, drain, then the final
// `cutover check` (consumer caught up, queues empty, every V3 item what its V2 source derives
// now), and a summary.
import type { BackfillStateStore } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients } from '../../lib/adapters/clients.ts';
import { existingQueueUrl } from '../../lib/adapters/dlq-reader.ts';
import {
  LOCAL_REDELIVERY,
  LOCAL_STATE_TABLE,
  SCANNER_MAX_ATTEMPTS,
} from '../../lib/config/defaults.ts';
import type { Planner } from '../../lib/core/config/planner.ts';
import type { BackfillSummary } from '../../lib/engine/backfill.ts';
import { checkCutover, type CutoverReport } from '../../lib/engine/cutover.ts';
import { BedrockAppWriter, type BedrockWriterCounts } from '../../local/bedrock-app-writer.ts';
import { seedBedrock } from '../../local/bedrock-seed.ts';
import { bedrockTableNames } from '../../local/bedrock-tables.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { loadPlanner } from '../config-loader.ts';
import { configFrom } from '../config.ts';
import { newTable } from '../output.ts';
import { makeRuntime, makeStateStore, runnerTargets, type Runtime } from '../runtime.ts';
import { renderSummary } from './backfill/render.ts';
import { CUTOVER_MAX_LAG_SECONDS, renderCutover } from './cutover.ts';
import { backfillTable, startDemoServices } from './demo-steps.ts';
import { statusSourcesOf } from './status.ts';

/** How long the drain may take once the scan is done (queue drain + stream catch-up). */
const CONVERGE_TIMEOUT_MS = 10 * 60_000;
export interface BedrockDemoOptions extends Record<string, unknown> {
  users: number;
  segments: number;
  liveRate: number;
  seed: number;
}

/**
 * `streamfill cutover check` on the running local stack: the consumer caught up, the work queue
 * and the DLQ empty, and the copy diff clean (skipped aliases listed, not failing).
 */
async function cutoverCheck(
  rt: Runtime,
  planner: Planner,
  store: BackfillStateStore,
): Promise<CutoverReport> {
  const { config, clients } = rt;
  const [workUrl, dlqUrl] = await Promise.all([
    existingQueueUrl(clients.sqs, config.queueName, 'the work queue'),
    existingQueueUrl(clients.sqs, config.dlqName, 'the DLQ'),
  ]);
  const places = { workUrl, dlqUrl, state: { store } };
  return checkCutover({
    diff: { doc: clients.doc, planner, tables: config.tables, lookups: rt.lookups },
    statusSources: (table) => statusSourcesOf(clients, config, table, places, { mode: 'local' }),
    maxLagMs: CUTOVER_MAX_LAG_SECONDS * 1000,
  });
}

interface LiveCounts {
  streamRecords: number;
  streamMigrated: number;
  streamConflicts: number;
  workerItems: number;
  workerMigrated: number;
  workerConflicts: number;
  parked: number;
  onFailure: number;
}

export async function demoBedrock(
  opts: BedrockDemoOptions,
  emit: (value: unknown) => Promise<void>,
): Promise<void> {
  const step = (msg: string): void => console.log(`\n▶ ${msg}`);
  step('starting local services (DynamoDB Local, ElasticMQ)');
  const t0 = Date.now();
  const services = await startDemoServices();
  try {
    // The preset is the config, whatever config the directory has; --table-name still maps.
    const planner = await loadPlanner({ preset: 'bedrock-chat-v3' });
    const config = configFrom({ ...opts, searchEndpoint: undefined }, planner);
    const stateTable = (opts.stateTable as string | undefined) ?? LOCAL_STATE_TABLE;
    const rt = makeRuntime(config, { planner, stateTable });
    const scanner = makeClients({ maxAttempts: SCANNER_MAX_ATTEMPTS });
    try {
      const names = bedrockTableNames(config.tables);
      step(`creating the V2 and V3 tables and seeding V2 data for ${opts.users} users`);
      const seeded = await seedBedrock(
        { dynamodb: rt.clients.dynamodb, doc: rt.clients.doc, tables: names },
        { users: opts.users, seed: opts.seed },
      );
      console.log(
        `  ${seeded.bots.length} bots (${seeded.bots.filter((b) => b.PublicBotId !== undefined).length} published), ` +
          `${seeded.aliases.length} aliases (${seeded.aliasesWithoutOwner} of an unpublished or deleted bot), ` +
          `${seeded.conversations.length} conversations, ${seeded.relatedDocuments.length} related documents`,
      );
      if (seeded.createdTables.length < 3)
        console.log('  (some tables existed already: their items are checked too)');

      step('`streamfill run`: stream consumer on the V2 table + work-queue worker, preset config');
      const state = await makeStateStore(rt.clients, { stateTable });
      const live: LiveCounts = {
        streamRecords: 0,
        streamMigrated: 0,
        streamConflicts: 0,
        workerItems: 0,
        workerMigrated: 0,
        workerConflicts: 0,
        parked: 0,
        onFailure: 0,
      };
      const runner = await startLocalRunner({
        ...runnerTargets(rt),
        stateStore: state,
        startingPosition: 'LATEST',
        redelivery: LOCAL_REDELIVERY,
        handlerLogLevel: 'SILENT',
        logger: {
          info: () => {},
          warn: (m) => console.error(`  run: ${m}`),
          error: (m) => console.error(`  run: ${m}`),
        },
        onResults: (results) => {
          for (const r of results.values()) {
            if (r.outcome === 'migrated') live.streamMigrated++;
            if (r.outcome === 'conflict') live.streamConflicts++;
          }
        },
        onWorkerResults: (summary) => {
          for (const r of summary.items) {
            if (r.outcome === 'migrated') live.workerMigrated++;
            if (r.outcome === 'conflict') live.workerConflicts++;
          }
        },
      });

      step(`the V2 application writing ${opts.liveRate} actions/s (no write freeze)`);
      const app = new BedrockAppWriter({
        doc: rt.clients.doc,
        table: names.v2Conversation,
        seeded: [
          ...seeded.bots,
          ...seeded.aliases,
          ...seeded.conversations,
          ...seeded.relatedDocuments,
        ],
        seed: opts.seed,
      });
      app.start(opts.liveRate);

      let writer: BedrockWriterCounts;
      let check: CutoverReport;
      const backfills: BackfillSummary[] = [];
      const scanStart = performance.now();
      let drainedMs = 0;
      try {
        try {
          for (const table of planner.migratedTables) {
            step(`\`streamfill backfill --table ${table}\`: segmented scan → work queue → worker`);
            const summary = await backfillTable(rt, scanner, state, runner, table, opts.segments);
            console.log(renderSummary(summary));
            backfills.push(summary);
          }
          step('waiting for the work queue to drain (the application still writing)');
          await runner.worker?.waitForIdle(CONVERGE_TIMEOUT_MS);
          drainedMs = performance.now() - scanStart;
        } finally {
          step('stopping the V2 application; waiting for the stream and the queue to drain');
          writer = await app.stop();
        }
        await runner.waitForIdle(CONVERGE_TIMEOUT_MS);
        // The gate is checked while the copy still runs, as an operator checks it before the switch.
        step('`streamfill cutover check`: consumer caught up, queues empty, every V3 item diffed');
        check = await cutoverCheck(rt, planner, state);
      } finally {
        await runner.stop();
      }
      const c = runner.counts();
      Object.assign(live, {
        streamRecords: c.streamRecords,
        workerItems: c.workerItems,
        parked: c.parked,
        onFailure: c.onFailure,
      });

      const ok =
        check.check.exitCode === 0 &&
        backfills.every((b) => b.outcome === 'finished') &&
        live.parked === 0 &&
        live.onFailure === 0;
      const ms = Date.now() - t0;
      printBedrockSummary({ seeded, writer, live, backfills, check, drainedMs, ms });
      console.log(
        ok
          ? `\n✔ cutover check 0: every V3 item is what its V2 source derives (${ms} ms in all)`
          : `\n✘ the copy is not ready to cut over (cutover check exit ${check.check.exitCode}, see above)`,
      );
      process.exitCode = ok ? 0 : 1;
      await emit({
        preset: 'bedrock-chat-v3',
        converged: ok,
        seeded: {
          bots: seeded.bots.length,
          aliases: seeded.aliases.length,
          aliasesWithoutOwner: seeded.aliasesWithoutOwner,
          conversations: seeded.conversations.length,
          relatedDocuments: seeded.relatedDocuments.length,
        },
        writer,
        live,
        backfills,
        check,
        drainedMs: Math.round(drainedMs),
        ms,
      });
    } finally {
      destroyClients(scanner);
      rt.close();
    }
  } finally {
    step('stopping local services');
    await services.stop();
  }
}

function printBedrockSummary(s: {
  seeded: Awaited<ReturnType<typeof seedBedrock>>;
  writer: BedrockWriterCounts;
  live: LiveCounts;
  backfills: BackfillSummary[];
  check: CutoverReport;
  drainedMs: number;
  ms: number;
}): void {
  const n = new Intl.NumberFormat('en-US');
  console.log('\nSummary');
  const seeded = newTable(['seeded V2 items', 'count']);
  seeded.push(
    [
      'bots (published)',
      `${s.seeded.bots.length} (${s.seeded.bots.filter((b) => b.PublicBotId !== undefined).length})`,
    ],
    [
      'aliases (of an unpublished or deleted bot)',
      `${s.seeded.aliases.length} (${s.seeded.aliasesWithoutOwner})`,
    ],
    ['conversations', s.seeded.conversations.length],
    ['related documents', s.seeded.relatedDocuments.length],
  );
  console.log(seeded.toString());

  const w = newTable(['V2 application during the backfill', 'actions']);
  for (const [op, count] of Object.entries(s.writer)) if (op !== 'requests') w.push([op, count]);
  w.push(['DynamoDB requests', s.writer.requests]);
  console.log(w.toString());

  const b = newTable(['backfill', 'scanned', 'enqueued', 'messages', 'outcome']);
  for (const x of s.backfills)
    b.push([
      x.tableName,
      n.format(x.scanned),
      n.format(x.enqueued),
      n.format(x.messages),
      x.outcome,
    ]);
  console.log(b.toString());

  const p = newTable(['copy pipeline', 'value']);
  p.push(
    ['sources copied by the worker (historic)', n.format(s.live.workerMigrated)],
    ['sources copied live (stream)', n.format(s.live.streamMigrated)],
    [
      'conflicts (the source moved on; its own record copies it)',
      `${s.live.workerConflicts} worker, ${s.live.streamConflicts} stream`,
    ],
    ['stream records processed', n.format(s.live.streamRecords)],
    ['parked in the DLQ / given up on', `${s.live.parked} / ${s.live.onFailure}`],
    ['scan start → queue drained', `${Math.round(s.drainedMs)} ms`],
    ['demo, in all', `${s.ms} ms`],
  );
  console.log(p.toString());

  console.log('\ncutover check');
  console.log(renderCutover(s.check));
}
