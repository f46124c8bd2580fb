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
import { isLookupMissingError, isMalformedItemError } from '../core/errors.ts';
import { formatKey } from '../core/key-format.ts';
import { partialKey } from '../core/keys.ts';
import {
  migrationsFor,
  ALL_MIGRATIONS,
  DEFAULT_MIGRATIONS,
  MIGRATED_TABLES,
  type MigratedTable,
  type MigrationName,
} from '../core/migrations/index.ts';
import { scanProjection } from '../core/backfill-filter.ts';
import { searchKeywordsSatisfied } from '../core/migrations/session-search-keywords.ts';
import { planItem } from '../core/plan.ts';
import type { Item, PlanContext, SearchChange, TableNames, TableRole } from '../core/types.ts';
import { enabledMigrations } from './migrate-items.ts';
import { isCanary } from '../core/canary.ts';

export interface TableReport {
  checked: number;
  pending: number;
  malformed: number;
  expired: number;
  /**
   * Items each migration of the table would still write, enabled or not (e.g. the expand and
   * the opt-in contract step of `tag-usage-mode`): only enabled ones count as `pending`.
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

/** The session table's counts at the top level (the CLI's `--json` contract), then the rest. */
export interface VerifyReport extends TableReport {
  /** The other migrated tables verified (see `VerifyDeps.only`), each with its own counts. */
  tables: Partial<Record<MigratedTable, TableReport>>;
  search: SearchReport | null;
  /**
   * What the dead-letter queue holds, by kind (peeked, never consumed; `VerifyDeps.dlq`): a
   * parked item or repair is work `redrive` can return. It does not change convergence, which
   * the items and documents themselves decide.
   */
  dlq: { sampled: number; byKind: Record<DlqBreakdownKind, number> } | null;
  /** Up to `sampleLimit` items that are not done, with the reason. */
  samples: { table: string; key: string; reason: string }[];
}

export interface VerifyDeps {
  doc: DynamoDBDocumentClient;
  tables: TableNames;
  /** Absent: search documents are not checked. */
  search?: SearchIndex;
  /** The migrations that must hold (`--contract` adds the contract steps). @default DEFAULT_MIGRATIONS */
  migrations?: readonly MigrationName[];
  /**
   * The migrated tables to verify. By default every migrated table one of `migrations` drives
   * (tags included: a table is converged only when verified). A table left out is not reported.
   * @default the tables of `migrations`
   */
  only?: readonly MigratedTable[];
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
 * Verifies every migrated table (or the `only` ones) against its registered migrations.
 *
 * @example
 * const report = await verifyAll({ doc, tables, search });
 * process.exitCode = isConverged(report) ? 0 : 1;
 */
export async function verifyAll(deps: VerifyDeps): Promise<VerifyReport> {
  const report: VerifyReport = {
    ...emptyTable(),
    tables: {},
    search: deps.search
      ? { checked: 0, pending: 0, missing: 0, mapping: [], indexMissing: false, repaired: 0 }
      : null,
    dlq: null,
    samples: [],
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
  const selected =
    deps.only ??
    MIGRATED_TABLES.filter((t) => migrationsFor(t, deps.migrations ?? DEFAULT_MIGRATIONS).length);
  for (const table of selected) {
    // The first migrated table's counts stay at the top level (the `--json` contract).
    const counts = table === MIGRATED_TABLES[0] ? report : (report.tables[table] = emptyTable());
    await verifyTable(table, deps, counts, report.search, sample, nowSeconds);
  }
  return report;
}

async function verifyTable(
  table: TableRole,
  deps: VerifyDeps,
  counts: TableReport,
  search: SearchReport | null,
  sample: Sample,
  nowSeconds: number,
): Promise<void> {
  const enabled = enabledMigrations(table, deps);
  // No user lookups: an item still missing user_type is pending whatever the user's type is.
  const ctx: PlanContext = { userTypes: new Map(), nowSeconds };
  // Keys, inputs and derived attributes of every registered migration (the phases of opt-in
  // ones included), never the rest of the item.
  const projection = scanProjection(table, ALL_MIGRATIONS);
  // The scanner's own segmented reads (the historic pass's), segments side by side.
  const totalSegments = deps.segments ?? SCAN_SEGMENTS;
  const checkPage = async (page: readonly Item[]): Promise<void> => {
    const searchChecks: SearchChange[] = [];
    for (const item of page) {
      if (isCanary(table, item)) continue; // the backfill gate's canary, not an application item
      counts.checked++;
      countPhases(table, item, ctx, counts.phases);
      const plan = classify(table, item, counts, sample, () => planItem(table, item, ctx, enabled));
      if (plan && !plan.change && plan.search) searchChecks.push(plan.search);
    }
    if (deps.search && search)
      await checkSearch(deps.search, searchChecks, search, sample, deps.repair ?? false);
  };
  await Promise.all(
    Array.from({ length: totalSegments }, async (_, segment) => {
      for await (const page of scanSegment(deps.doc, {
        tableName: deps.tables[table],
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

/** Per migration (enabled or not), whether it would still write this item. */
function countPhases(
  table: TableRole,
  item: Item,
  ctx: PlanContext,
  phases: Record<string, number>,
): void {
  for (const m of migrationsFor(table, ALL_MIGRATIONS)) {
    if (!m.plan) continue;
    phases[m.name] ??= 0;
    try {
      if (m.plan(item, ctx)) phases[m.name] = (phases[m.name] ?? 0) + 1;
    } catch {
      // malformed, or a lookup verify does not make: classify counts those
    }
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
  return done(r) && Object.values(r.tables).every(done) && search;
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
  table: TableRole,
  item: Item,
  counts: TableReport,
  sample: Sample,
  plan: () => P,
): P | null {
  try {
    const p = plan();
    if (p.expired) counts.expired++;
    else if (p.change) {
      counts.pending++;
      sample(table, formatKey(partialKey(table, item)), 'not migrated yet');
    }
    return p;
  } catch (e) {
    if (isLookupMissingError(e)) {
      counts.pending++;
      sample(table, formatKey(partialKey(table, item)), 'user_type not migrated yet');
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
    } else if (!searchKeywordsSatisfied(doc, e)) stale.push(e);
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
