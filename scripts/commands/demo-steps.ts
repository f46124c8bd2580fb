// The steps both demos take: the local services up (with a fresh DynamoDB Local database), and
// the historic pass, `streamfill backfill --table <table>` run in-process against the local
// runner's work queue, with the CLI's gates (consumer heartbeat, canary, continuity).
import { randomBytes } from 'node:crypto';
import type { BackfillStateStore } from '../../lib/adapters/backfill-state.ts';
import type { Clients } from '../../lib/adapters/clients.ts';
import { heartbeatProbe } from '../../lib/adapters/consumer-probe.ts';
import { CONSUMER_HEARTBEAT, consumerHeartbeatId } from '../../lib/config/defaults.ts';
import { continuityBreak } from '../../lib/core/backfill-run.ts';
import { DEFAULT_PRICES } from '../../lib/core/cost-estimate.ts';
import { physicalTable } from '../../lib/core/config/table-names.ts';
import { runBackfill, type BackfillSummary } from '../../lib/engine/backfill.ts';
import type { LocalRunner } from '../../local/runner.ts';
import {
  applyServiceEnv,
  startLocalServices,
  type LocalServices,
} from '../../local/services/index.ts';
import type { Runtime } from '../runtime.ts';
import { progressView } from './backfill/render.ts';

/** Starts the local services for a demo and points this process at them. */
export async function startDemoServices(): Promise<LocalServices> {
  const t0 = Date.now();
  const services = await startLocalServices({ log: (l) => console.log(`  ${l}`) });
  applyServiceEnv(services.env);
  // A fresh DynamoDB Local database per demo run (it keys databases by access key).
  if (services.provider !== 'env')
    process.env.AWS_ACCESS_KEY_ID = `demo${randomBytes(4).toString('hex')}`;
  console.log(`  ready in ${Date.now() - t0} ms via ${services.provider}`);
  return services;
}

/**
 * `streamfill backfill --table <table>` in-process: consumer-first gate, progress, summary.
 * `log` given (a bench): its lines go there and no progress view is drawn.
 */
export async function backfillTable(
  rt: Pick<Runtime, 'config' | 'planner' | 'search'>,
  scanner: Clients,
  state: BackfillStateStore,
  runner: Pick<LocalRunner, 'queues'>,
  table: string,
  segments: number,
  log?: (line: string) => void,
): Promise<BackfillSummary> {
  const tableName = physicalTable(rt.config.tables, table);
  // Every migrated table of the preset has a stream: its consumer is waited for.
  const consumer = heartbeatProbe(state, consumerHeartbeatId(tableName), {
    staleMs: CONSUMER_HEARTBEAT.staleAfterMs,
  });
  const view = progressView(!log && Boolean(process.stdout.isTTY) && !process.env.CI, 2_000);
  try {
    return await runBackfill(
      {
        table,
        tableName,
        segments,
        searchEnabled: Boolean(rt.search),
        prices: DEFAULT_PRICES,
      },
      {
        planner: rt.planner,
        doc: scanner.doc,
        dynamodb: scanner.dynamodb,
        sqs: scanner.sqs,
        queueUrl: runner.queues.work,
        state,
        consumer,
        // The local mapping pins LATEST seconds after it started, as AWS may: the canary proves
        // the consumer reads before the first page.
        canary: { doc: scanner.doc, table: rt.planner.table(table), tableName, state },
        // As the CLI: the filter only once a pass without it finished under a reading consumer.
        continuity: async (lastRun) =>
          continuityBreak(
            await state.getHeartbeat(consumerHeartbeatId(tableName)),
            lastRun,
            Date.now(),
          ),
      },
      {
        onProgress: (p) => {
          if (!log) view.update(p);
        },
        log: (line) => {
          view.stop();
          (log ?? console.log)(`  backfill: ${line}`);
        },
      },
    );
  } finally {
    view.stop();
  }
}
