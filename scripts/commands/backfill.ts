// `streamfill backfill`: the one-shot historic pass (scanner → work queue → worker), plus
// `backfill pause|resume|set`. Wires the flags to runBackfill, one table after the other; its
// parts by role are in ./backfill/ (flags, pre-start checks, --keys file, stores, rendering,
// the run's controls).
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { Command } from 'commander';
import type { BackfillStateStore } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import {
  eventSourceMappingProbe,
  heartbeatProbe,
  isLocalDynamo,
  type ConsumerProbe,
} from '../../lib/adapters/consumer-probe.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { describeTableFacts } from '../../lib/adapters/backfill-reads.ts';
import { LookupReader } from '../../lib/adapters/lookup-reader.ts';
import {
  CONSUMER_HEARTBEAT,
  consumerHeartbeatId,
  ENV,
  SCANNER_MAX_ATTEMPTS,
} from '../../lib/config/defaults.ts';
import { continuityBreak, RunOwnershipError, RunStateError } from '../../lib/core/backfill-run.ts';
import type { Planner } from '../../lib/core/config/planner.ts';
import { physicalTable } from '../../lib/core/config/table-names.ts';
import type { Key } from '../../lib/core/types.ts';
import {
  BackfillOptionError,
  runBackfill,
  type BackfillSummary,
} from '../../lib/engine/backfill.ts';
import { configSearchSpec } from '../../lib/engine/deps.ts';
import { oneShotWarning } from '../../lib/engine/live-path.ts';
import { runPreflight } from '../../lib/engine/preflight.ts';
import { commandConfig, migrationsOption, withSharedOptions, type Config } from '../config.ts';
import { jsonOutput, jsonTarget } from '../output.ts';
import { preflightLambda, renderFindings } from './preflight.ts';
import { checkFlags, checkServices } from './backfill/checks.ts';
import { registerPauseCommands, registerSetCommand } from './backfill/control.ts';
import {
  addBackfillFlags,
  addStateOptions,
  engineOptions,
  tablesOf,
  type BackfillCliOptions,
} from './backfill/flags.ts';
import { HELP_AFTER } from './backfill/help.ts';
import { progressView, renderSummary } from './backfill/render.ts';
import { queueUrlsOf, stateStoreOf } from './backfill/stores.ts';

/** Exit status of a pass in which some items could not be carried (each parked with its reason). */
export const EXIT_ITEMS_PARKED = 3;

export function registerBackfillCommand(program: Command): void {
  const cmd = addBackfillFlags(
    program
      .command('backfill')
      .description(
        'Scan the historic items and enqueue them for the backfill worker (one-shot, resumable, throttled).',
      ),
  );
  // With --stack the deployed set: the scan carries what the deployed worker plans, no more.
  migrationsOption(cmd, 'to scan for');
  const backfill = withSharedOptions(addStateOptions(cmd.addHelpText('after', HELP_AFTER))).action(
    async (opts) => {
      process.exitCode = await backfillAction(opts);
    },
  );
  registerSetCommand(backfill);
  registerPauseCommands(backfill);
}

/** What every table's pass shares: the clients, the stores, the queues, the stop signal. */
interface Session {
  opts: BackfillCliOptions;
  config: Config;
  planner: Planner;
  clients: Clients;
  local: boolean;
  lambda: ReturnType<typeof preflightLambda>;
  cloudwatch: CloudWatchClient | undefined;
  state: BackfillStateStore;
  queues: { work: string; dlq: string };
  keys: Key[] | undefined;
  searchEnabled: boolean;
  signal: AbortSignal;
  /** The tables with a live path: a consumer to wait for (a --one-shot table has none). */
  streamed: ReadonlySet<string>;
}

async function backfillAction(opts: BackfillCliOptions): Promise<number> {
  let keys: Key[] | undefined;
  let planner: Planner, config: Config, tables: string[];
  try {
    ({ planner, config } = await commandConfig(opts as unknown as Record<string, unknown>));
    tables = tablesOf(opts.table, planner);
    keys = await checkFlags(opts, planner, tables);
  } catch (e) {
    console.error(`streamfill: ${(e as Error).message}`);
    return 1;
  }
  const local = isLocalDynamo();
  // Low SDK retries on the scanner's reads: the throttler must see the throttling.
  const clients = makeClients({
    searchEndpoint: config.searchEndpoint,
    maxAttempts: SCANNER_MAX_ATTEMPTS,
  });
  const lambda = preflightLambda();
  const cloudwatch = local
    ? undefined
    : new CloudWatchClient({
        region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
      });
  const interrupt = stopOnInterrupt();
  const summaries: BackfillSummary[] = [];
  const json = jsonOutput(jsonTarget(opts.json));
  try {
    const livePaths = await checkServices(clients, config, planner, opts, tables, keys, local);
    const oneShot = opts.oneShot ? livePaths.filter((l) => !l.ok).map(oneShotWarning) : [];
    for (const w of oneShot) console.error(`backfill: WARNING ${w}`);
    const session: Session = {
      opts,
      config,
      planner,
      clients,
      local,
      lambda,
      cloudwatch,
      state: await stateStoreOf(clients, opts, local),
      queues: await queueUrlsOf(clients, config, local),
      keys,
      searchEnabled: Boolean(clients.search),
      signal: interrupt.signal,
      streamed: new Set(livePaths.filter((l) => l.ok).map((l) => l.table)),
    };
    // The table `streamfill preflight` checks by default: the config's first migrated one.
    const preflighted = planner.migratedTables[0] as string;
    if (tables.includes(preflighted) && !(await preflightAllows(session, preflighted))) return 1;
    for (const table of tables) {
      if (interrupt.signal.aborted) break;
      summaries.push(await backfillTable(session, table));
    }
    const warnings = oneShot.length ? { warnings: oneShot } : {};
    if (opts.json)
      await json.emit(
        summaries.length === 1
          ? { ...summaries[0], ...warnings }
          : { tables: summaries, ...warnings },
      );
    return exitStatus(opts, summaries, interrupt.signal.aborted);
  } catch (e) {
    if (
      e instanceof BackfillOptionError ||
      e instanceof RunStateError ||
      e instanceof RunOwnershipError
    ) {
      console.error(`streamfill: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    json.restore();
    interrupt.release();
    lambda.lambda?.destroy();
    cloudwatch?.destroy();
    destroyClients(clients);
  }
}

/** SIGINT/SIGTERM stop after the current pages; a second one quits at once (exit 130). */
function stopOnInterrupt(): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(
      '\nbackfill: stopping after the current pages (checkpoints are saved); Ctrl-C again to quit at once',
    );
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    },
  };
}

/** The table's preflight: false when it failed and the pass must not start. */
async function preflightAllows(s: Session, table: string): Promise<boolean> {
  const { opts, clients, config, planner } = s;
  const spec = configSearchSpec(planner);
  const index = config.searchIndex ?? spec?.index;
  const pf = await runPreflight({
    table: physicalTable(config.tables, table),
    dynamodb: clients.dynamodb,
    ...s.lambda,
    ...(clients.search &&
      spec &&
      index && { search: { client: clients.search, index, fields: Object.keys(spec.sources) } }),
    ...(typeof opts.rate === 'number' && { rate: opts.rate }),
    ...(opts.consumerFunction && { consumerFunction: opts.consumerFunction }),
  });
  const shown = pf.findings.filter((f) => f.level !== 'ok');
  if (shown.length) console.log(renderFindings(shown));
  if (!pf.failed) return true;
  if (opts.dryRun) console.log('preflight failed: a real run would stop here (dry run continues)');
  else if (opts.skipPreflight)
    console.log('WARNING: --skip-preflight: starting despite the failures above');
  else {
    console.error('backfill: preflight failed; fix the findings above, or pass --skip-preflight');
    return false;
  }
  return true;
}

/**
 * The table's stream consumer to wait for: locally the heartbeat `streamfill run` writes, on AWS
 * the event source mapping. A --one-shot table has none.
 */
async function consumerOf(
  s: Session,
  table: string,
  tableName: string,
): Promise<ConsumerProbe | undefined> {
  if (!s.streamed.has(table)) return undefined;
  if (s.local) {
    return heartbeatProbe(s.state, consumerHeartbeatId(tableName), {
      staleMs: CONSUMER_HEARTBEAT.staleAfterMs,
    });
  }
  const { streamArn } = await describeTableFacts(s.clients.dynamodb, tableName);
  if (!streamArn)
    throw new Error(
      `table ${tableName} has no stream: there is no consumer to wait for (see \`streamfill preflight\`)`,
    );
  if (!s.lambda.lambda || !s.cloudwatch)
    throw new Error(
      `cannot check the stream consumer: ${s.lambda.lambdaUnavailable ?? 'no Lambda client'}`,
    );
  return eventSourceMappingProbe({
    lambda: s.lambda.lambda,
    cloudwatch: s.cloudwatch,
    streamArn,
    ...(s.opts.consumerFunction && { functionName: s.opts.consumerFunction }),
    maxLagMs: s.opts.maxLagSeconds * 1000,
  });
}

/** One table's pass, its progress shown as it goes and its summary printed at the end. */
async function backfillTable(s: Session, table: string): Promise<BackfillSummary> {
  const { opts, clients, config, planner, state, local } = s;
  const tableName = physicalTable(config.tables, table);
  const consumer = await consumerOf(s, table, tableName);
  const view = progressView(
    Boolean(process.stdout.isTTY) && !process.env.CI,
    opts.progressInterval * 1000,
  );
  try {
    const summary = await runBackfill(
      engineOptions(opts, planner, table, tableName, s.keys, s.searchEnabled),
      {
        planner,
        doc: clients.doc,
        dynamodb: clients.dynamodb,
        sqs: clients.sqs,
        queueUrl: s.queues.work,
        state,
        deadLetters: new DeadLetters(clients.sqs, s.queues.dlq),
        // The consumer's continuity, from the heartbeat it keeps in the state store.
        continuity: async (lastRun) =>
          continuityBreak(
            await state.getHeartbeat(consumerHeartbeatId(tableName)),
            lastRun,
            Date.now(),
          ),
        followDistributed: !opts.detach,
        ...(consumer && { consumer }),
        ...(consumer &&
          opts.canary &&
          process.env[ENV.canary] !== 'off' && {
            canary: {
              doc: clients.doc,
              table: planner.table(table),
              tableName,
              state,
              hint: local
                ? `is \`streamfill run\` running on the state table ${opts.stateTable}? (--no-canary to skip)`
                : `a consumer deployed before canaries cannot record it: redeploy the stack, or pass --no-canary`,
            },
          }),
        ...(opts.dryRun && { lookups: new LookupReader(clients.doc, config.tables) }),
      },
      {
        signal: s.signal,
        onProgress: (p) => view.update(p),
        log: (line) => {
          view.stop();
          console.log(`backfill: ${line}`);
        },
      },
    );
    view.stop();
    console.log(renderSummary(summary));
    return summary;
  } finally {
    view.stop();
  }
}

/** 130 stopped, 3 items parked, else 0; with the line that says what to do next. */
function exitStatus(
  opts: BackfillCliOptions,
  summaries: BackfillSummary[],
  interrupted: boolean,
): number {
  const last = summaries.at(-1);
  if (interrupted || last?.outcome === 'stopped') {
    console.error(
      opts.distributed
        ? 'backfill: stopped following; the workers go on scanning (`streamfill status` shows progress)'
        : 'backfill: stopped; checkpoints saved. Continue with `streamfill backfill --resume`',
    );
    return 130;
  }
  if (last?.outcome === 'limit') {
    console.log(
      'backfill: --limit reached; the run is unfinished: `streamfill backfill --resume` continues it, `--restart` starts over',
    );
  }
  const unsendable = summaries.reduce((n, s) => n + s.unsendable, 0);
  if (unsendable) {
    console.error(
      `backfill: ${unsendable} item(s) could not be carried to the worker and were parked in the DLQ with their reason ` +
        `(the rest of the scan completed); fix them, then \`streamfill backfill --keys FILE\` (exit ${EXIT_ITEMS_PARKED})`,
    );
    return EXIT_ITEMS_PARKED;
  }
  return 0;
}
