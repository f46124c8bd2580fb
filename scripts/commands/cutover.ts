// `streamfill cutover check` / `cutover wait`: may the application switch to the copies'
// targets now? Thin over lib/engine/cutover.ts: options in, the report out, its exit code.
import { Option, type Command } from 'commander';
import { makeAwsObserver, type AwsObserver } from '../../lib/adapters/aws-metrics.ts';
import { SCAN_SEGMENTS } from '../../lib/config/defaults.ts';
import type { Planner } from '../../lib/core/config/planner.ts';
import { CUTOVER_EXIT_HELP, type CutoverVerdict } from '../../lib/core/cutover-check.ts';
import { COPY_DIFF_REASONS } from '../../lib/core/cutover-diff.ts';
import { formatWait } from '../../lib/core/throttle.ts';
import { selectedCopies } from '../../lib/engine/copy-diff.ts';
import {
  checkCutover,
  waitForCutover,
  type CutoverDeps,
  type CutoverReport,
} from '../../lib/engine/cutover.ts';
import type { StatusSources } from '../../lib/engine/status.ts';
import {
  commandConfig,
  migrationsOption,
  migrationsToCheck,
  positiveInt,
  requireTable,
  withSharedOptions,
} from '../config.ts';
import { makeRuntime, type Runtime } from '../runtime.ts';
import { isLocalMode, openStatusPlaces, statusSourcesOf, withStateStoreOptions } from './status.ts';
import { renderCopies } from './verify.ts';

/** What "caught up" allows by default: a cut-over wants the consumer at the stream's end. */
export const CUTOVER_MAX_LAG_SECONDS = 5;

const seconds =
  (option: string, min: number) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min)
      throw new Error(
        `${option} must be a number of seconds ${min === 0 ? '≥ 0' : '> 0'}, got "${value}"`,
      );
    return n;
  };

/** `--only a,b --only c` → [a, b, c]. */
const copyNames = (value: string, previous: string[] | undefined): string[] => {
  const names = value
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  if (!names.length) throw new Error(`--only needs a copy name, got "${value}"`);
  return [...(previous ?? []), ...names];
};

/** The options `check` and `wait` share. */
function withCutoverOptions(cmd: Command): Command {
  withStateStoreOptions(withSharedOptions(migrationsOption(cmd, 'enabled')))
    .option('--json', 'print the report as one JSON document', false)
    .option(
      '--only <copies>',
      'check only these copies (comma-separated or repeated; default: every enabled copy)',
      copyNames,
    )
    .option(
      '--max-lag-seconds <s>',
      'a source table consumer lagging more is not caught up',
      seconds('--max-lag-seconds', 0),
      CUTOVER_MAX_LAG_SECONDS,
    )
    .option(
      '--consumer-function <name>',
      'AWS: the stream consumer Lambda function (its mapping state and IteratorAge)',
    )
    .option(
      '--segments <n>',
      'parallel scan segments per table',
      positiveInt('--segments'),
      SCAN_SEGMENTS,
    )
    .option('--samples <n>', 'samples kept per copy and reason', positiveInt('--samples'), 20);
  return cmd.addHelpText(
    'after',
    `
Caught up: each copied table's stream consumer judged as \`status --check\` judges it: running
(locally a fresh \`streamfill run\` heartbeat, on AWS an Enabled mapping) and lagging at most
--max-lag-seconds (default ${CUTOVER_MAX_LAG_SECONDS} s; status --check's is 60 s).
Skipped sources (a lookup found nothing, e.g. an alias whose bot is not published) are listed
with the reason and never fail the check.

Exit status:
${CUTOVER_EXIT_HELP}`,
  );
}

export function registerCutoverCommand(program: Command): void {
  const cutover = program
    .command('cutover')
    .description("May the app switch to the copies' targets? Check it, or wait for it.");
  withCutoverOptions(
    cutover
      .command('check')
      .description(
        'Exit 0 only when every copied table consumer is caught up, the work queue and DLQ are empty, and every copy target equals its derivation (no orphan).',
      ),
  ).action(async (opts) => {
    const { deps, close } = await cutoverDeps(opts);
    try {
      const report = await checkCutover(deps);
      console.log(opts.json ? JSON.stringify(report, null, 2) : renderCutover(report));
      reportVerdict(report.check);
    } finally {
      close();
    }
  });
  withCutoverOptions(
    cutover
      .command('wait')
      .description(
        'Repeat `cutover check` until it passes (exit 0) or --timeout: one line per round.',
      )
      .addOption(
        new Option('--interval <s>', 'seconds between checks')
          .argParser(seconds('--interval', 0))
          .default(15),
      )
      .addOption(
        new Option(
          '--timeout <s>',
          "give up after this long, with the last check's exit code (0: never)",
        )
          .argParser(seconds('--timeout', 0))
          .default(0),
      ),
  ).action(async (opts) => {
    const { deps, close } = await cutoverDeps(opts);
    try {
      const { report, timedOut } = await waitForCutover(deps, {
        intervalMs: opts.interval * 1000,
        timeoutMs: opts.timeout * 1000,
        // One line per round; stdout keeps the JSON document with --json.
        onRound: (r, round) => (opts.json ? console.error : console.log)(roundLine(r, round)),
      });
      if (timedOut)
        console.error(`cutover wait: timed out after ${formatWait(opts.timeout * 1000)}`);
      console.log(opts.json ? JSON.stringify(report, null, 2) : renderCutover(report));
      reportVerdict(report.check);
    } finally {
      close();
    }
  });
}

/** Every input checked (copies, tables, queues) before the first read of any item. */
async function cutoverDeps(
  opts: Record<string, unknown>,
): Promise<{ deps: CutoverDeps; close: () => void }> {
  const { planner, config } = await commandConfig(opts);
  const migrations = migrationsToCheck(planner, opts.migrations as string | undefined, false);
  const only = opts.only as string[] | undefined;
  const copies = selectedCopies(planner, migrations, only);
  // The state table's stamps name the items that answer an index key while the index lags.
  const rt = makeRuntime(config, {
    planner,
    migrations,
    ...(!opts.checkpointFile && { stateTable: opts.stateTable as string }),
  });
  const aws: AwsObserver | undefined = isLocalMode() ? undefined : makeAwsObserver();
  const close = () => {
    aws?.close();
    rt.close();
  };
  try {
    await requireTables(rt, planner, copies);
    const places = await openStatusPlaces(rt.clients, config, opts);
    const statusSources = (table: string): StatusSources =>
      statusSourcesOf(rt.clients, config, table, places, {
        mode: aws ? 'aws' : 'local',
        ...(aws && { aws }),
        ...(typeof opts.consumerFunction === 'string' && {
          consumerFunction: opts.consumerFunction,
        }),
      });
    return {
      deps: {
        diff: {
          doc: rt.clients.doc,
          planner,
          tables: config.tables,
          lookups: rt.lookups,
          migrations,
          ...(only && { only }),
          segments: opts.segments as number,
          sampleLimit: opts.samples as number,
        },
        statusSources,
        maxLagMs: (opts.maxLagSeconds as number) * 1000,
      },
      close,
    };
  } catch (e) {
    close();
    throw e;
  }
}

/** The copies' source, target and looked-up tables must exist. */
async function requireTables(
  rt: Runtime,
  planner: Planner,
  copies: ReturnType<typeof selectedCopies>,
): Promise<void> {
  const names = copies.map((c) => c.name);
  const tables = new Set(
    copies.flatMap((c) => [
      c.from.name,
      ...c.to.map((t) => t.name),
      ...planner.lookupsFor(c.from.name, names).map((l) => l.table.name),
    ]),
  );
  for (const table of tables) await requireTable(rt.clients.dynamodb, rt.config.tables, table);
}

/** Each problem on stderr (stdout stays the report) and the exit code. */
function reportVerdict(check: CutoverVerdict): void {
  for (const p of check.problems) console.error(`cutover check: [${p.code}] ${p.reason}`);
  process.exitCode = check.exitCode;
}

/** `wait`'s line per round. */
export function roundLine(r: CutoverReport, round: number): string {
  const t = r.totals;
  const state = r.check.exitCode === 0 ? 'READY' : `not ready (exit ${r.check.exitCode})`;
  return (
    `${r.at} round ${round}: ${state}; work queue ${r.queue.backlog}, DLQ ${r.dlq.backlog}; ` +
    `consumers ${r.consumers.map((c) => `${c.table} ${c.consumer.state}`).join(', ')}; ` +
    `copies ${COPY_DIFF_REASONS.map((k) => `${k} ${t[k]}`).join(', ')}`
  );
}

/** The human report: pipeline state, then the copies by reason and their samples, the verdict. */
export function renderCutover(r: CutoverReport): string {
  const lines = [
    ...r.consumers.map(
      (c) =>
        `Consumer of ${c.table} (${c.consumer.source}): ${c.consumer.state}; lag ${c.consumer.lagMs === null ? '?' : formatWait(c.consumer.lagMs)}; ${c.consumer.detail}`,
    ),
    `Work queue ${r.queue.name}: ${r.queue.visible} visible, ${r.queue.inFlight} in flight, ${r.queue.delayed} delayed`,
    `DLQ ${r.dlq.name}: ${r.dlq.visible} visible, ${r.dlq.inFlight} in flight, ${r.dlq.delayed} delayed`,
    ...renderCopies(r.copies),
  ];
  lines.push(
    r.check.exitCode === 0
      ? `cutover check: READY${r.totals.skipped ? ` (${r.totals.skipped} skipped source(s) listed above derive nothing)` : ''}`
      : `cutover check: NOT READY: ${r.check.problems.map((p) => p.reason).join('; ')}`,
  );
  return lines.join('\n');
}
