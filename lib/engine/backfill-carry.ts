// What the scanner can carry to the worker: each scanned item becomes a work item packed into
// messages, and an item that cannot be carried (an attribute no message can hold, or too large
// for one message) is refused with its reason instead of aborting the page, so that it can be
// parked and counted while the rest of the scan goes on.
import type { ParkEntry } from '../adapters/dead-letters.ts';
import { SERVICES } from '../config/defaults.ts';
import type { TableDef } from '../core/config/define.ts';
import { partialKeyOf } from '../core/config/item-key.ts';
import type { Item, Key } from '../core/types.ts';
import {
  packItems,
  workItemOf,
  type PackOptions,
  type PackedMessage,
  type WorkItem,
} from '../core/work-message.ts';

export interface Refused {
  key: Key;
  reason: string;
  /** What was scanned of it (the projection). */
  item: Item;
}

/** The work items of a page, and the items no work item can be made of. */
export function workItemsOf(
  table: TableDef,
  items: readonly Item[],
  projection: readonly string[],
): { work: WorkItem[]; refused: Refused[] } {
  const work: WorkItem[] = [];
  const refused: Refused[] = [];
  for (const item of items) {
    try {
      work.push(workItemOf(table, item, projection));
    } catch (e) {
      refused.push({
        key: (e as { key?: Key }).key ?? partialKeyOf(table, item),
        reason: (e as Error).message,
        item,
      });
    }
  }
  return { work, refused };
}

/** Packs `work` into messages; an item too large for one message alone is refused, not thrown. */
export function packCarryable(
  table: string,
  work: readonly WorkItem[],
  options: PackOptions,
): { packed: PackedMessage[]; carried: number; refused: Refused[] } {
  const refused: Refused[] = [];
  let rest = [...work];
  for (;;) {
    try {
      const packed = packItems(table, rest, options);
      return { packed, carried: rest.length, refused };
    } catch (e) {
      const key = (e as { key?: Key }).key;
      const bad = key && rest.find((w) => w.key === key);
      if (!bad) throw e;
      refused.push({
        key: bad.key,
        reason: (e as Error).message,
        item: { ...bad.inputs, ...bad.key },
      });
      rest = rest.filter((w) => w !== bad);
    }
  }
}

/** A refused item as a parked DLQ record of the scanner. */
export const parkEntryOf = (tableName: string, r: Refused): ParkEntry => ({
  source: SERVICES.backfillScanner.service,
  reason: `backfill could not carry it to the worker: ${r.reason}`,
  table: tableName,
  key: r.key,
  record: r.item,
});
