// Renders keys for logs, errors and dedupe ids; depends on nothing so errors can use it too.
import type { Key } from './types.ts';

/**
 * `{tenant_id="t1", order_no=7}`, in the key's own order (keys are built in schema order);
 * strings JSON-quoted so odd ids stay unambiguous.
 */
export function formatKey(key: Key): string {
  const parts = Object.keys(key).map((name) => {
    const value = key[name];
    const shown =
      typeof value === 'string'
        ? JSON.stringify(value)
        : value instanceof Uint8Array
          ? `binary:${Buffer.from(value).toString('base64')}`
          : String(value);
    return `${name}=${shown}`;
  });
  return `{${parts.join(', ')}}`;
}
