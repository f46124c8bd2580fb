// `streamfill bench`: benchmarks on the local stack (numbers, not pass/fail).
import type { Command } from 'commander';
import Table from 'cli-table3';
import { benchLive, type LiveBenchResult } from '../bench/live.ts';
import { BATCH_SIZE } from '../../lib/config/defaults.ts';
import { nonNegativeInt, positiveInt } from '../config.ts';

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
    .option('--json', 'print the result as JSON', false)
    .action(async (opts) => {
      const log = opts.json ? (l: string) => console.error(l) : (l: string) => console.log(l);
      const r = await benchLive({
        rate: opts.rate,
        durationSeconds: opts.duration,
        users: opts.users,
        writers: opts.writers,
        batchSize: opts.batchSize,
        log,
      });
      if (r.warning) console.error(`warning: ${r.warning}`);
      console.log(opts.json ? JSON.stringify(r, null, 2) : renderLive(r));
    });
}

function renderLive(r: LiveBenchResult): string {
  const t = new Table({ head: ['live path', 'value', 'target'] });
  t.push(
    [
      'application writes',
      `${r.appWrites} in ${r.durationSeconds} s (${r.achievedRate}/s)`,
      `${r.targetRate}/s`,
    ],
    ['write → derived fields p50', `${r.latencyMs.p50} ms`, ''],
    ['write → derived fields p95', `${r.latencyMs.p95} ms`, ''],
    ['write → derived fields p99', `${r.latencyMs.p99} ms`, '≤ 1000 ms'],
    ['write → derived fields max', `${r.latencyMs.max} ms (${r.latencyMs.samples} samples)`, ''],
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
