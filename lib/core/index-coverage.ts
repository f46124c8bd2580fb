// Whether a new GSI is complete: its build state (from DescribeTable) plus a count of items
// that carry its key attributes against items that should (those holding the base attributes
// the key is derived from). Pure: the adapter scans and describes, this decides.
import type { Item } from './types.ts';

export type IndexStatus = 'CREATING' | 'UPDATING' | 'ACTIVE' | 'DELETING';

export interface IndexState {
  table: string;
  index: string;
  status: IndexStatus;
  /** DynamoDB is still filling the index from existing items (only while CREATING). */
  backfilling: boolean;
}

export interface CoverageSpec {
  /** An item should carry the index key when it has all of these (e.g. chat_app_id, last_update). */
  baseAttributes: readonly string[];
  /** An item carries the key when it has all of these (e.g. chat_app_sk). */
  keyAttributes: readonly string[];
  /** Attributes that identify an item in samples (the table's primary key). */
  primaryKey?: readonly string[];
  /** How many missing items to keep as samples. @default 5 */
  maxSamples?: number;
}

export interface Coverage {
  scanned: number;
  /** Items holding every base attribute. */
  should: number;
  /** Of those, items holding every key attribute. */
  carrying: number;
  /** should − carrying: items the migration has not reached yet (or could not derive). */
  missing: number;
  /** Items that carry the key without the base attributes (written by the app directly). */
  extra: number;
  /** Primary keys of some missing items. */
  samples: Record<string, unknown>[];
}

export const emptyCoverage = (): Coverage => ({
  scanned: 0,
  should: 0,
  carrying: 0,
  missing: 0,
  extra: 0,
  samples: [],
});

const has = (item: Item, attr: string): boolean => item[attr] !== undefined && item[attr] !== null;

/** Adds a page of items to `c` (mutated and returned: scans are large). */
export function tallyCoverage(c: Coverage, items: readonly Item[], spec: CoverageSpec): Coverage {
  const maxSamples = spec.maxSamples ?? 5;
  for (const item of items) {
    c.scanned++;
    const should = spec.baseAttributes.every((a) => has(item, a));
    const carries = spec.keyAttributes.every((a) => has(item, a));
    if (should) {
      c.should++;
      if (carries) c.carrying++;
      else {
        c.missing++;
        if (c.samples.length < maxSamples && spec.primaryKey?.length) {
          c.samples.push(Object.fromEntries(spec.primaryKey.map((k) => [k, item[k]])));
        }
      }
    } else if (carries) c.extra++;
  }
  return c;
}

export function mergeCoverage(a: Coverage, b: Coverage, maxSamples = 5): Coverage {
  return {
    scanned: a.scanned + b.scanned,
    should: a.should + b.should,
    carrying: a.carrying + b.carrying,
    missing: a.missing + b.missing,
    extra: a.extra + b.extra,
    samples: [...a.samples, ...b.samples].slice(0, maxSamples),
  };
}

/** What the index build still waits on, or undefined when it is ACTIVE and filled. */
export function buildPending(state: IndexState): string | undefined {
  if (state.status === 'ACTIVE' && !state.backfilling) return undefined;
  const what = state.backfilling
    ? `${state.status}, DynamoDB is still backfilling it from existing items`
    : state.status === 'DELETING'
      ? 'DELETING: it is being removed and will not become ACTIVE'
      : `${state.status}, not ACTIVE yet`;
  return `index ${state.index} on ${state.table} is ${what}`;
}

export interface IndexVerdict {
  ready: boolean;
  reasons: string[];
}

/** Ready only when the index is ACTIVE, not backfilling, and no item that should carry its key lacks it. */
export function indexVerdict(
  state: IndexState,
  coverage: Coverage | undefined,
  spec: CoverageSpec,
): IndexVerdict {
  const reasons: string[] = [];
  const build = buildPending(state);
  if (build) reasons.push(build);
  if (!coverage) reasons.push('items not counted');
  else if (coverage.missing > 0) {
    reasons.push(
      `${coverage.missing} of ${coverage.should} items with ${spec.baseAttributes.join(' and ')} ` +
        `lack ${spec.keyAttributes.join(' and ')} (run the backfill, then check again)`,
    );
  }
  return { ready: reasons.length === 0, reasons };
}
