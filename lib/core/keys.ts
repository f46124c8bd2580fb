// Key ids: the same key yields the same text in dedupe sets and log correlation, whatever
// order its attributes come in.
import type { Key } from './types.ts';

/**
 * Stable, unambiguous id of an item (dedupe sets, log correlation), whatever order the key's
 * attributes come in: `orders:{"order_no":7,"tenant_id":"t1"}`.
 */
export function keyId(table: string, key: Key): string {
  const ordered: Key = {};
  for (const name of Object.keys(key).sort()) ordered[name] = key[name] as Key[string];
  // Binary key values (declared tables) as base64: unambiguous and short.
  return `${table}:${JSON.stringify(ordered, (_, v: unknown) =>
    v instanceof Uint8Array ? { $binary: Buffer.from(v).toString('base64') } : v,
  )}`;
}
