// Key ids: the same key yields the same text in dedupe sets and log correlation, whatever
// order its attributes come in.
import { EXACT_NUMBER_TAG, ExactNumber } from './exact-number.ts';
import type { Key } from './types.ts';

/**
 * Stable, unambiguous id of an item (dedupe sets, log correlation), whatever order the key's
 * attributes come in: `orders:{"order_no":7,"tenant_id":"t1"}`.
 */
export function keyId(table: string, key: Key): string {
  // fromEntries: an attribute named `__proto__` stays an attribute (an assignment would not).
  const ordered = Object.fromEntries(
    Object.keys(key)
      .sort()
      .map((n) => [n, key[n]]),
  ) as Key;
  // Binary key values (declared tables) as base64: unambiguous and short.
  return `${table}:${JSON.stringify(ordered, (_, v: unknown) =>
    v instanceof Uint8Array ? { $binary: Buffer.from(v).toString('base64') } : v,
  )}`;
}

/**
 * The table and key of a `keyId` (a copied item's `streamfill_source`); undefined when `id` is
 * not one. Binary values come back as bytes, exact numbers as ExactNumbers.
 */
export function parseKeyId(id: string): { table: string; key: Key } | undefined {
  // The key's JSON starts at the first `:{`; declared table names hold neither.
  const at = id.indexOf(':{');
  if (at <= 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(id.slice(at + 1), (_, v: unknown) => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length !== 1) return v;
      if (typeof o.$binary === 'string') return new Uint8Array(Buffer.from(o.$binary, 'base64'));
      const exact = o[EXACT_NUMBER_TAG];
      return typeof exact === 'string' ? new ExactNumber(exact) : v;
    });
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const key = parsed as Record<string, unknown>;
  const scalar = (v: unknown) =>
    typeof v === 'string' ||
    typeof v === 'number' ||
    v instanceof Uint8Array ||
    v instanceof ExactNumber;
  if (!Object.keys(key).length || !Object.values(key).every(scalar)) return undefined;
  return { table: id.slice(0, at), key: key as Key };
}
