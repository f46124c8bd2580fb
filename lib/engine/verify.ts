// `verify`: reads everything and re-plans it. An item is pending when planning it would
// still produce a write; verify itself never writes.
import { isLookupMissingError, isMalformedItemError } from '../core/errors.ts';
import { formatKey } from '../core/key-format.ts';
import { partialKey } from '../core/keys.ts';
import { searchKeywordsSatisfied } from '../core/migrations/session-search-keywords.ts';
import { planSessionItem, planTagItem } from '../core/plan.ts';
import type { Item, MigrationName, PlanContext, SearchChange } from '../core/types.ts';
import type { TableNames } from '../adapters/dynamo-writer.ts';
import type { SearchIndex } from '../adapters/search-index.ts';
import { scanPages } from '../adapters/table-scan.ts';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SESSION_MIGRATIONS, TAG_MIGRATIONS } from './migrate-items.ts';

export interface TableReport {
  checked: number;
  pending: number;
  malformed: number;
  expired: number;
}

export interface VerifyReport extends TableReport {
  tags: TableReport | null;
  search: { checked: number; pending: number; missing: number } | null;
  /** Up to `sampleLimit` items that are not done, with the reason. */
  samples: { table: string; key: string; reason: string }[];
}

export interface VerifyDeps {
  doc: DynamoDBDocumentClient;
  tables: TableNames;
  search?: SearchIndex;
  includeTags?: boolean;
  segments?: number;
  sampleLimit?: number;
  nowSeconds?: number;
}

const emptyTable = (): TableReport => ({ checked: 0, pending: 0, malformed: 0, expired: 0 });

export async function verifyAll(deps: VerifyDeps): Promise<VerifyReport> {
  const report: VerifyReport = {
    ...emptyTable(),
    tags: deps.includeTags ? emptyTable() : null,
    search: deps.search ? { checked: 0, pending: 0, missing: 0 } : null,
    samples: [],
  };
  const sample = (table: string, key: string, reason: string): void => {
    if (report.samples.length < (deps.sampleLimit ?? 20))
      report.samples.push({ table, key, reason });
  };
  const enabled: MigrationName[] = SESSION_MIGRATIONS.filter(
    (m) => m !== 'session-search-keywords' || deps.search,
  );
  const nowSeconds = deps.nowSeconds ?? Math.floor(Date.now() / 1000);
  for await (const page of scanPages(deps.doc, deps.tables.session, { segments: deps.segments })) {
    // No user lookups: an item still missing user_type is pending whatever the user's type is.
    const ctx: PlanContext = { userTypes: new Map(), nowSeconds };
    const searchChecks: SearchChange[] = [];
    for (const item of page) {
      report.checked++;
      const plan = classify('session', item, report, sample, () =>
        planSessionItem(item, ctx, enabled),
      );
      if (plan && !plan.change && plan.search) searchChecks.push(plan.search);
    }
    if (deps.search && report.search)
      await checkSearch(deps.search, searchChecks, report.search, sample);
  }
  if (report.tags) {
    for await (const page of scanPages(deps.doc, deps.tables.tag, { segments: 1 })) {
      for (const item of page) {
        report.tags.checked++;
        classify('tag', item, report.tags, sample, () => planTagItem(item, {}, TAG_MIGRATIONS));
      }
    }
  }
  return report;
}

/** True when nothing is pending or broken anywhere. */
export function isConverged(r: VerifyReport): boolean {
  return (
    r.pending === 0 &&
    r.malformed === 0 &&
    (r.tags === null || (r.tags.pending === 0 && r.tags.malformed === 0)) &&
    (r.search === null || r.search.pending === 0)
  );
}

function classify<P extends { change: unknown; expired?: boolean }>(
  table: 'session' | 'tag',
  item: Item,
  counts: TableReport,
  sample: (table: string, key: string, reason: string) => void,
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
  counts: { checked: number; pending: number; missing: number },
  sample: (table: string, key: string, reason: string) => void,
): Promise<void> {
  if (!expected.length) return;
  const docs = await search.getKeywordDocs(expected.map((e) => e.id));
  for (const e of expected) {
    counts.checked++;
    const doc = docs.get(e.id);
    if (!doc) counts.missing++;
    else if (!searchKeywordsSatisfied(doc, e)) {
      counts.pending++;
      sample('search', e.id, 'keyword fields missing or stale');
    }
  }
}
