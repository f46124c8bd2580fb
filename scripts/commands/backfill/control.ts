// Changing a running backfill through its run record: `backfill pause|resume` and `backfill
// set` (rate, backlog, lag limits). The parent command parses the table and state options.
import { hostname, userInfo } from 'node:os';
import type { Command } from 'commander';
import { destroyClients, makeClients } from '../../../lib/adapters/clients.ts';
import { isLocalDynamo } from '../../../lib/adapters/consumer-probe.ts';
import {
  describeLimitChange,
  RunStateError,
  type RunLimits,
  type RunRecord,
} from '../../../lib/core/backfill-run.ts';
import { physicalTable } from '../../../lib/core/config/table-names.ts';
import { BackfillOptionError } from '../../../lib/engine/backfill.ts';
import { minDistributedRate } from '../../../lib/engine/backfill-options.ts';
import { commandConfig } from '../../config.ts';
import { jsonOutput, jsonTarget } from '../../output.ts';
import { tablesOf, type BackfillCliOptions } from './flags.ts';
import { existingStateStore, stateStoreOf } from './stores.ts';

/** `backfill pause` and `backfill resume`: the run record's pause flag. */
export function registerPauseCommands(backfill: Command): void {
  // The parent parses --table, the table names and the state options wherever they appear
  // (also after `pause`), so the subcommands read them from it.
  for (const [name, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    backfill
      .command(name)
      .description(
        (paused
          ? "Pause the table's running backfill (it keeps its position and waits, saying so)."
          : "Let the table's paused backfill continue.") +
          ' Takes the backfill options --table, --config, --table-name, --state-table and --checkpoint-file.',
      )
      .action(async () => {
        const opts = backfill.opts();
        if (opts.table === 'all')
          throw new Error('--table all: pause or resume one table at a time');
        const { planner, config } = await commandConfig(opts);
        const [table] = tablesOf(opts.table, planner) as [string];
        const clients = makeClients();
        try {
          const store = await stateStoreOf(clients, opts as BackfillCliOptions, isLocalDynamo());
          const tableName = physicalTable(config.tables, table);
          const run = await store.setPauseRequested(tableName, paused);
          if (jsonTarget(opts.json)?.kind === 'stdout') {
            console.log(
              JSON.stringify({ table: tableName, runId: run.runId, pauseRequested: paused }),
            );
            return;
          }
          console.log(
            paused
              ? `backfill of ${tableName}: pause requested for run ${run.runId}; the scanner stops reading after its current pages and keeps its position (\`streamfill backfill resume\` continues)`
              : `backfill of ${tableName}: run ${run.runId} continues`,
          );
        } finally {
          destroyClients(clients);
        }
      });
  }
}

/** `user@host`: who changed a run's limits, unless `--by` says otherwise. */
function operatorName(): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry (containers): keep $USER
  }
  return `${user}@${hostname()}`;
}

/**
 * `backfill set --rate N --max-backlog N --max-lag-seconds N [--by NAME]`: changes the limits of
 * the table's running backfill through the run record; the scanner (or the distributed segment
 * tasks) picks them up at its next look (--poll-interval-ms, 1 s by default).
 */
export function registerSetCommand(backfill: Command): void {
  backfill
    .command('set')
    .description(
      "Change the limits of the table's running backfill without stopping it: --rate (items/s, or 'unlimited'), " +
        '--max-backlog, --max-lag-seconds. Takes the backfill options --table, --config, --table-name, ' +
        '--state-table and --checkpoint-file; the scan shows the change and its author on its progress line.',
    )
    .option('--by <name>', 'who makes the change, shown on the progress line (default: user@host)')
    .action(async (own: { by?: string }) => {
      const opts = backfill.opts();
      const changes = givenLimits(backfill);
      if (opts.table === 'all') throw new Error('--table all: change one table at a time');
      const by = own.by ?? operatorName();
      if (!by.trim()) throw new Error('--by must not be empty');
      const { planner, config } = await commandConfig(opts);
      const [table] = tablesOf(opts.table, planner) as [string];
      const clients = makeClients();
      try {
        const tableName = physicalTable(config.tables, table);
        const store = await existingStateStore(
          clients,
          opts as BackfillCliOptions,
          isLocalDynamo(),
        );
        const run = await store.getRun(tableName);
        if (!run || (run.status !== 'running' && run.status !== 'paused')) {
          throw new RunStateError(`backfill of ${tableName}: no unfinished run to change`);
        }
        const before = limitsInForce(run);
        const after: RunLimits = { ...before, ...changes, changedBy: by, changedAtMs: Date.now() };
        checkDistributedRate(run, after);
        const store2 = await stateStoreOf(clients, opts as BackfillCliOptions, isLocalDynamo());
        await store2.setLimits(tableName, after);
        // With --json the human line goes to stderr and stdout is one document.
        const out = jsonOutput(jsonTarget(opts.json));
        try {
          console.log(
            `backfill of ${tableName}, run ${run.runId}: ${describeLimitChange(before, after)}`,
          );
          await out.emit({ table: tableName, runId: run.runId, before, after, changedBy: by });
        } finally {
          out.restore();
        }
      } catch (e) {
        if (e instanceof RunStateError || e instanceof BackfillOptionError) {
          console.error(`streamfill: ${e.message}`);
          process.exitCode = 1;
          return;
        }
        throw e;
      } finally {
        destroyClients(clients);
      }
    });
}

/**
 * The limits `backfill set` changes: the parent parses --rate, --max-backlog and
 * --max-lag-seconds wherever they appear; only those given on the command line change (the
 * others keep the run's value, not a default).
 */
function givenLimits(backfill: Command): Partial<RunLimits> {
  const opts = backfill.opts();
  const given = (name: string): boolean => backfill.getOptionValueSource(name) === 'cli';
  const rate = given('rate')
    ? opts.rate === 'unlimited'
      ? null
      : (opts.rate as number)
    : undefined;
  const changes: Partial<RunLimits> = {
    ...(rate !== undefined && { rate }),
    ...(given('maxBacklog') && { maxBacklog: opts.maxBacklog as number }),
    ...(given('maxLagSeconds') && { maxLagSeconds: opts.maxLagSeconds as number }),
  };
  if (!Object.keys(changes).length) {
    throw new Error('backfill set: give at least one of --rate, --max-backlog, --max-lag-seconds');
  }
  return changes;
}

/** The run's limits now: its last `backfill set`, else the options it started with. */
function limitsInForce(run: RunRecord): RunLimits {
  return (
    run.limits ?? {
      rate: typeof run.options.rate === 'number' ? run.options.rate : null,
      ...(typeof run.options.maxBacklog === 'number' && { maxBacklog: run.options.maxBacklog }),
      ...(typeof run.options.maxLagSeconds === 'number' && {
        maxLagSeconds: run.options.maxLagSeconds,
      }),
    }
  );
}

/** A distributed run's segments cannot go slower than one item per SQS maximal delay. */
function checkDistributedRate(run: RunRecord, after: RunLimits): void {
  const segments = run.totalSegments;
  const floor = minDistributedRate(segments);
  if (run.options.mode === 'distributed' && after.rate !== null && after.rate < floor) {
    throw new BackfillOptionError(
      `--rate ${after.rate} is too low for the distributed run over ${segments} segments: at least ${floor.toPrecision(3)} items/s`,
    );
  }
}
