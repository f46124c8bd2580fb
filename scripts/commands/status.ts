// `streamfill status`: one look at the whole migration — work queue, DLQ (peeked, never consumed),
// the stream consumer and the scan's progress — locally or on AWS; `--watch` repeats it.
import { Option, type Command } from 'commander';
import { makeAwsObserver } from '../../lib/adapters/aws-metrics.ts';
import {
  DynamoStateStore,
  FileStateStore,
  type BackfillStateStore,
} from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { existingQueueUrl } from '../../lib/adapters/dlq-reader.ts';
import { tableExists } from '../../lib/adapters/tables.ts';
import {
  BACKFILL_MAX_LAG_SECONDS,
  ENV,
  LOCAL_STATE_TABLE,
  consumerHeartbeatId,
} from '../../lib/config/defaults.ts';
import { CHECK_EXIT_HELP, checkStatus, type CheckResult } from '../../lib/core/status-check.ts';
import { DLQ_BREAKDOWN_KINDS } from '../../lib/core/dlq-message.ts';
import {
  STATUS_JSON_KEYS,
  statusLine,
  type ScanLimits,
  type StatusReport,
} from '../../lib/core/status-report.ts';
import { formatWait } from '../../lib/core/throttle.ts';
import { collectStatus, type StatusSources } from '../../lib/engine/status.ts';
import type { Planner } from '../../lib/core/config/planner.ts';
import { physicalTable } from '../../lib/core/config/table-names.ts';
import {
  commandConfig,
  positiveInt,
  settingName,
  withSharedOptions,
  type Config,
} from '../config.ts';
import { newTable } from '../output.ts';

/** Local when the SDK is pointed at local endpoints (as `makeClients` decides credentials). */
export function isLocalMode(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL_SQS);
}

/** `--state-table` / `--checkpoint-file`: the options of the backfill state store. */
export function withStateStoreOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option('--state-table <name>', 'backfill state table (run, checkpoints, heartbeat)')
        .env(ENV.stateTable)
        .default(LOCAL_STATE_TABLE),
    )
    .option('--checkpoint-file <path>', 'read the state from this JSON file instead of the table');
}

/** The state store a command's options name; undefined (with why) when the table is missing. */
export async function openStateStore(
  clients: Clients,
  opts: { stateTable: string; checkpointFile?: string },
): Promise<{ store?: BackfillStateStore; missing?: string }> {
  if (opts.checkpointFile) return { store: new FileStateStore(opts.checkpointFile) };
  if (!(await tableExists(clients.dynamodb, opts.stateTable))) {
    return {
      missing: `state table "${opts.stateTable}" does not exist: no backfill or \`streamfill run\` has used it yet (set --state-table / ${ENV.stateTable})`,
    };
  }
  return { store: new DynamoStateStore(clients.doc, opts.stateTable) };
}

const seconds =
  (option: string) =>
  (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new Error(`${option} must be a positive number of seconds, got "${value}"`);
    }
    return n;
  };

export function registerStatusCommand(program: Command): void {
  const cmd = withStateStoreOptions(
    withSharedOptions(
      program
        .command('status')
        .description(
          'Work queue and DLQ depth, stream lag and consumer state, scan progress and ETA. ' +
            'Locally (AWS_ENDPOINT_URL_* set) from the state store; on AWS from CloudWatch and Lambda.',
        )
        .option('--json', 'print the report as JSON (keys below)', false)
        .option('--watch <seconds>', 'repeat every SECONDS until interrupted', seconds('--watch'))
        .option(
          '--table <name>',
          "the migrated table whose backfill run to show, by the config's declared name (default: the first migrated table)",
        )
        .option(
          '--consumer-function <name>',
          'AWS: the stream consumer Lambda function (its mapping state and IteratorAge)',
        )
        .option(
          '--dlq-sample <n>',
          'DLQ messages to peek for the breakdown by kind',
          positiveInt('--dlq-sample'),
          100,
        ),
    ),
  );
  withCheckOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Notes:
  Oldest message age: CloudWatch ApproximateAgeOfOldestMessage on AWS; "n/a locally" (ElasticMQ has
  no such attribute, and receiving work messages to find out would count towards maxReceiveCount).
  DLQ breakdown: a peek with VisibilityTimeout 0 — nothing is consumed or hidden, but each peek
  adds to the messages' ApproximateReceiveCount (harmless on the DLQ: it has no redrive policy).
  Consumer: locally the heartbeat \`streamfill run\` writes to the state store (stale after 30 s);
  on AWS the event source mapping's State and IteratorAge (max over 5 min), with --consumer-function.
  Exit status: 0 whenever the report was produced; 1 on bad input or unreachable services.
  With --check (once, for scripts and monitors):
${CHECK_EXIT_HELP}

JSON keys (--json; stable):
${STATUS_JSON_KEYS}`,
  );
  cmd.action(async (opts) => {
    if (opts.check && opts.watch) {
      throw new Error(
        '--check judges one report: drop --watch (run it from your scheduler instead)',
      );
    }
    const { planner, config } = await commandConfig(opts);
    const table = statusTable(planner, opts.table as string | undefined);
    const clients = makeClients({ searchEndpoint: config.searchEndpoint });
    const mode = isLocalMode() ? 'local' : 'aws';
    const aws = mode === 'aws' ? makeAwsObserver() : undefined;
    try {
      const sources = statusSourcesOf(
        clients,
        config,
        table,
        await openStatusPlaces(clients, config, opts),
        {
          mode,
          ...(typeof opts.consumerFunction === 'string' && {
            consumerFunction: opts.consumerFunction,
          }),
          dlqSample: opts.dlqSample as number,
        },
      );
      if (aws) sources.aws = aws;
      for (;;) {
        const report = await collectStatus(sources);
        const check = opts.check ? checkStatus(report, checkThresholds(opts)) : undefined;
        console.log(
          opts.json
            ? JSON.stringify(check ? { ...report, check } : report, null, 2)
            : renderStatus(report),
        );
        if (check) reportCheck(check);
        if (!opts.watch) break;
        await new Promise((r) => setTimeout(r, opts.watch * 1000));
        if (!opts.json) console.log('');
      }
    } finally {
      aws?.close();
      destroyClients(clients);
    }
  });
}

/** `--check` and its thresholds. */
function withCheckOptions(cmd: Command): void {
  cmd
    .option('--check', 'judge the report: exit non-zero with the codes below on trouble', false)
    .option(
      '--max-lag-seconds <s>',
      'with --check: the consumer lagging more is trouble',
      seconds('--max-lag-seconds'),
      BACKFILL_MAX_LAG_SECONDS,
    )
    .option(
      '--stalled-after <s>',
      'with --check: a running backfill with no checkpoint for this long has stopped',
      seconds('--stalled-after'),
      600,
    );
}

function checkThresholds(opts: Record<string, unknown>) {
  return {
    maxLagMs: (opts.maxLagSeconds as number) * 1_000,
    stalledAfterMs: (opts.stalledAfter as number) * 1_000,
  };
}

/** Each problem on stderr (stdout stays the report) and the exit code. */
function reportCheck(check: CheckResult): void {
  for (const p of check.problems) console.error(`status --check: [${p.code}] ${p.reason}`);
  process.exitCode = check.exitCode;
}

/** `--table`: a declared migrated table (default the first); an unknown one names the migrated. */
export function statusTable(planner: Planner, value: string | undefined): string {
  const migrated = planner.migratedTables;
  const table = value ?? migrated[0];
  if (table === undefined || !migrated.includes(table)) {
    throw new Error(
      `--table must name a migrated table of the config (${migrated.join(', ') || 'none'}), got ${JSON.stringify(value)}`,
    );
  }
  return table;
}

/** Where status is read from: the two queues (found by name) and the backfill state store. */
export interface StatusPlaces {
  workUrl: string;
  dlqUrl: string;
  state: { store?: BackfillStateStore; missing?: string };
}

/** The queues and the state store a command's options name; a missing queue throws. */
export async function openStatusPlaces(
  clients: Clients,
  config: Config,
  opts: Record<string, unknown>,
): Promise<StatusPlaces> {
  const [workUrl, dlqUrl, state] = await Promise.all([
    existingQueueUrl(clients.sqs, config.queueName, settingName('queueName')),
    existingQueueUrl(clients.sqs, config.dlqName, settingName('dlqName')),
    openStateStore(clients, opts as { stateTable: string; checkpointFile?: string }),
  ]);
  return { workUrl, dlqUrl, state };
}

/** What `collectStatus` reads for the declared `table`: its consumer, the queues, the state. */
export function statusSourcesOf(
  clients: Pick<Clients, 'sqs' | 'dynamodb'>,
  config: Config,
  table: string,
  places: StatusPlaces,
  extra: Pick<StatusSources, 'mode' | 'aws' | 'consumerFunction' | 'dlqSample'>,
): StatusSources {
  const tableName = physicalTable(config.tables, table);
  return {
    sqs: clients.sqs,
    dynamodb: clients.dynamodb,
    ...(places.state.store && { store: places.state.store }),
    ...(places.state.missing && { storeMissing: places.state.missing }),
    queues: {
      work: { name: config.queueName, url: places.workUrl },
      dlq: { name: config.dlqName, url: places.dlqUrl },
    },
    tableName,
    // The id `streamfill run` writes its heartbeat under (one consumer per table).
    consumerComponent: consumerHeartbeatId(tableName),
    ...Object.fromEntries(Object.entries(extra).filter(([, v]) => v !== undefined)),
    mode: extra.mode,
  };
}

const num = (x: number): string => new Intl.NumberFormat('en-US').format(Math.round(x));
const pct = (f: number | null): string => (f === null ? '?' : `${(f * 100).toFixed(1)}%`);

/** The scan's limits now (`backfill set` changes them) and who changed them last. */
export function renderLimits(l: ScanLimits): string {
  const or = (v: number | null, fmt: (n: number) => string, none: string): string =>
    v === null ? none : fmt(v);
  return (
    `Limits: ${or(l.rate, (n) => `rate ${num(n)} items/s`, 'no rate limit')}, ` +
    `${or(l.maxBacklog, (n) => `max backlog ${num(n)}`, 'max backlog default')}, ` +
    `${or(l.maxLagSeconds, (n) => `max lag ${formatWait(n * 1000)}`, 'max lag default')}` +
    (l.changedBy ? ` (changed by ${l.changedBy} at ${l.changedAt ?? '?'})` : ' (as started)')
  );
}

/** The human report: a gh-ost-like status line, then the details as tables. */
export function renderStatus(r: StatusReport): string {
  const lines = [statusLine(r), ''];
  const q = newTable(['queue', 'visible', 'in flight', 'delayed', 'oldest']);
  q.push([
    r.queue.name,
    num(r.queue.visible),
    num(r.queue.inFlight),
    num(r.queue.delayed),
    r.queue.oldestAgeSeconds === null
      ? r.queue.oldestAgeSource
      : formatWait(r.queue.oldestAgeSeconds * 1_000),
  ]);
  q.push([r.dlq.name, num(r.dlq.visible), num(r.dlq.inFlight), num(r.dlq.delayed), '']);
  lines.push(q.toString());
  const kinds = DLQ_BREAKDOWN_KINDS.filter((k) => r.dlq.byKind[k] > 0);
  lines.push(
    r.dlq.sampled
      ? `DLQ by kind (${r.dlq.sampled} peeked): ${kinds.map((k) => `${k} ${r.dlq.byKind[k]}`).join(', ')}`
      : 'DLQ: empty',
  );
  const c = r.consumer;
  lines.push(
    `Consumer (${c.source}): ${c.state}; lag ${c.lagMs === null ? '?' : formatWait(c.lagMs)}; ${c.detail}`,
  );
  if (r.scan) {
    const s = r.scan;
    lines.push(
      `Scan ${s.runId} of ${s.table}: ${s.status}${s.pauseRequested ? ' (pause requested)' : ''}, ` +
        `${pct(s.fraction)} (${s.basis}), ${s.etaText}; started ${s.startedAt}, last activity ${s.updatedAt}`,
    );
    lines.push(renderLimits(s.limits));
    const t = newTable(['segment', 'scanned', 'enqueued', 'skipped', 'done', 'updated']);
    for (const g of s.segments) {
      t.push([
        g.segment,
        num(g.scanned),
        num(g.enqueued),
        num(g.skipped),
        g.done ? 'yes' : '',
        g.updatedAt ?? '',
      ]);
    }
    t.push([
      'all',
      num(s.scanned),
      num(s.enqueued),
      num(s.skipped),
      `${s.segmentsDone}/${s.totalSegments}`,
      '',
    ]);
    lines.push(t.toString());
  } else lines.push('Scan: no backfill run for this table');
  const m = r.migrationSetMismatch;
  if (m)
    lines.push(
      `Worker migration set differs from the scanner's (${new Date(m.atMs).toISOString()}, ${m.messages} message(s)): ${m.text}`,
    );
  return lines.join('\n');
}
