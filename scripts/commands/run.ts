// `streamfill run`: the deployed stream-consumer and backfill-worker handlers, fed locally by the
// emulated event source mappings (stream and work queue) until stopped (or until both are idle),
// publishing the consumer's heartbeat for `streamfill backfill`.
import { Option, type Command } from 'commander';
import { join } from 'node:path';
import {
  BATCH_SIZE,
  ENV,
  FUNCTION_TIMEOUT_SECONDS,
  LOCAL_REDELIVERY,
  LOCAL_STATE_TABLE,
  STREAM_RETRY_ATTEMPTS,
  WORK_QUEUE_VISIBILITY_SECONDS,
  WORKER_BATCH_SIZE,
  WORKER_CONCURRENCY,
} from '../../lib/config/defaults.ts';
import {
  LATEST_POSITION_DELAY_MS,
  startLocalRunner,
  type LocalRunner,
} from '../../local/runner.ts';
import {
  commandConfig,
  migrationsOption,
  migrationsToCheck,
  nonNegativeInt,
  positiveInt,
  requireTable,
  withSharedOptions,
} from '../config.ts';
import { makeRuntime, makeStateStore, runnerTargets } from '../runtime.ts';
import { jsonOutput, jsonTarget } from '../output.ts';

export function registerRunCommand(program: Command): void {
  withSharedOptions(
    migrationsOption(program.command('run'), 'to run')
      .description(
        'Run the stream consumer and the backfill worker locally: the deployed handlers fed by emulated Lambda event source mappings (DynamoDB stream, work queue), publishing the consumer heartbeat `backfill` waits on.',
      )
      .option('--batch-size <n>', 'records per invocation', positiveInt('--batch-size'), BATCH_SIZE)
      .option(
        '--batching-window-ms <ms>',
        'wait up to this long to fill a batch',
        nonNegativeInt('--batching-window-ms'),
        0,
      )
      .option(
        '--parallelization-factor <n>',
        "batches of one shard in flight at once, lanes by item key (1..10, as Lambda's ParallelizationFactor)",
        positiveInt('--parallelization-factor'),
        1,
      )
      .option(
        '--max-retries <n>',
        'retries of a failing batch before the DLQ',
        nonNegativeInt('--max-retries'),
        STREAM_RETRY_ATTEMPTS.local,
      )
      .option(
        '--starting-position <pos>',
        'TRIM_HORIZON or LATEST (first start only)',
        'TRIM_HORIZON',
      )
      .option(
        '--latest-position-delay-ms <ms>',
        'a LATEST start is pinned this long after the mapping started, as AWS may (writes meanwhile are not delivered; 0: pinned at once)',
        nonNegativeInt('--latest-position-delay-ms'),
        LATEST_POSITION_DELAY_MS,
      )
      .option(
        '--checkpoint-dir <dir>',
        'where shard positions are kept',
        join('.streamfill', 'checkpoints'),
      )
      .option(
        '--worker-batch-size <n>',
        'work-queue messages per worker invocation (1..10; Lambda SQS default)',
        positiveInt('--worker-batch-size'),
        WORKER_BATCH_SIZE,
      )
      .option(
        '--worker-concurrency <n>',
        'worker batches in flight at once (parallel SQS pollers; each batch writes with up to 16 conditional updates in flight)',
        positiveInt('--worker-concurrency'),
        WORKER_CONCURRENCY.local,
      )
      .option(
        '--worker-timeout <s>',
        "the worker's function timeout; the work queue's visibility timeout must be at least this (as on AWS)",
        positiveInt('--worker-timeout'),
        FUNCTION_TIMEOUT_SECONDS,
      )
      .option(
        '--work-queue-visibility <s>',
        'visibility timeout of the work queue when this creates it (an existing queue must have the same)',
        positiveInt('--work-queue-visibility'),
        WORK_QUEUE_VISIBILITY_SECONDS,
      )
      .option('--no-worker', 'run the stream consumer only')
      .addOption(
        new Option(
          '--state-table <name>',
          'backfill state table: consumer heartbeat, scan checkpoints (created when missing)',
        )
          .env(ENV.stateTable)
          .default(LOCAL_STATE_TABLE),
      )
      .option(
        '--checkpoint-file <file>',
        'keep the backfill state (heartbeat, checkpoints) in this JSON file instead of the state table',
      )
      .option(
        '--until-idle',
        'exit once the stream is caught up and the work queue is empty',
        false,
      )
      .option(
        '--redelivery <rate>',
        'emulated at-least-once delivery: share of successful deliveries made again (stream batches re-invoked or replayed, SQS deletes skipped), as AWS may; 0 turns it off',
        redeliveryRate,
        LOCAL_REDELIVERY.rate,
      )
      .option(
        '--redelivery-seed <n>',
        'seed of the redelivery dice (repeatable runs)',
        nonNegativeInt('--redelivery-seed'),
        LOCAL_REDELIVERY.seed,
      )
      .option(
        '--stats-interval <s>',
        'seconds between status lines (0: none)',
        nonNegativeInt('--stats-interval'),
        10,
      )
      .option(
        '--json',
        'print the final counts as JSON on stdout (status lines go to stderr)',
        false,
      ),
  ).action(async (opts) => {
    if (opts.startingPosition !== 'TRIM_HORIZON' && opts.startingPosition !== 'LATEST') {
      throw new Error(
        `--starting-position must be TRIM_HORIZON or LATEST, got "${opts.startingPosition}"`,
      );
    }
    if (opts.parallelizationFactor > 10) {
      throw new Error(
        `--parallelization-factor must be 1..10 (Lambda's limit), got ${opts.parallelizationFactor}`,
      );
    }
    if (opts.workerBatchSize > 10) {
      throw new Error(
        `--worker-batch-size must be at most 10 (SQS returns at most 10 messages per receive), got ${opts.workerBatchSize}`,
      );
    }
    const json = jsonOutput(jsonTarget(opts.json));
    const { planner, config } = await commandConfig(opts);
    // The deployed set with --stack (its Migrations output), as the deployed handlers run it.
    const migrations = migrationsToCheck(planner, opts.migrations, false);
    const rt = makeRuntime(config, {
      planner,
      migrations,
      ...(!opts.checkpointFile && { stateTable: opts.stateTable }),
    });
    // Every migrated table, every table a lookup reads and every copy target must exist first.
    const needed = new Set([
      ...planner.migratedTables,
      ...planner.migratedTables
        .flatMap((t) => planner.lookupsFor(t, planner.allMigrations))
        .map((l) => l.table.name),
      ...[...planner.summaries.values()].flatMap((m) => m.copiesTo),
    ]);
    for (const table of needed) await requireTable(rt.clients.dynamodb, rt.config.tables, table);
    const stateStore = await makeStateStore(rt.clients, {
      stateTable: opts.stateTable,
      checkpointFile: opts.checkpointFile,
    });
    const runner = await startLocalRunner({
      stateStore,
      worker: opts.worker,
      workerBatchSize: opts.workerBatchSize,
      workerConcurrency: opts.workerConcurrency,
      workerFunctionTimeoutMs: opts.workerTimeout * 1000,
      workQueueVisibilitySeconds: opts.workQueueVisibility,
      ...runnerTargets(rt),
      checkpointDir: opts.checkpointDir,
      batchSize: opts.batchSize,
      batchingWindowMs: opts.batchingWindowMs,
      parallelizationFactor: opts.parallelizationFactor,
      maxRetries: opts.maxRetries,
      startingPosition: opts.startingPosition,
      redelivery: {
        rate: opts.redelivery,
        seed: opts.redeliverySeed,
        visibilitySeconds: LOCAL_REDELIVERY.visibilitySeconds,
      },
      latestPositionDelayMs: opts.latestPositionDelayMs,
      logger: {
        info: () => {},
        warn: (msg, data) => console.error(`warn: ${msg} ${data ? JSON.stringify(data) : ''}`),
        error: (msg, data) => console.error(`error: ${msg} ${data ? JSON.stringify(data) : ''}`),
      },
    });
    const line = (): string => statusLine(runner);
    console.log(
      `streamfill run: consuming the streams of ${[...runner.streams.keys()].map((t) => rt.config.tables[t] ?? t).join(', ')}` +
        (runner.worker ? ` and the work queue ${runner.queues.work}` : '') +
        ` (DLQ ${runner.queues.dlq}; heartbeat in ${opts.checkpointFile ?? `table ${opts.stateTable}`})`,
    );
    try {
      if (opts.untilIdle) {
        await runner.waitForIdle(30 * 60_000);
      } else {
        await new Promise<void>((resolve) => {
          const timer =
            opts.statsInterval > 0
              ? setInterval(() => console.log(line()), opts.statsInterval * 1000)
              : undefined;
          const done = (): void => {
            if (timer) clearInterval(timer);
            resolve();
          };
          process.once('SIGINT', done);
          process.once('SIGTERM', done);
        });
      }
    } finally {
      await runner.stop();
      console.log(`stopped: ${line()}`);
      await json.emit(runner.counts());
      json.restore();
      rt.close();
    }
  });
}

/** Parses `--redelivery`: a share between 0 and 1, with a specific error. */
export function redeliveryRate(value: string): number {
  const rate = Number(value);
  if (value.trim() === '' || !Number.isFinite(rate) || rate < 0 || rate > 1)
    throw new Error(`--redelivery must be a number between 0 and 1, got "${value}"`);
  return rate;
}

/**
 * One status line: the two mappings' work, outcomes, and the two ways a failure reaches the
 * DLQ counted apart (`parked`: malformed items the handlers parked; `on-failure`: records and
 * messages the mappings gave up on).
 */
export function statusLine(runner: LocalRunner): string {
  const c = runner.counts();
  const s = runner.stats();
  const hb = runner.heartbeat();
  return (
    `stream records ${c.streamRecords}` +
    (runner.worker ? `, worker messages ${c.workerMessages} (items ${c.workerItems})` : '') +
    `, migrated ${c.migrated}, conflicts ${c.conflicts}, parked ${c.parked}, on-failure ${c.onFailure}` +
    `, redelivered ${c.duplicates}` +
    `, shards ${s.shards.length}, ${hb.caughtUp ? 'caught up' : `iterator age ${s.iteratorAgeMs} ms`}`
  );
}
