// `streamfill status --check`: the report judged for a script or a monitor. Each kind of trouble
// has its own exit code, so a cron job or a CI gate can tell them apart without parsing text.
import { STREAM_RETENTION_MS } from './backfill-run.ts';
import type { StatusReport } from './status-report.ts';
import { formatWait } from './throttle.ts';

/** Exit codes of `status --check` (a contract: documented in --help and the runbook). */
export const CHECK_EXIT = {
  ok: 0,
  /** The DLQ holds messages (parked items or stream failures). */
  dlqNotEmpty: 2,
  /** The stream consumer lags more than the threshold. */
  consumerLagging: 3,
  /** The stream consumer does not run: no or a stale heartbeat, mapping missing or disabled. */
  consumerStopped: 4,
  /** The backfill run stopped without finishing (stalled, or past the stream's retention). */
  runFailed: 5,
} as const;

export type CheckProblemKind = Exclude<keyof typeof CHECK_EXIT, 'ok'>;

export interface CheckProblem {
  kind: CheckProblemKind;
  code: number;
  reason: string;
}

export interface CheckResult {
  /** The most severe problem's code (runFailed > consumerStopped > consumerLagging > dlqNotEmpty), 0 when healthy. */
  exitCode: number;
  problems: CheckProblem[];
}

export interface CheckThresholds {
  /** The consumer lags more than this: `consumerLagging`. */
  maxLagMs: number;
  /** A running scan with no checkpoint or run update for this long: `runFailed` (stalled). */
  stalledAfterMs: number;
}

/** The `--help` text of the codes. */
export const CHECK_EXIT_HELP = `  0  healthy
  1  bad input, or a service could not be reached (no report)
  ${CHECK_EXIT.dlqNotEmpty}  the DLQ is not empty
  ${CHECK_EXIT.consumerLagging}  the stream consumer lags more than --max-lag-seconds
  ${CHECK_EXIT.consumerStopped}  the stream consumer is stopped (no or a stale heartbeat; mapping missing or not Enabled)
  ${CHECK_EXIT.runFailed}  the backfill run stopped without finishing (no activity for --stalled-after
     seconds while running, or unfinished past the stream's 24 h retention)
  Several at once: the highest code; each problem is printed on stderr (and in "check" with --json).`;

const STOPPED = new Set(['stale', 'missing', 'disabled']);

/** The problems `report` shows under `limits`, most severe first. */
export function checkStatus(report: StatusReport, limits: CheckThresholds): CheckResult {
  const problems: CheckProblem[] = [];
  const add = (kind: CheckProblemKind, reason: string) =>
    problems.push({ kind, code: CHECK_EXIT[kind], reason });
  const nowMs = Date.parse(report.at);

  const scan = report.scan;
  if (scan && (scan.status === 'running' || scan.status === 'paused')) {
    const idleMs = nowMs - Date.parse(scan.updatedAt);
    if (idleMs > STREAM_RETENTION_MS) {
      add(
        'runFailed',
        `backfill run ${scan.runId} of ${scan.table} is ${scan.status} but idle for ${formatWait(idleMs)}, ` +
          "past the stream's 24 h retention: it cannot be resumed; start over with `streamfill backfill --restart`",
      );
    } else if (scan.status === 'running' && idleMs > limits.stalledAfterMs) {
      add(
        'runFailed',
        `backfill run ${scan.runId} of ${scan.table} is running but wrote nothing for ${formatWait(idleMs)}: ` +
          'the scanner stopped (crash or Ctrl-C); continue it with `streamfill backfill --resume`',
      );
    }
  }
  const c = report.consumer;
  if (STOPPED.has(c.state)) {
    add('consumerStopped', `stream consumer ${c.state}: ${c.detail}`);
  } else if (c.lagMs !== null && c.lagMs > limits.maxLagMs) {
    add(
      'consumerLagging',
      `stream consumer lags ${formatWait(c.lagMs)} (more than ${formatWait(limits.maxLagMs)})`,
    );
  }
  if (report.dlq.backlog > 0) {
    add(
      'dlqNotEmpty',
      `DLQ ${report.dlq.name} holds ${report.dlq.backlog} message(s): see \`streamfill status\` (by kind), then \`streamfill redrive --dry-run\``,
    );
  }
  problems.sort((a, b) => b.code - a.code);
  return { exitCode: problems[0]?.code ?? CHECK_EXIT.ok, problems };
}
