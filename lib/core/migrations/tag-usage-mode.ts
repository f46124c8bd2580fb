// Pika 0.5: tag definitions gain `usage_mode` (GSI partition key) and lose `chat_app_id`.
import { MalformedItemError, describeType, optionalString } from '../errors.ts';
import { tagKey } from '../keys.ts';
import type { Condition, Item, ItemChange, PlanContext } from '../types.ts';
import type { MigrationInfo } from './migration.ts';

export const TAG_USAGE_MODE_MIGRATION = 'tag-usage-mode' as const;

export type UsageMode = 'global' | 'chat-app';

/** Pika's built-in tags that are available to every chat app. */
export const GLOBAL_PIKA_TAGS: readonly string[] = ['chart', 'image', 'prompt'];

export function usageModeFor(scope: string, tag: string): UsageMode {
  return scope === 'pika' && GLOBAL_PIKA_TAGS.includes(tag) ? 'global' : 'chat-app';
}

export function planUsageMode(item: Item, _ctx: PlanContext = {}): ItemChange | null {
  const key = tagKey(item);
  const usageMode = optionalString('tag', key, item, 'usage_mode');
  const chatAppId = item.chat_app_id;
  // The removal is conditioned on the value read, which needs a scalar to compare with.
  if (
    chatAppId !== undefined &&
    typeof chatAppId !== 'string' &&
    typeof chatAppId !== 'number' &&
    typeof chatAppId !== 'boolean'
  ) {
    throw new MalformedItemError('tag', key, 'chat_app_id', 'wrong-type', {
      actualType: describeType(chatAppId),
      expectedType: 'string',
    });
  }
  if (usageMode !== undefined && chatAppId === undefined) return null;

  const set: Record<string, string> = {};
  const remove: string[] = [];
  const conditions: Condition[] = [{ op: 'exists', attribute: 'scope' }];
  if (usageMode === undefined) {
    set.usage_mode = usageModeFor(key.scope as string, key.tag as string);
    conditions.push({ op: 'notExists', attribute: 'usage_mode' });
  } else {
    // An up-to-date app already chose the mode: keep it, and only write if it still holds.
    conditions.push({ op: 'equals', attribute: 'usage_mode', value: usageMode });
  }
  if (chatAppId !== undefined) {
    remove.push('chat_app_id');
    // Don't silently drop a chat_app_id the app rewrote after we read it.
    conditions.push({ op: 'equals', attribute: 'chat_app_id', value: chatAppId });
  }
  return { table: 'tag', key, set, remove, conditions, migrations: [TAG_USAGE_MODE_MIGRATION] };
}

export const tagUsageMode = {
  name: TAG_USAGE_MODE_MIGRATION,
  table: 'tag',
  target: 'dynamodb',
  pikaVersion: '0.5',
  inputs: ['scope', 'tag', 'usage_mode', 'chat_app_id'],
  writes: ['usage_mode', 'chat_app_id'],
  description:
    "usage_mode 'global' for pika chart/image/prompt, else 'chat-app'; chat_app_id removed",
  plan: planUsageMode,
} as const satisfies MigrationInfo;
