// Plans one Pika item through the preset's planner, with the user table's answer given as a
// map (what the unit tests of the rules need), so each test states the lookup it assumes.
import type { PlanResult } from '../../lib/core/plan.ts';
import type { Item } from '../../lib/core/types.ts';
import { PIKA } from './pika.ts';

/**
 * What the user table holds: user_id → user_type, or null (no such user, or no type). A user
 * id the map does not name was not read: planning an item that needs it throws
 * LookupMissingError, as after a failed read.
 */
export type UserTypes = ReadonlyMap<string, string | null>;

export interface PikaPlanContext {
  /** Omitted: the user table was not read at all. */
  userTypes?: UserTypes;
  nowSeconds?: number;
}

/** The user items a read of `userTypes` returns for the keys the planner asked for. */
function usersRead(keys: readonly Item[], userTypes: UserTypes): Item[] {
  return keys.flatMap((k) => {
    const type = userTypes.get(String(k.user_id));
    return type === null || type === undefined ? [] : [{ user_id: k.user_id, user_type: type }];
  });
}

/** `PIKA.planItem` after its declared lookups, answered from `ctx.userTypes`. */
export function planPika(
  table: string,
  item: Item,
  ctx: PikaPlanContext = {},
  enabled: readonly string[] = PIKA.defaultMigrations,
): PlanResult {
  const reads = PIKA.collectLookups(table, [item], enabled);
  const wanted = reads.byTable.get('user') ?? [];
  const { userTypes } = ctx;
  const read = new Map<string, Item[]>();
  // All or nothing, as lookupResults files a table: an unread user leaves the table unread.
  if (userTypes && wanted.every((k) => userTypes.has(String(k.user_id))))
    read.set('user', usersRead(wanted, userTypes));
  const lookups = PIKA.lookupResults(reads, read);
  const now = ctx.nowSeconds === undefined ? {} : { nowSeconds: ctx.nowSeconds };
  return PIKA.planItem(table, item, { lookups, ...now }, enabled);
}
