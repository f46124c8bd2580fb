// The end of a copy test: the cut-over diff (every source's targets equal its derivation, no
// orphan, nothing malformed or conflicting; skipped sources allowed) over the test's tables.
import { expect } from 'vitest';
import type { Clients } from '../../lib/adapters/clients.ts';
import type { Planner } from '../../lib/core/config/planner.ts';
import type { TableNames } from '../../lib/core/types.ts';
import { copiesDone, diffCopies, type CopyDiffReport } from '../../lib/engine/copy-diff.ts';
import { engineDeps } from '../../lib/engine/deps.ts';

/** Diffs every enabled copy and expects nothing left but skipped sources; returns the report. */
export async function expectCutoverClean(
  clients: Clients,
  opts: { tables: TableNames; planner: Planner; stateTable: string },
): Promise<CopyDiffReport> {
  const { lookups } = engineDeps(clients, opts);
  const report = await diffCopies({ doc: clients.doc, ...opts, lookups });
  const left = Object.values(report).flatMap((c) =>
    c.samples.filter((s) => s.reason !== 'skipped'),
  );
  expect(left).toEqual([]);
  expect(copiesDone(report)).toBe(true);
  return report;
}
