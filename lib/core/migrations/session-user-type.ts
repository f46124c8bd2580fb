// Pika 0.11: sessions gain `user_type`, copied from the chat-user table.
import { LookupMissingError, optionalString } from '../errors.ts';
import { sessionKey } from '../keys.ts';
import type { Item, ItemChange, PlanContext } from '../types.ts';
import type { MigrationInfo } from './migration.ts';

export const USER_TYPE_MIGRATION = 'session-user-type' as const;

/** Pika's default for sessions whose user is unknown or has no type. */
export const DEFAULT_USER_TYPE = 'external-user';

export function planUserType(item: Item, ctx: PlanContext = {}): ItemChange | null {
  const key = sessionKey(item);
  const userId = key.user_id as string;
  // An existing value (any string) was written by the app or by us: never overwrite it.
  if (optionalString('session', key, item, 'user_type') !== undefined) return null;

  if (!ctx.userTypes?.has(userId)) throw new LookupMissingError('session', key, userId);
  const looked = ctx.userTypes.get(userId);
  const userType = typeof looked === 'string' ? looked : DEFAULT_USER_TYPE;

  return {
    table: 'session',
    key,
    set: { user_type: userType },
    remove: [],
    conditions: [
      { op: 'exists', attribute: 'user_id' },
      { op: 'notExists', attribute: 'user_type' },
    ],
    migrations: [USER_TYPE_MIGRATION],
  };
}

export const sessionUserType = {
  name: USER_TYPE_MIGRATION,
  table: 'session',
  target: 'dynamodb',
  pikaVersion: '0.11',
  inputs: ['user_id', 'user_type'],
  writes: ['user_type'],
  lookups: ['user-type'],
  description: "user_type from the chat-user table when missing, else 'external-user'",
  plan: planUserType,
} as const satisfies MigrationInfo;
