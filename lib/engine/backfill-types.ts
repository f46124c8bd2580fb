// The backfill's public shapes: what it needs (deps), what it reports while it runs (progress,
// waits) and when it ends (summary). Types only, shared by the pass's modules.
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BackfillStateStore } from '../adapters/backfill-state.ts';
import type { DeadLetters } from '../adapters/dead-letters.ts';
import type { ConsumerProbe } from '../adapters/consumer-probe.ts';
import type { LookupReader } from '../adapters/lookup-reader.ts';
import type { RunRecord } from '../core/backfill-run.ts';
import type { CostEstimate } from '../core/cost-estimate.ts';
import type { Key } from '../core/types.ts';
import type { Planner } from '../core/config/planner.ts';
import type { ProgressReport, SegmentCounts } from '../core/scan-progress.ts';
import type { CanaryGate } from './backfill-canary.ts';

export interface BackfillDeps {
  /** The scanner's client: low SDK maxAttempts so throttling reaches the throttler. */
  doc: DynamoDBDocumentClient;
  dynamodb: DynamoDBClient;
  sqs: SQSClient;
  queueUrl: string;
  state: BackfillStateStore;
  /** Undefined: the table has no stream consumer to wait for. */
  consumer?: ConsumerProbe;
  /** The compiled config: what the table's migrations read, write and plan. */
  planner: Planner;
  /**
   * Dry run: reads the declared lookups so each item plans as the worker would. Required for
   * a dry run of a table whose enabled migrations declare lookups.
   */
  lookups?: LookupReader;
  /**
   * Where items the scanner cannot carry to the worker (malformed, too large for a message) are
   * parked with their reason. Absent: they are only counted and reported in `problems`.
   */
  deadLetters?: DeadLetters;
  /**
   * Why the consumer's continuity is broken (the scan filter could skip an item whose newer
   * write the consumer never read), given the table's last run; undefined when it holds. Asked
   * once the consumer is ready (a dry run asks too); absent: the filter is trusted.
   */
  continuity?: (lastRun: RunRecord | undefined) => Promise<string | undefined>;
  /**
   * The consumer-first gate's proof: once the consumer looks ready, a canary item is written and
   * the scan starts only after the consumer recorded reading it. Absent: no canary.
   */
  canary?: CanaryGate;
  /**
   * `--distributed`: follow the segment tasks' checkpoints until the scan is done (progress,
   * ETA, the run marked finished). @default false: return once the tasks are enqueued.
   */
  followDistributed?: boolean;
  now?: () => number;
  owner?: string;
}

export type WaitKind =
  | 'consumer'
  | 'operator-pause'
  | 'stream-lag'
  | 'queue-backlog'
  | 'throttle-segment'
  | 'throttle-all'
  | 'rate'
  | 'distributed';

export interface WaitEvent {
  /** The lane (segment, partition or key batch), or -1 for the whole run. */
  segment: number;
  kind: WaitKind;
  reason: string;
  ms: number;
}

export interface BackfillProgress extends ProgressReport {
  phase: 'waiting-for-consumer' | 'scanning' | 'done';
  /** What is being waited on now (the newest wait of any lane), if anything. */
  waiting: string | undefined;
  waitingLanes: number;
  /** Every lane waiting now, with its reason (`-1`: the whole run). */
  laneWaits: { segment: number; reason: string }[];
  perSegment: (SegmentCounts & { segment: number })[];
  /** The limits in force (`backfill set` changes them while the run goes). */
  limits: { rate: number | null; maxBacklog?: number; maxLagSeconds?: number };
  /** The last `backfill set` change, e.g. `limits changed by ana@laptop: rate 100 → 300`. */
  limitsChange?: string;
  /** Items parked so far because no message could carry them. */
  unsendable: number;
}

export interface BackfillHooks {
  /** Abort: lanes stop after their current page (messages sent, checkpoint saved). */
  signal?: AbortSignal;
  onProgress?: (p: BackfillProgress) => void;
  onWait?: (w: WaitEvent) => void;
  log?: (line: string) => void;
}

export interface DiffSample {
  key: Key;
  changes: { attribute: string; before: unknown; after: unknown }[];
  search?: Record<string, string>;
}

export interface BackfillSummary {
  runId: string | undefined;
  /** The declared table. */
  table: string;
  tableName: string;
  mode: 'scan' | 'users' | 'keys' | 'distributed';
  dryRun: boolean;
  /**
   * finished: every lane done; limit: --limit reached; stopped: signal; tasks-enqueued:
   * distributed without following (--detach).
   */
  outcome: 'finished' | 'limit' | 'stopped' | 'tasks-enqueued';
  segments: number;
  scanned: number;
  enqueued: number;
  /** Items left out of the queue: canaries, --keys not found, and `skippedSettled`. */
  skipped: number;
  /**
   * Of `skipped`, the items the planner filter found settled (no DynamoDB change, or expired);
   * a dry run counts what the pass would leave out. scanned = enqueued + skipped + unsendable.
   */
  skippedSettled: number;
  /** Items a message cannot carry: each parked in the DLQ with its reason (and in `problems`). */
  unsendable: number;
  /** Of those, how many were parked (the rest: no dead-letter queue given). */
  parked: number;
  messages: number;
  perSegment: (SegmentCounts & { segment: number })[];
  durationMs: number;
  scannedPerSecond: number;
  enqueuedPerSecond: number;
  /** Per wait kind: how many waits and their summed lane-milliseconds. */
  waits: Partial<Record<WaitKind, { count: number; laneMs: number; last: string }>>;
  consumedReadUnits: number;
  cost: CostEstimate;
  /** The scan filter, or why there is none. */
  filter: string;
  projection: string[];
  migrations: string[];
  missingKeys?: Key[];
  dryRunCounts?: {
    wouldWrite: number;
    searchOnly: number;
    unchanged: number;
    expired: number;
    malformed: number;
  };
  samples?: DiffSample[];
  problems: string[];
}
