// Key extraction and formatting. Keys are always rendered in schema order (partition key
// first) so the same item yields the same text in logs, errors and dedupe ids.
import { MalformedItemError, describeType } from './errors.ts';
import { KEY_ATTRIBUTES, type Item, type Key, type TableRole } from './types.ts';

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

/**
 * The key attributes the item has, as far as they are representable (string or number).
 * Used to name broken items in errors, so it never throws.
 */
export function partialKey(table: TableRole, item: Item): Key {
  const key: Key = {};
  for (const name of KEY_ATTRIBUTES[table]) {
    const value = item[name];
    if (typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value))) {
      key[name] = value;
    }
  }
  return key;
}

/** The validated key of an item of `table`: every key attribute a non-empty string. */
export function keyOf(table: TableRole, item: Item): Key {
  const key: Key = {};
  for (const name of KEY_ATTRIBUTES[table]) {
    const value = item[name];
    if (value === undefined) {
      throw new MalformedItemError(table, partialKey(table, item), name, 'missing');
    }
    if (typeof value !== 'string') {
      throw new MalformedItemError(table, partialKey(table, item), name, 'wrong-type', {
        actualType: describeType(value),
      });
    }
    if (value === '') throw new MalformedItemError(table, partialKey(table, item), name, 'empty');
    key[name] = value;
  }
  return key;
}

export function sessionKey(item: Item): Key {
  return keyOf('session', item);
}

export function tagKey(item: Item): Key {
  return keyOf('tag', item);
}
