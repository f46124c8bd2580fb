// Pika 0.5: sessions gain `source` and the composite GSI sort key `chat_app_sk`.
import { optionalString, requireString } from '../errors.ts';
import { sessionKey } from '../keys.ts';
import type { Condition, Item, ItemChange, PlanContext } from '../types.ts';
import type { MigrationInfo } from './migration.ts';

export const SORT_KEY_MIGRATION = 'session-sort-key' as const;

/** Sessions without `source` predate it and were all user-initiated. */
export const DEFAULT_SOURCE = 'user';

/** Pika's sort-key segment: only 'component' sessions sort apart; all others are 'user'. */
export function sourceKind(source: string | undefined): 'user' | 'component' {
  return source === 'component' ? 'component' : 'user';
}

export function chatAppSortKey(chatAppId: string, source: string | undefined, lastUpdate: string) {
  return `${chatAppId}#${sourceKind(source)}#${lastUpdate}`;
}

export function planSortKey(item: Item, _ctx: PlanContext = {}): ItemChange | null {
  const key = sessionKey(item);
  const chatAppId = requireString('session', key, item, 'chat_app_id');
  const lastUpdate = requireString('session', key, item, 'last_update');
  const source = optionalString('session', key, item, 'source');

  const expected = chatAppSortKey(chatAppId, source, lastUpdate);
  const set: Record<string, string> = {};
  if (source === undefined) set.source = DEFAULT_SOURCE;
  if (item.chat_app_sk !== expected) set.chat_app_sk = expected;
  if (Object.keys(set).length === 0) return null;

  // Condition on every input read: if the app changed any of them meanwhile, its own
  // stream record carries the newer version and this write must not land.
  const conditions: Condition[] = [
    { op: 'exists', attribute: 'user_id' },
    { op: 'equals', attribute: 'chat_app_id', value: chatAppId },
    { op: 'equals', attribute: 'last_update', value: lastUpdate },
    source === undefined
      ? { op: 'notExists', attribute: 'source' }
      : { op: 'equals', attribute: 'source', value: source },
  ];
  return {
    table: 'session',
    key,
    set,
    remove: [],
    conditions,
    migrations: [SORT_KEY_MIGRATION],
  };
}

export const sessionSortKey = {
  name: SORT_KEY_MIGRATION,
  table: 'session',
  target: 'dynamodb',
  pikaVersion: '0.5',
  inputs: ['chat_app_id', 'last_update', 'source'],
  writes: ['source', 'chat_app_sk'],
  description: "source defaults to 'user'; chat_app_sk = chat_app_id#user|component#last_update",
  plan: planSortKey,
} as const satisfies MigrationInfo;
