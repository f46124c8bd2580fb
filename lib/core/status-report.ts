// `streamfill status` as data: the JSON shape (stable keys), and the pure parts that turn a run
// record, its checkpoints and a consumer heartbeat into scan progress, ETA and consumer state.
import type {
  ConsumerHeartbeat,
  RunRecord,
  SegmentCheckpoint,
  SetMismatchNote,
} from './backfill-run.ts';
import type { DlqBreakdownKind } from './dlq-message.ts';
import { describeEta, estimateFraction, etaMs, type FractionBasis } from './scan-progress.ts';
import { formatWait } from './throttle.ts';

export interface QueueStatus {
  name: string;
  visible: number;
  inFlight: number;
  delayed: number;
  backlog: number;
  /** Age of the oldest message in seconds (AWS: CloudWatch, max over the last 5 min); null locally. */
  oldestAgeSeconds: number | null;
  /** `cloudwatch`, or why there is no age (`n/a locally`, `no datapoint`). */
  oldestAgeSource: string;
}

export interface DlqStatus {
  name: string;
  visible: number;
  inFlight: number;
  delayed: number;
  backlog: number;
  /** Distinct messages seen by the peek (at most --dlq-sample). */
  sampled: number;
  byKind: Record<DlqBreakdownKind, number>;
}

export type ConsumerState =
  'caught-up' | 'behind' | 'stale' | 'missing' | 'enabled' | 'disabled' | 'other';

export interface ConsumerStatus {
  /** `heartbeat` (local `streamfill run`), `event-source-mapping` (AWS), or `none`. */
  source: 'heartbeat' | 'event-source-mapping' | 'none';
  state: ConsumerState;
  /** Stream lag in ms: heartbeat lag locally, max IteratorAge over 5 min on AWS; null unknown. */
  lagMs: number | null;
  /** Local: ms since the consumer's last heartbeat. */
  heartbeatAgeMs: number | null;
  detail: string;
}

export interface SegmentStatus {
  segment: number;
  scanned: number;
  enqueued: number;
  skipped: number;
  done: boolean;
  updatedAt: string | null;
}

export interface ScanStatus {
  runId: string;
  table: string;
  status: RunRecord['status'];
  pauseRequested: boolean;
  totalSegments: number;
  segmentsDone: number;
  scanned: number;
  enqueued: number;
  skipped: number;
  /** 0..1 of the key space scanned, null when not estimable yet. */
  fraction: number | null;
  basis: FractionBasis;
  /** Items examined per second, averaged over the run's active time. */
  ratePerSecond: number;
  etaMs: number | null;
  etaText: string;
  startedAt: string;
  updatedAt: string;
  segments: SegmentStatus[];
  /** The limits in force (`backfill set` changes them while the run goes). */
  limits: ScanLimits;
}

export interface ScanLimits {
  /** Items enqueued per second at most; null = unlimited. */
  rate: number | null;
  maxBacklog: number | null;
  maxLagSeconds: number | null;
  /** Who made the last change (`backfill set`); null: as the run started. */
  changedBy: string | null;
  changedAt: string | null;
}

export interface StatusReport {
  mode: 'local' | 'aws';
  at: string;
  queue: QueueStatus;
  dlq: DlqStatus;
  consumer: ConsumerStatus;
  /** null when no backfill run was ever started for the table. */
  scan: ScanStatus | null;
  /**
   * The newest migration-set mismatch a backfill worker met on the table (the scanner scanned
   * for other migrations, or did not project their inputs); null when none was recorded.
   */
  migrationSetMismatch: SetMismatchNote | null;
}

/** The JSON keys of `status --json`, for its --help (they are a contract: add, never rename). */
export const STATUS_JSON_KEYS = `{ mode, at,
  queue: { name, visible, inFlight, delayed, backlog, oldestAgeSeconds, oldestAgeSource },
  dlq: { name, visible, inFlight, delayed, backlog, sampled,
         byKind: { items, scan-segment, search-repair, stream-failure, parked,
                   parked-search-repair, parked-undecodable, unknown } },
  consumer: { source, state, lagMs, heartbeatAgeMs, detail },
  scan: null | { runId, table, status, pauseRequested, totalSegments, segmentsDone, scanned,
         enqueued, skipped, fraction, basis, ratePerSecond, etaMs, etaText, startedAt, updatedAt,
         segments: [{ segment, scanned, enqueued, skipped, done, updatedAt }],
         limits: { rate, maxBacklog, maxLagSeconds, changedBy, changedAt } },
  migrationSetMismatch: null | { tableName, text, messages, atMs } }`;

const iso = (ms: number): string => new Date(ms).toISOString();

/** A run's limits now: the record's (set at start, changed by `backfill set`), else its options. */
export function scanLimits(run: RunRecord): ScanLimits {
  const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);
  const l = run.limits;
  return {
    rate: l ? l.rate : num(run.options.rate),
    maxBacklog: num(l ? l.maxBacklog : run.options.maxBacklog),
    maxLagSeconds: num(l ? l.maxLagSeconds : run.options.maxLagSeconds),
    changedBy: l?.changedBy ?? null,
    changedAt: l?.changedAtMs === undefined ? null : iso(l.changedAtMs),
  };
}

/** Scan progress of a run from its durable records (no live rate: the average since start). */
export function scanStatus(
  run: RunRecord,
  checkpoints: readonly SegmentCheckpoint[],
  nowMs: number,
): ScanStatus {
  const bySegment = new Map(checkpoints.map((c) => [c.segment, c]));
  const segments: SegmentStatus[] = [];
  for (let i = 0; i < run.totalSegments; i++) {
    const c = bySegment.get(i);
    segments.push({
      segment: i,
      scanned: c?.counts.scanned ?? 0,
      enqueued: c?.counts.enqueued ?? 0,
      skipped: c?.counts.skipped ?? 0,
      done: c?.counts.done ?? false,
      updatedAt: c ? iso(c.updatedAtMs) : null,
    });
  }
  const sum = (k: 'scanned' | 'enqueued' | 'skipped'): number =>
    segments.reduce((n, s) => n + s[k], 0);
  const segmentsDone = segments.filter((s) => s.done).length;
  const f = estimateFraction(segments, run.totalSegments);
  const lastMs = checkpoints.reduce((t, c) => Math.max(t, c.updatedAtMs), run.updatedAtMs);
  // A live run is still going now; a stopped one only ran until its last record.
  const activeUntil = run.status === 'running' ? Math.max(nowMs, lastMs) : lastMs;
  const elapsedS = (activeUntil - run.startedAtMs) / 1_000;
  const ratePerSecond = elapsedS > 0 ? sum('scanned') / elapsedS : 0;
  const eta = run.status === 'running' ? etaMs(f, run.totalSegments, ratePerSecond) : undefined;
  let etaText = describeEta(f, eta, segmentsDone, run.totalSegments);
  if (run.status !== 'running' && f.fraction !== 1) etaText = `${run.status}: no ETA`;
  return {
    runId: run.runId,
    table: run.tableName,
    status: run.status,
    pauseRequested: run.pauseRequested,
    totalSegments: run.totalSegments,
    segmentsDone,
    scanned: sum('scanned'),
    enqueued: sum('enqueued'),
    skipped: sum('skipped'),
    fraction: f.fraction ?? null,
    basis: f.basis,
    ratePerSecond,
    etaMs: eta ?? null,
    etaText,
    startedAt: iso(run.startedAtMs),
    updatedAt: iso(lastMs),
    segments,
    limits: scanLimits(run),
  };
}

/** The local consumer's state from its heartbeat (`streamfill run` writes one every 2 s). */
export function consumerFromHeartbeat(
  hb: ConsumerHeartbeat | undefined,
  nowMs: number,
  /** How old a heartbeat may be before the consumer counts as stopped (CONSUMER_HEARTBEAT). */
  staleMs: number,
): ConsumerStatus {
  if (!hb) {
    return {
      source: 'heartbeat',
      state: 'missing',
      lagMs: null,
      heartbeatAgeMs: null,
      detail: 'no heartbeat: `streamfill run` has not run against this state store',
    };
  }
  const age = Math.max(0, nowMs - hb.updatedAtMs);
  if (age > staleMs) {
    return {
      source: 'heartbeat',
      state: 'stale',
      lagMs: hb.lagMs,
      heartbeatAgeMs: age,
      detail: `last heartbeat ${formatWait(age)} ago: is \`streamfill run\` still running?`,
    };
  }
  return {
    source: 'heartbeat',
    state: hb.caughtUp ? 'caught-up' : 'behind',
    lagMs: hb.lagMs,
    heartbeatAgeMs: age,
    detail: hb.caughtUp ? 'caught up' : `behind by ${formatWait(hb.lagMs)}`,
  };
}

/** The consumer on AWS: the event source mapping's State and the max IteratorAge (5 min). */
export function consumerFromMapping(
  state: string | undefined,
  iteratorAgeMs: number | undefined,
  functionName: string,
): ConsumerStatus {
  const mapped: ConsumerState =
    state === undefined
      ? 'missing'
      : state === 'Enabled'
        ? 'enabled'
        : state === 'Disabled'
          ? 'disabled'
          : 'other';
  const lag = iteratorAgeMs === undefined ? 'no IteratorAge datapoint in the last 5 min' : '';
  return {
    source: 'event-source-mapping',
    state: mapped,
    lagMs: iteratorAgeMs ?? null,
    heartbeatAgeMs: null,
    detail:
      state === undefined
        ? `no event source mapping of ${functionName} on the migrated table's stream`
        : `${functionName}: mapping ${state}${lag ? `; ${lag}` : ''}`,
  };
}

const n = (x: number): string => new Intl.NumberFormat('en-US').format(Math.round(x));

/** One gh-ost-like line: where the scan is, what it waits on, what is queued and parked. */
export function statusLine(r: StatusReport): string {
  const parts: string[] = [];
  if (r.scan) {
    const s = r.scan;
    const pct = s.fraction === null ? '?' : `${(s.fraction * 100).toFixed(1)}%`;
    parts.push(
      `Scan: ${n(s.scanned)} scanned, ${n(s.enqueued)} enqueued, ${n(s.skipped)} skipped (${pct}; ` +
        `${s.segmentsDone}/${s.totalSegments} segments); ${s.status}${s.pauseRequested ? ' (pause requested)' : ''}; ` +
        `${n(s.ratePerSecond)}/s; ${s.etaText}`,
    );
  } else parts.push('Scan: no backfill run');
  const age =
    r.queue.oldestAgeSeconds === null
      ? `oldest ${r.queue.oldestAgeSource}`
      : `oldest ${formatWait(r.queue.oldestAgeSeconds * 1_000)}`;
  parts.push(
    `Queue: ${n(r.queue.backlog)} (${n(r.queue.visible)} visible, ${n(r.queue.inFlight)} in flight, ${n(r.queue.delayed)} delayed; ${age})`,
  );
  parts.push(`DLQ: ${n(r.dlq.backlog)}`);
  const lag = r.consumer.lagMs === null ? 'lag ?' : `lag ${formatWait(r.consumer.lagMs)}`;
  parts.push(`Consumer: ${r.consumer.state}, ${lag}`);
  return parts.join('; ');
}
