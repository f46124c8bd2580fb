// The Pika migrations as a user would write them: only the public API (`streamfill`). The
// engine adds the diff, the conditions, TTL skipping and parking; these rules only derive.
import {
  defineConfig,
  defineLookup,
  defineMigration,
  defineSearch,
  defineTable,
  malformed,
} from '../index.ts';

export const session = defineTable({
  name: 'session',
  key: ['user_id', 'session_id'],
  ttl: 'exp_date_unix_seconds',
  localName: 'chat-session-local',
});
export const user = defineTable({ name: 'user', key: ['user_id'], localName: 'chat-user-local' });
export const tag = defineTable({
  name: 'tag',
  key: ['scope', 'tag'],
  localName: 'pika-tag-def-local',
});

/** `what` when absent or a string, else malformed: the rules never read a mistyped value. */
function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || typeof value === 'string') return value;
  throw malformed(`field "${what}" is not a string`);
}

function requiredString(value: unknown, what: string): string {
  const s = optionalString(value, what);
  if (s === undefined) throw malformed(`field "${what}" is missing`);
  if (s === '') throw malformed(`field "${what}" is empty`);
  return s;
}

/** The session's user's type; no read when the session already has one. */
export const userType = defineLookup({
  name: 'user-type',
  table: user,
  key: (item) => (item.user_type === undefined ? { user_id: item.user_id } : null),
  attributes: ['user_type'],
});

/** Pika 0.5: `source` defaults to 'user'; the GSI sort key chat_app_id#user|component#last_update. */
export const sessionSortKey = defineMigration({
  name: 'session-sort-key',
  table: session,
  inputs: ['chat_app_id', 'last_update', 'source'],
  writes: ['source', 'chat_app_sk'],
  description: "source defaults to 'user'; chat_app_sk = chat_app_id#user|component#last_update",
  derive: (item) => {
    const chatAppId = requiredString(item.chat_app_id, 'chat_app_id');
    const lastUpdate = requiredString(item.last_update, 'last_update');
    const source = optionalString(item.source, 'source') ?? 'user';
    const kind = source === 'component' ? 'component' : 'user';
    return { source, chat_app_sk: `${chatAppId}#${kind}#${lastUpdate}` };
  },
});

/** Pika 0.11: `user_type` copied from the chat-user table, else 'external-user'; never overwritten. */
export const sessionUserType = defineMigration({
  name: 'session-user-type',
  table: session,
  inputs: ['user_type'],
  writes: ['user_type'],
  lookups: [userType],
  description: "user_type from the chat-user table when missing, else 'external-user'",
  derive: (item, ctx) => {
    const own = optionalString(item.user_type, 'user_type');
    if (own !== undefined) return { user_type: own };
    const looked = ctx.lookup(userType)?.user_type;
    return { user_type: typeof looked === 'string' && looked !== '' ? looked : 'external-user' };
  },
});

/** Pika 0.11: keyword copies in the `session` index, ordered by `last_update`. */
export const sessionSearchKeywords = defineSearch({
  name: 'session-search-keywords',
  table: session,
  index: 'session',
  id: (item) => String(item.session_id),
  version: 'last_update',
  fields: {
    invocation_mode_keyword: 'invocation_mode',
    user_type_keyword: 'user_type',
    source_keyword: 'source',
  },
  description: 'keyword copies of invocation_mode, user_type and source in the session index',
});

/** A chat_app_id the contract can condition on: absent or a scalar, as Pika writes it. */
function scalarChatAppId(value: unknown): void {
  if (value === undefined || ['string', 'number', 'boolean'].includes(typeof value)) return;
  if (typeof value === 'object' && value?.constructor?.name === 'ExactNumber') return;
  throw malformed('field "chat_app_id" is not a string');
}

const GLOBAL_PIKA_TAGS: readonly string[] = ['chart', 'image', 'prompt'];

/**
 * Pika 0.5 expand: `usage_mode` 'global' for pika chart/image/prompt, else 'chat-app'. Reads
 * chat_app_id only to park a tag whose chat_app_id is not a scalar, as the registry does.
 */
export const tagUsageMode = defineMigration({
  name: 'tag-usage-mode',
  table: tag,
  inputs: ['scope', 'tag', 'usage_mode', 'chat_app_id'],
  writes: ['usage_mode'],
  description: "expand: usage_mode 'global' for pika chart/image/prompt, else 'chat-app'",
  derive: (item) => {
    const own = optionalString(item.usage_mode, 'usage_mode');
    scalarChatAppId(item.chat_app_id);
    if (own !== undefined) return null;
    const global = item.scope === 'pika' && GLOBAL_PIKA_TAGS.includes(String(item.tag));
    return { usage_mode: global ? 'global' : 'chat-app' };
  },
});

/** Pika 0.5 contract (opt-in): chat_app_id removed once usage_mode is set. */
export const tagUsageModeContract = defineMigration({
  name: 'tag-usage-mode-contract',
  table: tag,
  inputs: ['scope', 'tag', 'usage_mode', 'chat_app_id'],
  writes: ['chat_app_id'],
  optIn: true,
  description: 'contract (opt-in): chat_app_id removed once usage_mode is set',
  derive: (item) => {
    const own = optionalString(item.usage_mode, 'usage_mode');
    scalarChatAppId(item.chat_app_id);
    return own === undefined ? null : { chat_app_id: undefined };
  },
});

export default defineConfig({
  tables: [session, user, tag],
  migrations: [
    sessionSortKey,
    sessionUserType,
    sessionSearchKeywords,
    tagUsageMode,
    tagUsageModeContract,
  ],
});
