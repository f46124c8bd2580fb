// The copies' referee: a key-by-key diff of every source item's plan against its target tables,
// then every target stamped by a copy against its source's plan now (orphans). Streamed: segment
// by segment, page by page, lookups read once per page as the pipeline reads them (copy-items.ts),
// so memory stays constant whatever the table size. Never writes.
import { BatchGetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CopyWriter } from '../adapters/copy-writer.ts';
import type { LookupReader, LookupReadResult } from '../adapters/lookup-reader.ts';
import { readItemsByKey } from '../adapters/item-reader.ts';
import { scanSegment } from '../adapters/segment-scanner.ts';
import { SCAN_PAGE_SIZE, SCAN_SEGMENTS } from '../config/defaults.ts';
import { isCanary } from '../core/canary.ts';
import { backoffMs } from '../core/concurrency.ts';
import type { CopyDef } from '../core/config/define.ts';
import { COPY_ATTRIBUTES, type CopyPlan } from '../core/config/plan-copy.ts';
import type { DeclaredPlanContext } from '../core/config/plan-derived.ts';
import type { Planner } from '../core/config/planner.ts';
import { isCopy } from '../core/config/resolve.ts';
import { physicalTable } from '../core/config/table-names.ts';
import {
  classifyPlan,
  classifyStamped,
  FAILING_COPY_REASONS,
  stampedSource,
  type CopyDiffFinding,
  type CopyDiffReason,
} from '../core/cutover-diff.ts';
import { isLookupMissingError, isMalformedItemError } from '../core/errors.ts';
import { keyId } from '../core/keys.ts';
import type { Item, Key, TableNames } from '../core/types.ts';

export interface CopyDiffDeps {
  doc: DynamoDBDocumentClient;
  /** The loaded config, compiled: every source is re-planned by it. */
  planner: Planner;
  /** Declared table name → physical name (sources, targets and looked-up tables). */
  tables: TableNames;
  /** Reads the lookups each page needs, as the pipeline does (`EngineDeps.lookups`). */
  lookups: Pick<LookupReader, 'read'>;
  /** The enabled migrations (copies among them are diffed). @default the config's defaults */
  migrations?: readonly string[];
  /** Only these copies, by name (each must be enabled). @default every enabled copy */
  only?: readonly string[];
  /** Parallel Scan segments per table. @default 4 (SCAN_SEGMENTS) */
  segments?: number;
  /** Samples kept per copy and reason. @default 20 */
  sampleLimit?: number;
  /** Epoch seconds for TTL checks. @default now */
  nowSeconds?: number;
  /**
   * Rewrite the targets of a source whose targets are missing or differ (changed or deleted
   * behind the copy's back), through the copy's own transaction and checks. @default no writes
   */
  repair?: Pick<CopyWriter, 'apply'>;
}

/** One key that is not done (or, for `skipped`, derives nothing), with why. */
export interface CopyDiffSample {
  copy: string;
  reason: CopyDiffReason;
  /** `keyId` of the source item. */
  source: string;
  /** `keyId` of the target item; null when the finding is about the source alone. */
  target: string | null;
  detail: string;
}

export interface CopyReport {
  /** Source items planned. */
  sources: number;
  /** Wanted targets compared with what their table holds. */
  targets: number;
  /** Target items stamped by this copy, checked against their source. */
  stamped: number;
  /** Source items past their TTL (TTL deletes them; their REMOVE deletes the targets). */
  expired: number;
  pending: number;
  skipped: number;
  malformed: number;
  conflict: number;
  orphan: number;
  /** Sources whose pending targets `repair` rewrote (no longer counted as pending). */
  repaired: number;
  /** Up to `sampleLimit` per reason. */
  samples: CopyDiffSample[];
}

/** Copy name → its report. */
export type CopyDiffReport = Record<string, CopyReport>;

const emptyReport = (): CopyReport => ({
  sources: 0,
  targets: 0,
  stamped: 0,
  expired: 0,
  pending: 0,
  skipped: 0,
  malformed: 0,
  conflict: 0,
  orphan: 0,
  repaired: 0,
  samples: [],
});

/** True when no copy has anything pending, malformed, conflicting or orphaned (skipped is fine). */
export function copiesDone(report: CopyDiffReport): boolean {
  return Object.values(report).every((c) => FAILING_COPY_REASONS.every((r) => c[r] === 0));
}

/** Each reason's count summed over the copies. */
export function copyTotals(report: CopyDiffReport): Record<CopyDiffReason, number> {
  const totals = { pending: 0, skipped: 0, malformed: 0, conflict: 0, orphan: 0 };
  for (const c of Object.values(report))
    for (const r of Object.keys(totals)) totals[r as CopyDiffReason] += c[r as CopyDiffReason];
  return totals;
}

/**
 * The copies to diff: the enabled ones (`migrations`), or the `only` ones. Throws, naming the
 * known copies, for a config without copies, an unknown name, or one not enabled.
 */
export function selectedCopies(
  planner: Planner,
  migrations: readonly string[] = planner.defaultMigrations,
  only?: readonly string[],
): CopyDef[] {
  const all = planner.resolved.migrations.filter(isCopy);
  if (!all.length) throw new Error('the config declares no copies (defineCopy): nothing to diff');
  const enabled = all.filter((c) => migrations.includes(c.name));
  if (!only) {
    if (!enabled.length)
      throw new Error(
        `no copy is enabled (copies: ${all.map((c) => c.name).join(', ')}; enabled: ${migrations.join(', ') || 'none'})`,
      );
    return enabled;
  }
  const problems: string[] = [];
  for (const name of only) {
    if (!all.some((c) => c.name === name))
      problems.push(
        `"${name}" is not a copy of the config (copies: ${all.map((c) => c.name).join(', ')})`,
      );
    else if (!enabled.some((c) => c.name === name))
      problems.push(`copy "${name}" is not enabled (enabled: ${migrations.join(', ') || 'none'})`);
  }
  if (problems.length) throw new Error(problems.join('; '));
  return enabled.filter((c) => only.includes(c.name));
}

/**
 * Diffs the selected copies: each source item's plan against its targets, then each stamped
 * target against its source's plan now.
 *
 * @example
 * const report = await diffCopies({ doc, planner, tables, lookups: deps.lookups });
 * process.exitCode = copiesDone(report) ? 0 : 1;
 */
export async function diffCopies(deps: CopyDiffDeps): Promise<CopyDiffReport> {
  const copies = selectedCopies(deps.planner, deps.migrations, deps.only); // bad input first
  const report: CopyDiffReport = Object.fromEntries(copies.map((c) => [c.name, emptyReport()]));
  const limit = deps.sampleLimit ?? 20;
  const note: Note = (copy, source, f) => {
    const r = report[copy] as CopyReport;
    r[f.reason]++;
    if (r.samples.filter((s) => s.reason === f.reason).length < limit)
      r.samples.push({ copy, reason: f.reason, source, target: f.target, detail: f.detail });
  };
  const ctx = { ...deps, nowSeconds: deps.nowSeconds ?? Math.floor(Date.now() / 1000) };
  const sources = [...new Set(copies.map((c) => c.from.name))];
  for (const table of sources) {
    const names = copies.filter((c) => c.from.name === table).map((c) => c.name);
    await eachPage(ctx, table, ctx.planner.projection(table, names), undefined, (page) =>
      diffSources(ctx, table, names, page, report, note),
    );
  }
  const targets = [...new Set(copies.flatMap((c) => c.to.map((t) => t.name)))];
  for (const table of targets) {
    const stamping = copies.filter((c) => c.to.some((t) => t.name === table));
    const projection = [
      ...ctx.planner.table(table).key,
      COPY_ATTRIBUTES.copy,
      COPY_ATTRIBUTES.source,
    ];
    const filter = {
      expression: 'attribute_exists(#copy)',
      names: { '#copy': COPY_ATTRIBUTES.copy },
    };
    await eachPage(ctx, table, projection, filter, (page) =>
      findOrphans(ctx, table, stamping, page, report, note),
    );
  }
  return report;
}

type Ctx = CopyDiffDeps & { nowSeconds: number };
type Note = (copy: string, source: string, finding: CopyDiffFinding) => void;

/** Every page of `table`, segments side by side, each page handled before the next is read. */
async function eachPage(
  ctx: Ctx,
  table: string,
  projection: readonly string[],
  filter: { expression: string; names: Record<string, string> } | undefined,
  handle: (page: readonly Item[]) => Promise<void>,
): Promise<void> {
  const totalSegments = ctx.segments ?? SCAN_SEGMENTS;
  await Promise.all(
    Array.from({ length: totalSegments }, async (_, segment) => {
      for await (const page of scanSegment(ctx.doc, {
        tableName: physicalTable(ctx.tables, table),
        segment,
        totalSegments,
        projection,
        pageSize: SCAN_PAGE_SIZE,
        ...(filter && { filter }),
      }))
        await handle(page.items);
    }),
  );
}

/** The plan context of a page of source items: their lookups, read once. */
async function pageContext(
  ctx: Ctx,
  table: string,
  items: readonly Item[],
  names: readonly string[],
): Promise<{ plan: DeclaredPlanContext; failed: ReadonlyMap<string, string> }> {
  const { planner } = ctx;
  const reads = planner.collectLookups(table, items, names);
  const read: LookupReadResult =
    reads.byTable.size || reads.byIndex.size
      ? await ctx.lookups.read(reads.byTable, reads.byIndex)
      : { read: new Map(), failed: new Map(), indexed: new Map() };
  return {
    plan: {
      lookups: planner.lookupResults(reads, read.read, read.indexed),
      ...(read.stamps && { stamps: read.stamps }),
      nowSeconds: ctx.nowSeconds,
    },
    failed: read.failed,
  };
}

/** One copy's plan of one source item, or the finding that it cannot be planned. */
function planOne(
  ctx: Ctx,
  table: string,
  key: Key,
  item: Item,
  copy: string,
  page: { plan: DeclaredPlanContext; failed: ReadonlyMap<string, string> },
): CopyPlan | CopyDiffFinding {
  try {
    return ctx.planner.planCopies(table, key, item, page.plan, [copy])[0] as CopyPlan;
  } catch (e) {
    if (isMalformedItemError(e))
      return {
        reason: 'malformed',
        target: null,
        detail: e.message.replace(/^.*? item \{.*?\}: /, ''),
      };
    if (isLookupMissingError(e)) {
      // Never planned with a default: the pipeline reads the lookup again.
      const lookedUp = ctx.planner.resolved.lookups.get(e.lookup)?.table.name;
      const why = lookedUp === undefined ? undefined : page.failed.get(lookedUp);
      return {
        reason: 'pending',
        target: null,
        detail: `lookup ${e.lookup} not available${why ? ` (${why})` : ''}`,
      };
    }
    throw e;
  }
}

const isPlan = (p: CopyPlan | CopyDiffFinding): p is CopyPlan => 'targets' in p;

async function diffSources(
  ctx: Ctx,
  table: string,
  names: readonly string[],
  raw: readonly Item[],
  report: CopyDiffReport,
  note: Note,
): Promise<void> {
  const { planner } = ctx;
  const shape = planner.table(table);
  const items = raw.filter((item) => !isCanary(shape, item)); // the backfill gate's canary
  const page = await pageContext(ctx, table, items, names);
  const plans: CopyPlan[] = [];
  for (const item of items) {
    let key: Key;
    try {
      key = planner.keyOf(table, item);
    } catch (e) {
      if (!isMalformedItemError(e)) throw e;
      const source = keyId(table, planner.partialKey(table, item));
      for (const copy of names) {
        (report[copy] as CopyReport).sources++;
        note(copy, source, { reason: 'malformed', target: null, detail: e.message });
      }
      continue;
    }
    const source = keyId(table, key);
    for (const copy of names) {
      const r = report[copy] as CopyReport;
      r.sources++;
      if (planner.isExpired(table, item, ctx.nowSeconds)) {
        r.expired++;
        continue;
      }
      const p = planOne(ctx, table, key, item, copy, page);
      if (isPlan(p)) plans.push(p);
      else note(copy, source, p);
    }
  }
  const found = await readTargets(
    ctx,
    plans.flatMap((p) => p.targets),
  );
  for (const p of plans) {
    const r = report[p.copy] as CopyReport;
    r.targets += p.targets.length;
    const findings = classifyPlan(p, found);
    if (ctx.repair && findings.some((f) => f.reason === 'pending' && f.target !== null)) {
      // A repair that lost to a newer source version stays pending: that version's record settles it.
      if ((await ctx.repair.apply(p, { force: true })).outcome === 'migrated') {
        r.repaired++;
        for (const f of findings) if (f.reason !== 'pending') note(p.copy, p.sourceId, f);
        continue;
      }
    }
    for (const f of findings) note(p.copy, p.sourceId, f);
  }
}

/** The whole items at the targets' keys (strongly consistent), by `keyId`. */
async function readTargets(
  ctx: Ctx,
  targets: readonly { table: string; key: Key }[],
): Promise<Map<string, Item>> {
  const found = new Map<string, Item>();
  // Declared table → keyId → key: each key read once.
  const byTable = new Map<string, Map<string, Key>>();
  for (const t of targets) {
    const keys = byTable.get(t.table) ?? new Map<string, Key>();
    keys.set(keyId(t.table, t.key), t.key);
    byTable.set(t.table, keys);
  }
  for (const [table, keys] of byTable) {
    const names = ctx.planner.table(table).key;
    const physical = physicalTable(ctx.tables, table);
    for (const item of await batchGetWhole(ctx.doc, physical, [...keys.values()])) {
      const key = Object.fromEntries(names.map((n) => [n, item[n]])) as Key;
      found.set(keyId(table, key), item);
    }
  }
  return found;
}

const BATCH_GET_MAX_KEYS = 100;

/** Whole items (no projection: a target is compared whole) by key, consistently read. */
async function batchGetWhole(
  doc: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Key[],
): Promise<Item[]> {
  const items: Item[] = [];
  for (let i = 0; i < keys.length; i += BATCH_GET_MAX_KEYS) {
    let pending: Record<string, unknown>[] = keys.slice(i, i + BATCH_GET_MAX_KEYS);
    for (let attempt = 0; pending.length; attempt++) {
      if (attempt >= 8)
        throw new Error(
          `BatchGetItem on ${tableName}: ${pending.length} key(s) still unprocessed after ${attempt} attempts`,
        );
      if (attempt > 0) await new Promise((r) => setTimeout(r, backoffMs(attempt, 50, 2_000)));
      const res = await doc.send(
        new BatchGetCommand({
          RequestItems: { [tableName]: { Keys: pending, ConsistentRead: true } },
        }),
      );
      items.push(...(res.Responses?.[tableName] ?? []));
      pending = (res.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[]) ?? [];
    }
  }
  return items;
}

/**
 * The stamped targets of one page of `table`: each one's source read now (consistently) and
 * planned; a target its source no longer derives is an orphan. Targets without bookkeeping are
 * the application's own (the scan's filter leaves them out); a copy not selected is not judged.
 */
async function findOrphans(
  ctx: Ctx,
  table: string,
  stamping: readonly CopyDef[],
  page: readonly Item[],
  report: CopyDiffReport,
  note: Note,
): Promise<void> {
  const { planner } = ctx;
  const keyNames = planner.table(table).key;
  // Source table → copy → stamped targets whose source is there.
  const bySource = new Map<
    string,
    { copy: CopyDef; key: Key; target: { table: string; key: Key; source: unknown } }[]
  >();
  for (const item of page) {
    const copy = stamping.find((c) => c.name === item[COPY_ATTRIBUTES.copy]);
    if (!copy) continue;
    const target = {
      table,
      key: Object.fromEntries(keyNames.map((n) => [n, item[n]])) as Key,
      source: item[COPY_ATTRIBUTES.source],
    };
    (report[copy.name] as CopyReport).stamped++;
    const source = stampedSource(target, copy.from.name);
    if ('reason' in source) {
      note(copy.name, String(target.source), source);
      continue;
    }
    const list = bySource.get(source.table) ?? [];
    list.push({ copy, key: source.key, target });
    bySource.set(source.table, list);
  }
  for (const [from, stamped] of bySource) {
    const names = [...new Set(stamped.map((s) => s.copy.name))];
    const keys = [...new Map(stamped.map((s) => [keyId(from, s.key), s.key])).values()];
    const read = await readItemsByKey(
      ctx.doc,
      physicalTable(ctx.tables, from),
      keys,
      planner.projection(from, names),
      planner.table(from).key,
    );
    const sources = new Map(read.found.map((i) => [keyId(from, planner.keyOf(from, i)), i]));
    const pageCtx = await pageContext(ctx, from, read.found, names);
    for (const s of stamped) {
      const sourceId = keyId(from, s.key);
      const item = sources.get(sourceId);
      if (item && planner.isExpired(from, item, ctx.nowSeconds)) continue; // its REMOVE comes
      const plan = item ? planOne(ctx, from, s.key, item, s.copy.name, pageCtx) : null;
      // A source that cannot be planned is reported as such by the source pass.
      if (plan && !isPlan(plan)) continue;
      const f = classifyStamped(s.target, plan);
      if (f) note(s.copy.name, sourceId, f);
    }
  }
}
