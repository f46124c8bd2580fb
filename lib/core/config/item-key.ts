// Keys and TTL of declared tables: any 1–2 attribute schema of string, number or binary values.
import { describeType, MalformedItemError } from '../errors.ts';
import { isExactNumber } from '../exact-number.ts';
import type { Item, Key, KeyValue } from '../types.ts';
import type { TableDef } from './define.ts';

function isKeyValue(value: unknown): value is KeyValue {
  return (
    typeof value === 'string' ||
    (typeof value === 'number' && Number.isFinite(value)) ||
    isExactNumber(value) ||
    value instanceof Uint8Array
  );
}

const isEmpty = (value: KeyValue): boolean =>
  value === '' || (value instanceof Uint8Array && value.length === 0);

/** The key attributes the item has, as far as they are valid. Names broken items; never throws. */
export function partialKeyOf(table: TableDef, item: Item): Key {
  const key: Key = {};
  for (const name of table.key) {
    const value = item[name];
    if (isKeyValue(value) && !isEmpty(value)) key[name] = value;
  }
  return key;
}

/** The validated key of an item of `table`, in schema order; malformed names the attribute. */
export function keyOfItem(table: TableDef, item: Item): Key {
  const key: Key = {};
  for (const name of table.key) {
    const value = item[name];
    if (value === undefined)
      throw new MalformedItemError(table.name, partialKeyOf(table, item), name, 'missing');
    if (!isKeyValue(value)) {
      throw new MalformedItemError(table.name, partialKeyOf(table, item), name, 'wrong-type', {
        actualType: describeType(value),
        expectedType: 'string, number or binary',
      });
    }
    if (isEmpty(value))
      throw new MalformedItemError(table.name, partialKeyOf(table, item), name, 'empty');
    key[name] = value;
  }
  return key;
}

/** Whether the item's TTL (epoch seconds in `table.ttl`) has passed; only when `now` is known. */
export function isExpiredItem(
  table: TableDef,
  item: Item,
  nowSeconds: number | undefined,
): boolean {
  if (table.ttl === undefined || nowSeconds === undefined) return false;
  const exp = item[table.ttl];
  const seconds = typeof exp === 'number' ? exp : isExactNumber(exp) ? Number(exp.text) : NaN;
  return Number.isFinite(seconds) && seconds <= nowSeconds;
}
