// Renders keys for logs, errors and dedupe ids; depends on nothing so errors can use it too.
import { KEY_ATTRIBUTES, type Key } from './types.ts';

// Rank of known key attributes (in table declaration order, partition keys before sort keys);
// unknown attributes follow alphabetically.
const KEY_ORDER: readonly string[] = [...new Set(Object.values(KEY_ATTRIBUTES).flat())];

export function orderedKeyNames(key: Key): string[] {
  const rank = (name: string): number => {
    const i = KEY_ORDER.indexOf(name);
    return i === -1 ? KEY_ORDER.length : i;
  };
  return Object.keys(key).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** `{user_id="u1", session_id="s9"}`; strings JSON-quoted so odd ids stay unambiguous. */
export function formatKey(key: Key): string {
  const parts = orderedKeyNames(key).map((name) => {
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
