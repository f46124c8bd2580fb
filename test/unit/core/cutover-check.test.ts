// `cutover check`'s verdict: each failing condition its own exit code, the highest wins, and
// skipped sources never fail it.
import { describe, expect, it } from 'vitest';
import { CUTOVER_EXIT, judgeCutover, type CutoverFacts } from '../../../lib/core/cutover-check.ts';

const queue = (name: string, visible = 0, inFlight = 0) => ({
  name,
  visible,
  inFlight,
  delayed: 0,
  backlog: visible + inFlight,
});
const ready: CutoverFacts = {
  consumers: [{ table: 'v2', problems: [] }],
  queue: queue('work'),
  dlq: queue('dlq'),
  copies: { pending: 0, skipped: 7, malformed: 0, conflict: 0, orphan: 0 },
};

describe('judgeCutover', () => {
  it('passes with skipped sources', () => {
    expect(judgeCutover(ready)).toEqual({ exitCode: 0, problems: [] });
  });

  it('gives each failing condition its own code', () => {
    const code = (facts: Partial<CutoverFacts>) => judgeCutover({ ...ready, ...facts }).exitCode;
    const copies = (c: Partial<CutoverFacts['copies']>) => ({ copies: { ...ready.copies, ...c } });
    expect(code(copies({ pending: 1 }))).toBe(CUTOVER_EXIT.copiesPending);
    expect(code(copies({ orphan: 1 }))).toBe(CUTOVER_EXIT.copiesPending);
    expect(code({ queue: queue('work', 0, 1) })).toBe(CUTOVER_EXIT.workQueueNotEmpty);
    const lag = { kind: 'consumerLagging' as const, reason: 'lags 9 s' };
    expect(code({ consumers: [{ table: 'v2', problems: [lag] }] })).toBe(
      CUTOVER_EXIT.consumerLagging,
    );
    expect(code(copies({ malformed: 1 }))).toBe(CUTOVER_EXIT.copiesBroken);
    expect(code(copies({ conflict: 1 }))).toBe(CUTOVER_EXIT.copiesBroken);
    expect(code({ dlq: queue('dlq', 1) })).toBe(CUTOVER_EXIT.dlqNotEmpty);
    const stopped = { kind: 'consumerStopped' as const, reason: 'stale' };
    expect(code({ consumers: [{ table: 'v2', problems: [stopped] }] })).toBe(
      CUTOVER_EXIT.consumerStopped,
    );
    expect(new Set(Object.values(CUTOVER_EXIT)).size).toBe(Object.keys(CUTOVER_EXIT).length);
  });

  it('reports every problem, the highest code first', () => {
    const v = judgeCutover({
      ...ready,
      queue: queue('work', 2),
      copies: { ...ready.copies, pending: 3, conflict: 1 },
    });
    expect(v.exitCode).toBe(CUTOVER_EXIT.copiesBroken);
    expect(v.problems.map((p) => p.kind)).toEqual([
      'copiesBroken',
      'workQueueNotEmpty',
      'copiesPending',
    ]);
    expect(v.problems[1]?.reason).toBe(
      'work queue work holds 2 message(s) (2 visible, 0 in flight, 0 delayed)',
    );
  });
});
