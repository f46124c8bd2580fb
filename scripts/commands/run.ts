// `streamfill run`: the deployed stream-consumer handler, fed locally by the emulated event
// source mapping until stopped (or until the stream is caught up).
import type { Command } from 'commander';
import { join } from 'node:path';
import { BATCH_SIZE, STREAM_RETRY_ATTEMPTS } from '../../lib/config/defaults.ts';
import { startLocalRunner } from '../../local/runner.ts';
import {
  configFrom,
  nonNegativeInt,
  positiveInt,
  requireTable,
  withSharedOptions,
} from '../config.ts';
import { makeRuntime, runnerTargets } from '../runtime.ts';

export function registerRunCommand(program: Command): void {
  withSharedOptions(
    program
      .command('run')
      .description(
        'Run the stream consumer locally: the deployed handler fed by an emulated Lambda event source mapping.',
      )
      .option('--batch-size <n>', 'records per invocation', positiveInt('--batch-size'), BATCH_SIZE)
      .option(
        '--batching-window-ms <ms>',
        'wait up to this long to fill a batch',
        nonNegativeInt('--batching-window-ms'),
        0,
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
        '--checkpoint-dir <dir>',
        'where shard positions are kept',
        join('.streamfill', 'checkpoints'),
      )
      .option('--until-idle', 'exit once the stream is caught up', false)
      .option(
        '--stats-interval <s>',
        'seconds between status lines (0: none)',
        nonNegativeInt('--stats-interval'),
        10,
      ),
  ).action(async (opts) => {
    if (opts.startingPosition !== 'TRIM_HORIZON' && opts.startingPosition !== 'LATEST') {
      throw new Error(
        `--starting-position must be TRIM_HORIZON or LATEST, got "${opts.startingPosition}"`,
      );
    }
    const rt = makeRuntime(configFrom(opts));
    await requireTable(rt.clients.dynamodb, rt.config.tables, 'session');
    await requireTable(rt.clients.dynamodb, rt.config.tables, 'user');
    const runner = await startLocalRunner({
      ...runnerTargets(rt),
      checkpointDir: opts.checkpointDir,
      batchSize: opts.batchSize,
      batchingWindowMs: opts.batchingWindowMs,
      maxRetries: opts.maxRetries,
      startingPosition: opts.startingPosition,
      logger: {
        info: () => {},
        warn: (msg, data) => console.error(`warn: ${msg} ${data ? JSON.stringify(data) : ''}`),
        error: (msg, data) => console.error(`error: ${msg} ${data ? JSON.stringify(data) : ''}`),
      },
    });
    const line = (): string => {
      const s = runner.stats();
      return (
        `records ${s.recordsProcessed}, batches ${s.batches}, failures ${s.failures}, ` +
        `to DLQ ${s.recordsToOnFailure}, shards ${s.shards.length}, iterator age ${s.iteratorAgeMs} ms`
      );
    };
    console.log(
      `streamfill run: consuming the stream of ${rt.config.tables.session} (DLQ ${runner.queues.dlq})`,
    );
    try {
      if (opts.untilIdle) {
        await runner.waitForIdle(10 * 60_000);
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
      rt.close();
    }
  });
}
