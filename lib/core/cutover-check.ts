// `streamfill cutover check` judged: may the application switch to the copies' targets now? Each
// condition that fails has its own exit code, so `cutover wait` and a CI gate tell them apart
// without parsing text. Pure: the engine (lib/engine/cutover.ts) gathers the facts.
import type { CopyDiffReason } from './cutover-diff.ts';

/** Exit codes of `cutover check` / `cutover wait` (a contract: documented in --help and README). */
export const CUTOVER_EXIT = {
  ok: 0,
  /** The copy diff finds pending targets or orphans: the pipeline still has work (or lost it). */
  copiesPending: 2,
  /** The work queue holds messages (visible, in flight or delayed). */
  workQueueNotEmpty: 3,
  /** A source table's stream consumer lags more than the threshold. */
  consumerLagging: 4,
  /** The copy diff finds malformed sources or conflicting targets: a fix by hand is needed. */
  copiesBroken: 5,
  /** The DLQ holds messages. */
  dlqNotEmpty: 6,
  /** A source table's stream consumer does not run. */
  consumerStopped: 7,
} as const;

export type CutoverProblemKind = Exclude<keyof typeof CUTOVER_EXIT, 'ok'>;

export interface CutoverProblem {
  kind: CutoverProblemKind;
  code: number;
  reason: string;
}

export interface CutoverVerdict {
  /** The highest code of the problems; 0 when the cut-over may proceed. */
  exitCode: number;
  problems: CutoverProblem[];
}

/** The `--help` text of the codes. */
export const CUTOVER_EXIT_HELP = `  0  ready: every consumer caught up, work queue and DLQ empty, no copy pending, malformed,
     conflicting or orphaned (skipped sources are listed, never failing)
  1  bad input, or a service could not be reached (no verdict)
  ${CUTOVER_EXIT.copiesPending}  the copy diff finds pending targets (missing or different) or orphans
  ${CUTOVER_EXIT.workQueueNotEmpty}  the work queue is not empty (visible, in flight or delayed)
  ${CUTOVER_EXIT.consumerLagging}  a source table's stream consumer lags more than --max-lag-seconds
  ${CUTOVER_EXIT.copiesBroken}  the copy diff finds malformed sources or conflicting targets (a fix by hand)
  ${CUTOVER_EXIT.dlqNotEmpty}  the DLQ is not empty
  ${CUTOVER_EXIT.consumerStopped}  a source table's stream consumer is stopped (no or a stale heartbeat; mapping missing or not Enabled)
  Several at once: the highest code; each problem is printed on stderr (and in "check" with --json).`;

/** What the check found, gathered by the engine. */
export interface CutoverFacts {
  /** The consumer problems `status --check` reports for each source table's consumer. */
  consumers: {
    table: string;
    problems: { kind: 'consumerStopped' | 'consumerLagging'; reason: string }[];
  }[];
  queue: { name: string; visible: number; inFlight: number; delayed: number; backlog: number };
  dlq: { name: string; visible: number; inFlight: number; delayed: number; backlog: number };
  /** Each reason's count over the checked copies. */
  copies: Record<CopyDiffReason, number>;
}

const depth = (q: CutoverFacts['queue']): string =>
  `${q.backlog} message(s) (${q.visible} visible, ${q.inFlight} in flight, ${q.delayed} delayed)`;

/** The problems `facts` show, most severe first. */
export function judgeCutover(facts: CutoverFacts): CutoverVerdict {
  const problems: CutoverProblem[] = [];
  const add = (kind: CutoverProblemKind, reason: string) =>
    problems.push({ kind, code: CUTOVER_EXIT[kind], reason });
  for (const c of facts.consumers)
    for (const p of c.problems) add(p.kind, `${c.table}: ${p.reason}`);
  if (facts.queue.backlog > 0)
    add('workQueueNotEmpty', `work queue ${facts.queue.name} holds ${depth(facts.queue)}`);
  if (facts.dlq.backlog > 0)
    add(
      'dlqNotEmpty',
      `DLQ ${facts.dlq.name} holds ${depth(facts.dlq)}: see \`streamfill status\`, then \`streamfill redrive --dry-run\``,
    );
  const { pending, orphan, malformed, conflict } = facts.copies;
  if (pending + orphan > 0) add('copiesPending', `copies: ${pending} pending, ${orphan} orphan(s)`);
  if (malformed + conflict > 0)
    add(
      'copiesBroken',
      `copies: ${malformed} malformed source(s), ${conflict} conflicting target(s) (a fix by hand: the pipeline never overwrites them)`,
    );
  problems.sort((a, b) => b.code - a.code);
  return { exitCode: problems[0]?.code ?? CUTOVER_EXIT.ok, problems };
}
