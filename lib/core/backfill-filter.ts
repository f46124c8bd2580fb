// What the backfill scanner reads of a table and which items it may leave out, derived from the
// migration registry: the projection (keys, inputs, current values of written attributes, TTL)
// and the "not yet migrated" filter (learned from the planners, never written by hand).
import { migrationsFor, type MigrationInfo } from './migrations/index.ts';
import { KEY_ATTRIBUTES, TTL_ATTRIBUTES, type Item, type TableRole } from './types.ts';

/** A FilterExpression with its placeholders, as the segment scanner takes it. */
export interface PendingFilter {
  expression: string;
  names: Record<string, string>;
}

const dynamoMigrations = (table: TableRole, enabled: readonly string[]): MigrationInfo[] =>
  migrationsFor(table, enabled).filter((m) => m.target === 'dynamodb');

/**
 * Attributes the scanner projects: the keys, every enabled migration's inputs, the current
 * values of the attributes the DynamoDB migrations write (so the worker can see an item that
 * needs nothing), and the TTL attribute (expired items are left to TTL).
 */
export function scanProjection(table: TableRole, enabled: readonly string[]): string[] {
  const migrations = migrationsFor(table, enabled);
  const ttl = TTL_ATTRIBUTES[table];
  return [
    ...new Set([
      ...KEY_ATTRIBUTES[table],
      ...migrations.flatMap((m) => m.inputs),
      ...dynamoMigrations(table, enabled).flatMap((m) => m.writes),
      ...(ttl ? [ttl] : []),
    ]),
  ];
}

/**
 * What a migrated item looks like, learned by planning two synthetic legacy items with the
 * registry's planners: one with every input present, one without the attributes the migrations
 * write. Attributes a change sets are present once migrated; attributes it removes are absent.
 */
export function migratedShape(
  table: TableRole,
  enabled: readonly string[],
): { present: string[]; absent: string[] } {
  const migrations = dynamoMigrations(table, enabled);
  const keys = Object.fromEntries(KEY_ATTRIBUTES[table].map((k) => [k, `probe-${k}`]));
  const inputs = migrations.flatMap((m) => m.inputs);
  const writes = new Set(migrations.flatMap((m) => m.writes));
  const full: Item = { ...Object.fromEntries(inputs.map((a) => [a, `probe-${a}`])), ...keys };
  const legacy: Item = Object.fromEntries(Object.entries(full).filter(([a]) => !writes.has(a)));
  const userTypes = new Map([[String(keys.user_id ?? ''), 'probe-user-type']]);
  const present = new Set<string>();
  const absent = new Set<string>();
  for (const item of [full, legacy]) {
    for (const m of migrations) {
      const change = m.plan?.(item, { userTypes });
      for (const a of Object.keys(change?.set ?? {})) present.add(a);
      for (const a of change?.remove ?? []) absent.add(a);
    }
  }
  return { present: [...present].sort(), absent: [...absent].sort() };
}

/**
 * The scan filter that keeps only items some DynamoDB migration still has to change: an
 * attribute it sets is missing, or one it removes is there. Undefined when nothing can be
 * left out: the search migration is on (an item migrated in DynamoDB may still lack its
 * keywords in the index) or no DynamoDB migration is enabled.
 *
 * A present but stale derived value (e.g. `chat_app_sk` after an old app changed
 * `last_update`) cannot be told apart by a filter; such items are the stream consumer's while
 * it runs without a break (docs/DESIGN.md, "Why it converges", point 1). After a break longer
 * than the stream's retention `backfill` scans without the filter by itself (`continuityBreak`
 * in backfill-run.ts), and `--no-filter` scans everything.
 */
export function pendingFilter(
  table: TableRole,
  enabled: readonly string[],
): PendingFilter | undefined {
  if (migrationsFor(table, enabled).some((m) => m.target === 'search')) return undefined;
  const { present, absent } = migratedShape(table, enabled);
  if (!present.length && !absent.length) return undefined;
  const names: Record<string, string> = {};
  const terms: string[] = [];
  [...present, ...absent].forEach((a, i) => {
    names[`#f${i}`] = a;
    terms.push(`${i < present.length ? 'attribute_not_exists' : 'attribute_exists'}(#f${i})`);
  });
  return { expression: terms.join(' OR '), names };
}
