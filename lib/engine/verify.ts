// `verify`, the referee: reads every item of the migrated tables and re-plans it. An item is
// pending when planning it would still produce a write; verify itself never writes. Search:
// the keyword fields' mapping types, each document's keywords compared exactly (a stale or an
// extra keyword is pending), and missing documents (not converged unless expected).
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { peekQueue } from '../adapters/dlq-reader.ts';
import {
  breakdownKind,
  classifyDlqBody,
  emptyBreakdown,
  type DlqBreakdownKind,
} from '../core/dlq-message.ts';
import {
  SearchIndexMissingError,
  type MappingProblem,
  type SearchIndex,
} from '../adapters/search-index.ts';
import { scanSegment } from '../adapters/segment-scanner.ts';
import { SCAN_PAGE_SIZE, SCAN_SEGMENTS } from '../config/defaults.ts';
import { LookupReader, type LookupReadResult } from '../adapters/lookup-reader.ts';
import type { Planner } from '../core/config/planner.ts';
import { physicalTable } from '../core/config/table-names.ts';
import { searchDocSatisfied } from '../core/config/plan-search.ts';
import { isLookupMissingError, isMalformedItemError } from '../core/errors.ts';
import { formatKey } from '../core/key-format.ts';
import type { Item, SearchChange, TableNames } from '../core/types.ts';
import { enabledMigrations } from './migrate-items.ts';
import { isCanary } from '../core/canary.ts';
import type { DeclaredPlanContext } from '../core/config/plan-derived.ts';
import { copiesDone, diffCopies, type CopyDiffReport } from './copy-diff.ts';
import type { CopyWriter } from '../adapters/copy-writer.ts';

export interface TableReport {
  checked: number;
  pending: number;
  malformed: number;
  expired: number;
  /**
   * Items each item migration of the table would still write, enabled or not (an opt-in
   * contract step's progress shows here before it is enabled): only enabled ones count as
   * `pending`.
   */
  phases: Record<string, number>;
}

export interface SearchReport {
  checked: number;
  /** Documents with stale, missing or extra keywords, plus mapping fields of a wrong type. */
  pending: number;
  missing: number;
  /** Keyword fields whose mapping is not the expected type (each also counts as pending). */
  mapping: MappingProblem[];
  /** The index itself does not exist (every document is then missing). */
  indexMissing: boolean;
  /**
   * `--repair`: pending documents whose keywords were rewritten from the item as read now (no
   * longer counted as pending). A repair applies at the document's own keywords version too.
   */
  repaired: number;
}

/**
 * The first migrated table's counts at the top level (the CLI's `--json` contract), then the
 * rest by declared name.
 */
export interface VerifyReport extends TableReport {
  /** The other migrated tables verified (see `VerifyDeps.only`), each with its own counts. */
  tables: Record<string, TableReport>;
  search: SearchReport | null;
  /**
   * What the dead-letter queue holds, by kind (peeked, never consumed; `VerifyDeps.dlq`): a
   * parked item or repair is work `redrive` can return. It does not change convergence, which
   * the items and documents themselves decide.
   */
  dlq: { sampled: number; byKind: Record<DlqBreakdownKind, number> } | null;
  /**
   * Up to `sampleLimit` items that are not done, with the reason. `table` is the declared
   * table, or `search` for a document or the index's mapping.
   */
  samples: { table: string; key: string; reason: string }[];
  /**
   * The copies of the verified tables, by name (see copy-diff.ts): each reason's count and
   * samples. Pending, malformed, conflict and orphan keep verify from converging; skipped (a
   * lookup found nothing, so the source derives nothing) is listed only. Empty without copies.
   */
  copies: CopyDiffReport;
}

export interface VerifyDeps {
  doc: DynamoDBDocumentClient;
  /** The loaded config, compiled: what every item is re-planned by. */
  planner: Planner;
  /** Declared table name → physical name (the lookup tables' too). */
  tables: TableNames;
  /**
   * The config's one search index (see `configSearchSpec`). Absent: search documents are not
   * checked, and the search migrations are left out of what must hold.
   */
  search?: SearchIndex;
  /** Reads the lookups the items need. @default a LookupReader on `doc` and `tables` */
  lookups?: LookupReader;
  /** The migrations that must hold (`--contract` adds the opt-in ones). @default the config's defaults */
  migrations?: readonly string[];
  /**
   * The migrated tables to verify, by declared name. By default every migrated table one of
   * `migrations` drives (a table is converged only when verified). A table left out is not
   * reported; a name the config does not migrate is an error.
   * @default the tables of `migrations`
   */
  only?: readonly string[];
  /** Parallel Scan segments. @default 4 (SCAN_SEGMENTS) */
  segments?: number;
  /** @default 20 */
  sampleLimit?: number;
  /** Epoch seconds for TTL checks. @default now */
  nowSeconds?: number;
  /**
   * Rewrite the keywords of pending search documents from the items as read now, through the
   * version guard as repairs (which also apply at an equal version). The only write verify
   * makes, and only when asked. @default false
   */
  repair?: boolean;
  /** With `repair`: rewrites copies' targets changed or deleted behind their back. */
  copies?: CopyWriter;
  /** The dead-letter queue to peek for its breakdown by kind. Absent: `dlq` is null. */
  dlq?: { sqs: SQSClient; url: string; sample?: number };
}

type Sample = (table: string, key: string, reason: string) => void;

const emptyTable = (): TableReport => ({
  checked: 0,
  pending: 0,
  malformed: 0,
  expired: 0,
  phases: {},
});

/**
 * Verifies every migrated table (or the `only` ones) against the config's migrations.
 *
 * @example
 * const report = await verifyAll({ doc, planner, tables: { orders: 'orders-prod' }, search });
 * process.exitCode = isConverged(report) ? 0 : 1;
 */
export async function verifyAll(deps: VerifyDeps): Promise<VerifyReport> {
  // Bad input fails before any read.
  const { planner } = deps;
  const selected = deps.only
    ? checkedTables(planner, deps.only)
    : planner.migratedTables.filter((t) => planner.migrationsFor(t, deps.migrations).length);
  const report: VerifyReport = {
    ...emptyTable(),
    tables: {},
    search: deps.search
      ? { checked: 0, pending: 0, missing: 0, mapping: [], indexMissing: false, repaired: 0 }
      : null,
    dlq: null,
    samples: [],
    copies: {},
  };
  if (deps.dlq) {
    const peeked = await peekQueue(deps.dlq.sqs, deps.dlq.url, { max: deps.dlq.sample ?? 100 });
    const byKind = emptyBreakdown();
    for (const m of peeked) byKind[breakdownKind(classifyDlqBody(m.body))]++;
    report.dlq = { sampled: peeked.length, byKind };
  }
  const sample: Sample = (table, key, reason) => {
    if (report.samples.length < (deps.sampleLimit ?? 20))
      report.samples.push({ table, key, reason });
  };
  if (deps.search && report.search) await checkMapping(deps.search, report.search, sample);
  const nowSeconds = deps.nowSeconds ?? Math.floor(Date.now() / 1000);
  const lookups = deps.lookups ?? new LookupReader(deps.doc, deps.tables);
  for (const table of selected) {
    // The first migrated table's counts stay at the top level (the `--json` contract).
    const counts =
      table === planner.migratedTables[0] ? report : (report.tables[table] = emptyTable());
    await verifyTable(table, deps, lookups, counts, report.search, sample, nowSeconds);
  }
  const copies = selected.flatMap((t) => planner.copiesFor(t, deps.migrations).map((c) => c.name));
  if (copies.length)
    report.copies = await diffCopies({
      doc: deps.doc,
      planner,
      tables: deps.tables,
      lookups,
      ...(deps.migrations && { migrations: deps.migrations }),
      only: copies,
      ...(deps.segments && { segments: deps.segments }),
      ...(deps.sampleLimit && { sampleLimit: deps.sampleLimit }),
      ...(deps.repair && deps.copies && { repair: deps.copies }),
      nowSeconds,
    });
  return report;
}

/** `only`, each name checked: a declared table some migration drives. */
function checkedTables(planner: Planner, only: readonly string[]): string[] {
  for (const t of only) {
    if (!planner.migratedTables.includes(t)) {
      throw new Error(
        `verify: "${t}" is not a migrated table of the config (migrated: ${planner.migratedTables.join(', ')})`,
      );
    }
  }
  return [...new Set(only)];
}

async function verifyTable(
  table: string,
  deps: VerifyDeps,
  lookups: LookupReader,
  counts: TableReport,
  search: SearchReport | null,
  sample: Sample,
  nowSeconds: number,
): Promise<void> {
  const { planner } = deps;
  const enabled = enabledMigrations(table, deps);
  const shape = planner.table(table);
  // Every declared migration's inputs, key, writes and TTL (the phases of opt-in ones
  // included), never the rest of the item.
  const projection = planner.projection(table, planner.allMigrations);
  const phased = planner
    .migrationsFor(table, planner.allMigrations)
    .filter((m) => planner.summaries.get(m.name)?.target === 'dynamodb')
    .map((m) => m.name);
  for (const m of phased) counts.phases[m] ??= 0;
  // The scanner's own segmented reads (the historic pass's), segments side by side.
  const totalSegments = deps.segments ?? SCAN_SEGMENTS;
  const checkPage = async (page: readonly Item[]): Promise<void> => {
    const items = page.filter((item) => !isCanary(shape, item)); // the backfill gate's canary
    // The lookups of every migration (the phases too), read as the engine reads them.
    const reads = planner.collectLookups(table, items, planner.allMigrations);
    const read: LookupReadResult =
      reads.byTable.size || reads.byIndex.size
        ? await lookups.read(reads.byTable, reads.byIndex)
        : { read: new Map(), failed: new Map(), indexed: new Map() };
    const ctx: DeclaredPlanContext = {
      lookups: planner.lookupResults(reads, read.read, read.indexed),
      nowSeconds,
    };
    const searchChecks: SearchChange[] = [];
    for (const item of items) {
      counts.checked++;
      for (const m of phased) {
        if (wouldWrite(planner, table, item, ctx, m))
          counts.phases[m] = (counts.phases[m] ?? 0) + 1;
      }
      const plan = classify(planner, table, item, counts, sample, read.failed, () =>
        planner.planItem(table, item, ctx, enabled),
      );
      if (plan && !plan.change && plan.search) searchChecks.push(plan.search);
    }
    if (deps.search && search)
      await checkSearch(deps.search, searchChecks, search, sample, deps.repair ?? false);
  };
  await Promise.all(
    Array.from({ length: totalSegments }, async (_, segment) => {
      for await (const page of scanSegment(deps.doc, {
        tableName: physicalTable(deps.tables, table),
        segment,
        totalSegments,
        projection,
        pageSize: SCAN_PAGE_SIZE,
      })) {
        await checkPage(page.items);
      }
    }),
  );
}

/** Whether migration `m` alone (enabled or not) would still write this item. */
function wouldWrite(
  planner: Planner,
  table: string,
  item: Item,
  ctx: DeclaredPlanContext,
  m: string,
): boolean {
  try {
    return planner.planItem(table, item, ctx, [m]).change !== null;
  } catch (e) {
    // Malformed, or a lookup that could not be read: `classify` counts those.
    if (isMalformedItemError(e) || isLookupMissingError(e)) return false;
    throw e;
  }
}

export interface ConvergedOptions {
  /** Search documents expected to be missing (`--allow-missing-search N`). @default 0 */
  allowMissingSearch?: number;
}

/**
 * True when nothing is pending or broken anywhere, and no more search documents are missing
 * than `allowMissingSearch` says are expected (a typo'd index shows every document missing).
 */
export function isConverged(r: VerifyReport, options: ConvergedOptions = {}): boolean {
  const done = (t: TableReport): boolean => t.pending === 0 && t.malformed === 0;
  const search =
    r.search === null ||
    (r.search.pending === 0 &&
      !r.search.indexMissing &&
      r.search.missing <= (options.allowMissingSearch ?? 0));
  return done(r) && Object.values(r.tables).every(done) && search && copiesDone(r.copies);
}

/** Each spec field mapped with another type (or not at all) is pending: updates would fail. */
async function checkMapping(search: SearchIndex, counts: SearchReport, sample: Sample) {
  try {
    counts.mapping = await search.mappingProblems();
  } catch (e) {
    if (!(e instanceof SearchIndexMissingError)) throw e;
    counts.indexMissing = true;
    sample('search', search.index, 'the index does not exist');
    return;
  }
  for (const p of counts.mapping) {
    counts.pending++;
    sample('search', `mapping ${p.field}`, `type ${p.actual}, expected ${p.expected}`);
  }
}

function classify<P extends { change: unknown; expired?: boolean }>(
  planner: Planner,
  table: string,
  item: Item,
  counts: TableReport,
  sample: Sample,
  lookupFailures: ReadonlyMap<string, string>,
  plan: () => P,
): P | null {
  try {
    const p = plan();
    if (p.expired) counts.expired++;
    else if (p.change) {
      counts.pending++;
      sample(table, formatKey(planner.partialKey(table, item)), 'not migrated yet');
    }
    return p;
  } catch (e) {
    if (isLookupMissingError(e)) {
      // Pending, never planned with a default: the next pass reads the lookup again.
      counts.pending++;
      const lookedUp = planner.resolved.lookups.get(e.lookup)?.table.name;
      const why = lookedUp === undefined ? undefined : lookupFailures.get(lookedUp);
      sample(
        table,
        formatKey(planner.partialKey(table, item)),
        `lookup ${e.lookup} not available${why ? ` (${why})` : ''}`,
      );
      return null;
    }
    if (!isMalformedItemError(e)) throw e;
    counts.malformed++;
    // The message names the item again; the sample already carries the key.
    sample(table, formatKey(e.key), e.message.replace(`${e.table} item ${formatKey(e.key)}: `, ''));
    return null;
  }
}

async function checkSearch(
  search: SearchIndex,
  expected: SearchChange[],
  counts: SearchReport,
  sample: Sample,
  repair: boolean,
): Promise<void> {
  if (!expected.length) return;
  if (counts.indexMissing) {
    counts.checked += expected.length;
    counts.missing += expected.length;
    return;
  }
  const docs = await search.getDocs(expected.map((e) => e.id));
  const stale: SearchChange[] = [];
  for (const e of expected) {
    counts.checked++;
    const doc = docs.get(e.id);
    if (!doc) {
      counts.missing++;
      sample('search', e.id, 'document missing');
    } else if (!searchDocSatisfied(doc, e)) stale.push(e);
  }
  const repaired = new Set<string>();
  if (repair && stale.length) {
    const out = await search.applyUpdates(
      stale.map((e) => ({ ...e, repair: true as const })),
      true,
    );
    for (const r of out) if (r.outcome === 'migrated') repaired.add(r.id);
    counts.repaired += repaired.size;
  }
  for (const e of stale) {
    if (repaired.has(e.id)) continue;
    counts.pending++;
    sample(
      'search',
      e.id,
      repair
        ? 'keyword fields missing, stale or extra (the repair was refused: the document is newer than the item read)'
        : 'keyword fields missing, stale or extra (`verify --repair` rewrites them)',
    );
  }
}
