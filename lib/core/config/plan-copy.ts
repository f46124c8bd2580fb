// A copy's derivation of one source item: the target items it wants, each stamped with its
// source, and the conditions on the source that make writing them safe. Pure: the copy writer
// (lib/adapters/copy-writer.ts) turns a plan into one transaction.
import { createHash } from 'node:crypto';
import { isMalformedDerivation, type CopyDef, type TableDef } from './define.ts';
import { MalformedItemError } from '../errors.ts';
import { keyId } from '../keys.ts';
import { SET_TAG, toWireRecord, type JsonValue } from '../wire-values.ts';
import type { Condition, Item, Key } from '../types.ts';
import { keyOfItem } from './item-key.ts';
import { readableAttributes, restrictItem } from './lookups.ts';
import { lookupFor, readConditions, storable, type DeclaredPlanContext } from './plan-derived.ts';
import { BOOKKEEPING_PREFIX, ConfigError, show } from './resolve.ts';
import {
  dependenciesOf,
  type Dependencies,
  type DependencyCheck,
  type LookupRead,
} from './copy-dependencies.ts';

/** The attributes every copied item carries (an app ignores them; a diff may leave them out). */
export const COPY_ATTRIBUTES = {
  /** The copy's name. */
  copy: `${BOOKKEEPING_PREFIX}copy`,
  /** The source item: its declared table and key (`keyId`). */
  source: `${BOOKKEEPING_PREFIX}source`,
  /** A digest of the source's inputs the item was derived from. */
  version: `${BOOKKEEPING_PREFIX}source_version`,
} as const;

/** One target item a plan writes. */
export interface CopiedItem {
  /** The target's declared table. */
  readonly table: string;
  readonly key: Key;
  /** The whole item, bookkeeping attributes included. */
  readonly item: Item;
}

/** What a copy wants for one source item (or for a source that is gone). */
export interface CopyPlan {
  readonly copy: string;
  readonly source: { readonly table: string; readonly key: Key };
  /** `keyId` of the source: what its targets carry in `streamfill_source`. */
  readonly sourceId: string;
  /**
   * Must hold on the source when the targets are written: it exists with every input as read
   * (or still absent); for a gone source, that it does not exist.
   */
  readonly conditions: readonly Condition[];
  /** Digest of the source's inputs; null for a gone source. */
  readonly version: string | null;
  /** Digest of the whole target set: equal digests write the same items. */
  readonly digest: string;
  /** Every target the source derives now (none for a gone source), in derive order. */
  readonly targets: readonly CopiedItem[];
  /**
   * Why a source derives no target because something it looks up is absent (an alias whose bot
   * is not published): a result, re-derived when the looked-up item appears, never an error.
   */
  readonly skipped?: string;
  /** The looked-up items the derivation read: edges to record and checks to make. */
  readonly dependencies: Dependencies;
}

/** JSON text of a value, the same for equal DynamoDB values (map keys and set members sorted). */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => {
        const v = value[k] as JsonValue;
        // A set's members have no order.
        const set = k === SET_TAG ? (v as { type: string; values: (string | number)[] }) : null;
        const sorted = set
          ? { ...set, values: [...set.values].sort((a, b) => (String(a) < String(b) ? -1 : 1)) }
          : v;
        return `${JSON.stringify(k)}:${canonicalJson(sorted)}`;
      });
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

const digestOf = (value: JsonValue): string =>
  createHash('sha256').update(canonicalJson(value)).digest('base64url').slice(0, 22);

/** The targets `copy.derive` returned, checked and stamped; throws ConfigError/MalformedItemError. */
function targetsOf(
  copy: CopyDef,
  returned: unknown,
  source: { table: string; key: Key; id: string; version: string },
): CopiedItem[] {
  const what = `copy "${copy.name}"`;
  if (!Array.isArray(returned))
    throw new ConfigError([`${what}: derive must return a list of targets, got ${show(returned)}`]);
  const seen = new Set<string>();
  return returned.map((t: unknown, i): CopiedItem => {
    const target = t as { table?: unknown; item?: unknown } | null;
    const name =
      typeof target?.table === 'string' ? target.table : (target?.table as TableDef)?.name;
    const table = copy.to.find((d) => d.name === name);
    if (!table)
      throw new ConfigError([
        `${what}: target ${i} names table ${show(name)}, which is not in to (${copy.to.map((d) => d.name).join(', ')})`,
      ]);
    const raw = target?.item;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new ConfigError([`${what}: target ${i} has no item object, got ${show(raw)}`]);
    const item: Item = {};
    for (const [attribute, value] of Object.entries(raw)) {
      if (attribute.startsWith(BOOKKEEPING_PREFIX))
        throw new ConfigError([
          `${what}: target ${i} sets ${show(attribute)}: the "${BOOKKEEPING_PREFIX}" prefix is the engine's`,
        ]);
      if (value === undefined) continue;
      if (!storable(value))
        throw new ConfigError([
          `${what}: target ${i} sets "${attribute}" to ${show(value)}, which DynamoDB cannot store`,
        ]);
      item[attribute] = value;
    }
    let key: Key;
    try {
      key = keyOfItem(table, item);
    } catch (e) {
      // The source lacks what the target key is built from: this item's problem, not the config's.
      throw new MalformedItemError(source.table, source.key, '', 'reason', {
        reason: `${what}: target in "${table.name}" has no usable key: ${(e as Error).message}`,
      });
    }
    const id = keyId(table.name, key);
    if (seen.has(id))
      throw new ConfigError([`${what}: derive returned ${id} twice for ${source.id}`]);
    seen.add(id);
    item[COPY_ATTRIBUTES.copy] = copy.name;
    item[COPY_ATTRIBUTES.source] = source.id;
    item[COPY_ATTRIBUTES.version] = source.version;
    return { table: table.name, key, item };
  });
}

/** What a ledger entry records of a plan: equal digests, nothing to write. */
const digestOfPlan = (targets: readonly CopiedItem[], dependsOn: readonly string[]): string =>
  digestOf({
    targets: targets.map((t) => ({ table: t.table, item: toWireRecord(t.item) })),
    dependsOn: [...dependsOn],
  });

/** The digest of no targets and no dependencies: where a source with no ledger entry stands. */
export const NO_TARGETS_DIGEST = digestOfPlan([], []);

/**
 * The plan of `copy` for a source item of `from` (key already validated).
 * Throws MalformedItemError (the derive's `malformed(…)`, a target without a usable key),
 * LookupMissingError, ConfigError (a derive returning something the engine cannot write).
 */
export function planCopy(
  copy: CopyDef,
  from: TableDef,
  item: Item,
  key: Key,
  ctx: DeclaredPlanContext,
): CopyPlan {
  const seen = restrictItem(item, readableAttributes(from, copy));
  const reads = new Map<string, LookupRead>();
  const onRead = (read: LookupRead) => reads.set(`${read.lookup.name}\n${read.id}`, read);
  let returned: unknown;
  try {
    returned = copy.derive(seen as never, {
      lookup: lookupFor(copy, from, seen, key, ctx, onRead) as never,
    });
  } catch (e) {
    if (isMalformedDerivation(e)) {
      throw new MalformedItemError(from.name, key, '', 'reason', {
        reason: `copy "${copy.name}": ${e.reason}`,
      });
    }
    throw e;
  }
  const sourceId = keyId(from.name, key);
  const version = digestOf(toWireRecord(seen));
  const targets = targetsOf(copy, returned, { table: from.name, key, id: sourceId, version });
  const { on, checks } = dependenciesOf([...reads.values()], ctx.stamps);
  // A lookup of the source itself: its check joins the source's (one item, one action).
  const own = (c: DependencyCheck) => c.kind === 'item' && keyId(c.table, c.key) === sourceId;
  const conditions = [
    ...readConditions(from, copy.inputs, item),
    ...checks.flatMap((c) => (c.kind === 'item' && own(c) ? c.conditions : [])),
  ];
  const dependencies = { on, checks: checks.filter((c) => !own(c)) };
  const absent = [...reads.values()]
    .filter((r) => r.found === null)
    .map((r) => `lookup "${r.lookup.name}" found no ${r.id}`);
  return {
    copy: copy.name,
    source: { table: from.name, key },
    sourceId,
    conditions,
    version,
    digest: digestOfPlan(targets, dependencies.on),
    targets,
    ...(targets.length === 0 && absent.length > 0 && { skipped: absent.join('; ') }),
    dependencies,
  };
}

/** The plan for a source that is gone (a REMOVE, a scan copy of a deleted item): no targets. */
export function planCopyOfGone(copy: CopyDef, from: TableDef, key: Key): CopyPlan {
  const [partitionKey] = from.key;
  return {
    copy: copy.name,
    source: { table: from.name, key },
    sourceId: keyId(from.name, key),
    conditions: [{ op: 'notExists', attribute: partitionKey }],
    version: null,
    digest: NO_TARGETS_DIGEST,
    targets: [],
    dependencies: { on: [], checks: [] },
  };
}
