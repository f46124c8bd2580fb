// Declared searches (defineSearch): keyword copies of item attributes in the item's search
// document, one version-guarded partial update per document, whatever the number of searches.
import { MalformedItemError } from '../errors.ts';
import type { Item, Key, SearchChange } from '../types.ts';
import { EPOCH_MS_FROM, versionMillis } from '../version.ts';
import type { SearchDef, TableDef } from './define.ts';
import { restrictItem } from './lookups.ts';
import { ConfigError, show } from './resolve.ts';

/**
 * The document field holding the version (epoch ms) the keywords were derived from. The guard
 * reads and writes it; it is part of the additive mapping.
 */
export const KEYWORDS_VERSION_FIELD = 'streamfill_keywords_version';

/** A Painless read of a `_source` field: `src.name`, or `src['odd name']`. */
function field(name: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `src.${name}` : `src[${JSON.stringify(name)}]`;
}

/**
 * The guarded partial update, given `params.doc` (fields to set), `params.remove` (fields to
 * remove), `params.version` (epoch ms of the item's version attribute, or null) and
 * `params.repair`. A no-op when the keywords already come from this version or a newer one
 * (a repair applies at an equal one), when the document's own `versionAttribute` (ISO-8601 or
 * epoch seconds/ms, as lib/core/version.ts reads it) is newer, or without a version.
 */
export function versionGuard(versionAttribute: string): string {
  return `
  def src = ctx._source;
  def kv = src.${KEYWORDS_VERSION_FIELD};
  if (params.version == null) { ctx.op = 'noop'; return; }
  long v = ((Number) params.version).longValue();
  if (kv instanceof Number) {
    long k = ((Number) kv).longValue();
    if (k > v || (k == v && params.repair != true)) { ctx.op = 'noop'; return; }
  }
  def lu = ${field(versionAttribute)};
  long luMs = Long.MIN_VALUE;
  if (lu instanceof Number) {
    long n = ((Number) lu).longValue();
    luMs = n < ${EPOCH_MS_FROM}L ? n * 1000L : n;
  } else if (lu instanceof String) {
    String t = lu.trim();
    boolean digits = t.length() > 0 && t.length() <= 16;
    for (int i = 0; digits && i < t.length(); i++) { if (!Character.isDigit(t.charAt(i))) { digits = false; } }
    if (digits) {
      long n = Long.parseLong(t);
      luMs = n < ${EPOCH_MS_FROM}L ? n * 1000L : n;
    } else {
      try { luMs = Instant.parse(t).toEpochMilli(); } catch (Exception e1) {
        try { luMs = OffsetDateTime.parse(t).toInstant().toEpochMilli(); } catch (Exception e2) {
          try { luMs = LocalDateTime.parse(t).toInstant(ZoneOffset.UTC).toEpochMilli(); } catch (Exception e3) {}
        }
      }
    }
  }
  if (luMs > v) { ctx.op = 'noop'; return; }
  src.${KEYWORDS_VERSION_FIELD} = v;
  for (def e : params.doc.entrySet()) { src[e.getKey()] = e.getValue(); }
  for (def f : params.remove) { src.remove(f); }
`;
}

/** What the search adapter is handed for one index: additive mapping, fields and guard. */
export interface DeclaredSearchSpec {
  index: string;
  /** Index field → item attribute, merged over the index's searches. */
  sources: Readonly<Record<string, string>>;
  fields: readonly string[];
  mapping: { properties: Record<string, { type: string }> };
  guard: string;
  /** The searches merged here, in config order. */
  searches: readonly SearchDef[];
}

/** The enabled searches of one table merged per index, in config order of first appearance. */
export function searchSpecs(searches: readonly SearchDef[]): DeclaredSearchSpec[] {
  const byIndex = new Map<string, SearchDef[]>();
  for (const s of searches) byIndex.set(s.index, [...(byIndex.get(s.index) ?? []), s]);
  return [...byIndex].map(([index, defs]) => {
    const sources: Record<string, string> = Object.assign({}, ...defs.map((d) => d.fields));
    const properties: Record<string, { type: string }> = {};
    for (const f of Object.keys(sources)) properties[f] = { type: 'keyword' };
    properties[KEYWORDS_VERSION_FIELD] = { type: 'long' };
    // resolveConfig checked that the searches of one table and index share a version.
    return {
      index,
      sources,
      fields: Object.keys(properties),
      mapping: { properties },
      guard: versionGuard(defs[0]!.version),
      searches: defs,
    };
  });
}

/**
 * The partial update of the item's document for one index (pass the item as it will be after
 * the DynamoDB change). A field whose attribute is absent or not a string is removed; null when
 * no field has a value. The version attribute must be one the guard orders, else malformed.
 */
export function planSearchDoc(
  table: TableDef,
  spec: DeclaredSearchSpec,
  item: Item,
  key: Key,
): SearchChange | null {
  const doc: Record<string, string> = {};
  for (const [f, attribute] of Object.entries(spec.sources)) {
    const value = item[attribute];
    if (typeof value === 'string') doc[f] = value;
  }
  if (Object.keys(doc).length === 0) return null;
  const remove = Object.keys(spec.sources).filter((f) => !(f in doc));
  const keyItem = restrictItem(item, table.key);
  const ids = [...new Set(spec.searches.map((s) => s.id(keyItem as never)))];
  if (ids.length !== 1 || typeof ids[0] !== 'string' || ids[0] === '') {
    throw new ConfigError([
      `searches ${spec.searches.map((s) => `"${s.name}"`).join(', ')} of index "${spec.index}": id must give one non-empty string per item, got ${show(ids)}`,
    ]);
  }
  const attribute = spec.searches[0]!.version;
  const v = item[attribute];
  if (v === undefined) throw new MalformedItemError(table.name, key, attribute, 'missing');
  if (versionMillis(v) === undefined)
    throw new MalformedItemError(table.name, key, attribute, 'not-a-version', { value: v });
  const version = typeof v === 'string' ? v.trim() : String(v);
  return { id: ids[0], doc, ...(remove.length && { remove }), version };
}

/**
 * Whether an existing search document already holds what `change` would write: every field it
 * sets equal, and every field it removes absent (a keyword the item no longer implies is stale).
 * The version field is the guard's business, not convergence's.
 */
export function searchDocSatisfied(
  doc: Readonly<Record<string, unknown>>,
  change: SearchChange,
): boolean {
  return (
    Object.entries(change.doc).every(([f, v]) => doc[f] === v) &&
    (change.remove ?? []).every((f) => doc[f] === undefined)
  );
}
