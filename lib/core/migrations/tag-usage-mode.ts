// Pika 0.5: tag definitions gain `usage_mode` (GSI partition key) and lose `chat_app_id`, as
// expand (set usage_mode; a 0.4 app keeps working) then contract (opt-in: remove chat_app_id).
import { MalformedItemError, describeType, optionalString } from '../errors.ts';
import { isExactNumber, type ExactNumber } from '../exact-number.ts';
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

/** Malformed unless chat_app_id is absent or a scalar (a removal is conditioned on it). */
function chatAppIdOf(
  item: Item,
  key: ReturnType<typeof tagKey>,
): string | number | boolean | ExactNumber | undefined {
  const chatAppId = item.chat_app_id;
  if (
    chatAppId !== undefined &&
    typeof chatAppId !== 'string' &&
    typeof chatAppId !== 'number' &&
    typeof chatAppId !== 'boolean' &&
    !isExactNumber(chatAppId)
  ) {
    throw new MalformedItemError('tag', key, 'chat_app_id', 'wrong-type', {
      actualType: describeType(chatAppId),
      expectedType: 'string',
    });
  }
  return chatAppId;
}

/**
 * Expand: sets `usage_mode` when missing. Never touches `chat_app_id`, which a still-running
 * Pika 0.4 app reads through `chatappid-status-index` (the contract step removes it).
 */
export function planUsageMode(item: Item, _ctx: PlanContext = {}): ItemChange | null {
  const key = tagKey(item);
  const usageMode = optionalString('tag', key, item, 'usage_mode');
  chatAppIdOf(item, key);
  if (usageMode !== undefined) return null;
  const conditions: Condition[] = [
    { op: 'exists', attribute: 'scope' },
    { op: 'notExists', attribute: 'usage_mode' },
  ];
  return {
    table: 'tag',
    key,
    set: { usage_mode: usageModeFor(key.scope as string, key.tag as string) },
    remove: [],
    conditions,
    migrations: [TAG_USAGE_MODE_MIGRATION],
  };
}

export const TAG_USAGE_MODE_CONTRACT_MIGRATION = 'tag-usage-mode-contract' as const;

/**
 * Contract: removes `chat_app_id` once `usage_mode` is there. Run it (opt-in) only when no
 * application version reads `chat_app_id` any more. Conditioned on both values as read.
 */
export function planUsageModeContract(item: Item, _ctx: PlanContext = {}): ItemChange | null {
  const key = tagKey(item);
  const usageMode = optionalString('tag', key, item, 'usage_mode');
  const chatAppId = chatAppIdOf(item, key);
  if (usageMode === undefined || chatAppId === undefined) return null;
  return {
    table: 'tag',
    key,
    set: {},
    remove: ['chat_app_id'],
    conditions: [
      { op: 'exists', attribute: 'scope' },
      { op: 'equals', attribute: 'usage_mode', value: usageMode },
      // Don't silently drop a chat_app_id the app rewrote after we read it.
      { op: 'equals', attribute: 'chat_app_id', value: chatAppId },
    ],
    migrations: [TAG_USAGE_MODE_CONTRACT_MIGRATION],
  };
}

export const tagUsageMode = {
  name: TAG_USAGE_MODE_MIGRATION,
  table: 'tag',
  target: 'dynamodb',
  pikaVersion: '0.5',
  inputs: ['scope', 'tag', 'usage_mode'],
  writes: ['usage_mode'],
  description: "expand: usage_mode 'global' for pika chart/image/prompt, else 'chat-app'",
  plan: planUsageMode,
} as const satisfies MigrationInfo;

export const tagUsageModeContract = {
  name: TAG_USAGE_MODE_CONTRACT_MIGRATION,
  table: 'tag',
  target: 'dynamodb',
  pikaVersion: '0.5',
  inputs: ['scope', 'tag', 'usage_mode', 'chat_app_id'],
  writes: ['chat_app_id'],
  description: 'contract (opt-in): chat_app_id removed once usage_mode is set',
  optIn: true,
  plan: planUsageModeContract,
} as const satisfies MigrationInfo;
