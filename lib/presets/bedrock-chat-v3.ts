// Bedrock Chat V2 → V3 as a live table copy, on the public API only (`streamfill`). Each derive
// reproduces the vendor's offline script, docs/migration/migrate_v2_v3.py of aws-samples/
// bedrock-chat (320056c8; unchanged at a739a6c), on the V2 schema of tag v2.10.0 (79453a9) and
// the V3 schema of a739a6c. The engine adds the source conditions, the `streamfill_*`
// bookkeeping and the deletes; these rules only derive. No derive reads a clock: the script
// computes nothing from "now" for an item, so every V3 value comes from the V2 item (or its
// bot, for an alias's owner). See docs/bedrock-chat-v3.md.
import {
  defineConfig,
  defineCopy,
  defineLookup,
  defineTable,
  malformed,
  type CopyTarget,
} from '../index.ts';

/** V2 ConversationTable: everything (bots, aliases, conversations, related documents) per user. */
export const v2Conversation = defineTable({
  name: 'bedrock-v2-conversation',
  key: ['PK', 'SK'],
  localName: 'bedrock-chat-v2-conversation-local',
});
/** V3 ConversationTable: conversations and related documents, keys as in V2. */
export const v3Conversation = defineTable({
  name: 'bedrock-v3-conversation',
  key: ['PK', 'SK'],
  localName: 'bedrock-chat-v3-conversation-local',
});
/** V3 BotTable: `BOT#{id}` and `ALIAS#{id}` items per user. */
export const v3Bot = defineTable({
  name: 'bedrock-v3-bot',
  key: ['PK', 'SK'],
  localName: 'bedrock-chat-v3-bot-local',
});

/** The V2 GSI of published bots: partition key PublicBotId (set to the bot's id when shared). */
export const PUBLIC_BOT_ID_INDEX = { name: 'PublicBotIdIndex', key: ['PublicBotId'] } as const;

type Item = Readonly<Record<string, unknown>>;

/** The kind of a V2 item: the script's `begins_with(SK, "{PK}#…#")` queries. */
export type V2Kind = 'bot' | 'alias' | 'conversation' | 'related-document';

const V2_PREFIXES: readonly (readonly [V2Kind, string])[] = [
  // `#BOT#` never matches `#BOT_ALIAS#`: the two prefixes are disjoint.
  ['bot', 'BOT'],
  ['alias', 'BOT_ALIAS'],
  ['conversation', 'CONV'],
  ['related-document', 'RELATED_DOCUMENT'],
];

/** Which of the script's four queries would return this V2 item, if any. */
export function v2Kind(item: Item): V2Kind | null {
  if (typeof item.PK !== 'string' || typeof item.SK !== 'string') return null;
  for (const [kind, infix] of V2_PREFIXES)
    if (item.SK.startsWith(`${item.PK}#${infix}#`)) return kind;
  return null;
}

/** `decompose_bot_id`: the last `#` segment of the SK. */
const lastSegment = (sk: unknown): string => String(sk).split('#').at(-1) as string;

/** Python's `item["X"]`: a KeyError (here: the item is malformed) when absent; NULL is a value. */
function required(item: Item, attribute: string): unknown {
  const value = item[attribute];
  if (value === undefined) throw malformed(`"${attribute}" is missing`);
  return value;
}

/** Python's `item.get("X", default)`. */
const orDefault = (item: Item, attribute: string, fallback: unknown): unknown =>
  item[attribute] === undefined ? fallback : item[attribute];

/** Python's `"X" in item`: copied (NULL included) only when present. */
function ifPresent(item: Item, attributes: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of attributes) if (item[a] !== undefined) out[a] = item[a];
  return out;
}

/** Python truthiness of a DynamoDB value (`if item.get("IsPinned", False):`). */
export function pythonTruthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'string') return value !== '';
  if (Array.isArray(value) || value instanceof Uint8Array) return value.length > 0;
  if (value instanceof Set) return value.size > 0;
  // An ExactNumber (a number a JS number cannot hold): its decimal text.
  if (typeof value === 'object' && value.constructor?.name === 'ExactNumber')
    return Number(String(value)) !== 0;
  return typeof value === 'object' && Object.keys(value).length > 0;
}

/** `IsPinned` → `IsStarred = "TRUE"` (a sparse LSI key: absent when not starred). */
const starred = (item: Item) => (pythonTruthy(item.IsPinned) ? { IsStarred: 'TRUE' } : {});
/** `LastBotUsed` → `LastUsedTime`, only when present. */
const lastUsed = (item: Item) =>
  item.LastBotUsed === undefined ? {} : { LastUsedTime: item.LastBotUsed };

/** Every attribute a V2 bot item may have (store_bot, update_bot_visibility, v1.x leftovers). */
export const V2_BOT_ATTRIBUTES = [
  'OriginalBotId',
  'Title',
  'Description',
  'Instruction',
  'CreateTime',
  'LastBotUsed',
  'IsPinned',
  'GenerationParams',
  'AgentData',
  'Knowledge',
  'SyncStatus',
  'SyncStatusReason',
  'LastExecId',
  'ApiPublishmentStackName',
  'ApiPublishedDatetime',
  'ApiPublishCodeBuildId',
  'DisplayRetrievedChunks',
  'ConversationQuickStarters',
  'ActiveModels',
  'BedrockKnowledgeBase',
  'GuardrailsParams',
  'PublicBotId',
] as const;

/** `convert_bot_item`: the V3 bot item of a V2 bot. */
export function v3BotItem(item: Item): Record<string, unknown> {
  const userId = item.PK;
  const botId = lastSegment(item.SK);
  return {
    PK: userId,
    SK: `BOT#${botId}`,
    ItemType: `${String(userId)}#BOT`,
    BotId: botId,
    Title: required(item, 'Title'),
    Description: required(item, 'Description'),
    Instruction: required(item, 'Instruction'),
    CreateTime: required(item, 'CreateTime'),
    SyncStatus: required(item, 'SyncStatus'),
    SyncStatusReason: required(item, 'SyncStatusReason'),
    LastExecId: required(item, 'LastExecId'),
    DisplayRetrievedChunks: orDefault(item, 'DisplayRetrievedChunks', false),
    GenerationParams: orDefault(item, 'GenerationParams', {}),
    AgentData: orDefault(item, 'AgentData', { tools: [] }),
    Knowledge: orDefault(item, 'Knowledge', {
      source_urls: [],
      sitemap_urls: [],
      filenames: [],
      s3_urls: [],
    }),
    ConversationQuickStarters: orDefault(item, 'ConversationQuickStarters', []),
    ...ifPresent(item, [
      'ActiveModels',
      'BedrockKnowledgeBase',
      'GuardrailsParams',
      'ApiPublishmentStackName',
      'ApiPublishedDatetime',
      'ApiPublishCodeBuildId',
    ]),
    // Shared when PublicBotId is present at all; SharedScope is a sparse GSI key, so an
    // unshared bot has none.
    ...(item.PublicBotId !== undefined
      ? { SharedScope: 'all', SharedStatus: 'shared' }
      : { SharedStatus: 'unshared' }),
    AllowedCognitoUsers: [],
    AllowedCognitoGroups: [],
    ...starred(item),
    ...lastUsed(item),
    // V3 counts usage from the cut-over on, as the script does.
    UsageStats: { usage_count: 0 },
  };
}

/** V2 bots → V3 BotTable `BOT#{id}` items. */
export const copyBots = defineCopy({
  name: 'bedrock-v3-bots',
  from: v2Conversation,
  to: [v3Bot],
  inputs: V2_BOT_ATTRIBUTES,
  description: 'V2 {uid}#BOT#{id} → V3 BotTable BOT#{id} (convert_bot_item)',
  derive: (item): CopyTarget<typeof v3Bot>[] => {
    if (v2Kind(item) !== 'bot') return [];
    // get_all_bots_for_user's filter: an item with a non-empty OriginalBotId is not a bot.
    if (item.OriginalBotId !== undefined && item.OriginalBotId !== '') return [];
    return [{ table: v3Bot, item: v3BotItem(item) }];
  },
});

/** Every attribute a V2 alias item has (store_alias). */
export const V2_ALIAS_ATTRIBUTES = [
  'OriginalBotId',
  'Title',
  'Description',
  'CreateTime',
  'LastBotUsed',
  'IsPinned',
  'SyncStatus',
  'HasKnowledge',
  'HasAgent',
  'ConversationQuickStarters',
  'ActiveModels',
] as const;

/**
 * `fetch_original_bot_owner`: the V2 bot published under the alias's OriginalBotId, read
 * through PublicBotIdIndex; its PK is the owner. Nothing to read for any other item, nor for an
 * OriginalBotId the index cannot hold (not a non-empty string: the script's query fails and it
 * skips the alias).
 */
export const aliasOriginalBot = defineLookup({
  name: 'bedrock-alias-original-bot',
  table: v2Conversation,
  index: PUBLIC_BOT_ID_INDEX,
  key: (alias) =>
    v2Kind(alias) === 'alias' && typeof alias.OriginalBotId === 'string' && alias.OriginalBotId
      ? { PublicBotId: alias.OriginalBotId }
      : null,
  attributes: ['PK'],
});

/** `convert_alias_item` given the owner the lookup found (null: skipped, as the script does). */
export function v3AliasItem(item: Item, owner: unknown): Record<string, unknown> | null {
  const originalBotId = required(item, 'OriginalBotId');
  if (typeof owner !== 'string' || owner === '') return null;
  const userId = item.PK;
  return {
    PK: userId,
    SK: `ALIAS#${String(originalBotId)}`,
    ItemType: `${String(userId)}#ALIAS`,
    OriginalBotId: originalBotId,
    OwnerUserId: owner,
    IsOriginAccessible: true,
    Title: required(item, 'Title'),
    Description: required(item, 'Description'),
    CreateTime: required(item, 'CreateTime'),
    SyncStatus: required(item, 'SyncStatus'),
    HasKnowledge: orDefault(item, 'HasKnowledge', false),
    HasAgent: orDefault(item, 'HasAgent', false),
    ConversationQuickStarters: orDefault(item, 'ConversationQuickStarters', []),
    ...ifPresent(item, ['ActiveModels']),
    ...starred(item),
    ...lastUsed(item),
  };
}

/**
 * V2 aliases → V3 BotTable `ALIAS#{original bot id}` items, owned by the original bot's owner.
 * An alias whose bot is not published (or gone) has no V3 item, as the script skips it.
 */
export const copyAliases = defineCopy({
  name: 'bedrock-v3-aliases',
  from: v2Conversation,
  to: [v3Bot],
  inputs: V2_ALIAS_ATTRIBUTES,
  lookups: [aliasOriginalBot],
  description:
    'V2 {uid}#BOT_ALIAS#{id} → V3 BotTable ALIAS#{id} with OwnerUserId from PublicBotIdIndex; none when the bot is not published (convert_alias_item)',
  derive: (item, ctx): CopyTarget<typeof v3Bot>[] => {
    if (v2Kind(item) !== 'alias') return [];
    required(item, 'OriginalBotId');
    const owner = ctx.lookup(aliasOriginalBot)?.PK;
    const converted = v3AliasItem(item, owner);
    return converted ? [{ table: v3Bot, item: converted }] : [];
  },
});

/** Every attribute a V2 conversation item has (store_conversation, v0.x to v2.10). */
export const V2_CONVERSATION_ATTRIBUTES = [
  'Title',
  'CreateTime',
  'TotalPrice',
  'LastMessageId',
  'ShouldContinue',
  'BotId',
  'IsLargeMessage',
  'LargeMessagePath',
  'MessageMap',
] as const;

/** Every attribute a V2 related document item has (store_related_documents). */
export const V2_RELATED_DOCUMENT_ATTRIBUTES = [
  'SourceName',
  'SourceLink',
  'Content',
  'PageNumber',
] as const;

/** The item as read (its key and declared inputs): the script's verbatim put. */
const verbatim = (item: Item): Record<string, unknown> => ({ ...item });

/** V2 conversations → the V3 ConversationTable, verbatim (V3 keeps `{uid}#CONV#{id}`). */
export const copyConversations = defineCopy({
  name: 'bedrock-v3-conversations',
  from: v2Conversation,
  to: [v3Conversation],
  inputs: V2_CONVERSATION_ATTRIBUTES,
  description: 'V2 {uid}#CONV#{id} → V3 ConversationTable, verbatim',
  derive: (item): CopyTarget<typeof v3Conversation>[] =>
    v2Kind(item) === 'conversation' ? [{ table: v3Conversation, item: verbatim(item) }] : [],
});

/** V2 related documents → the V3 ConversationTable, verbatim (same key). */
export const copyRelatedDocuments = defineCopy({
  name: 'bedrock-v3-related-documents',
  from: v2Conversation,
  to: [v3Conversation],
  inputs: V2_RELATED_DOCUMENT_ATTRIBUTES,
  description: 'V2 {uid}#RELATED_DOCUMENT#{conv}#{source} → V3 ConversationTable, verbatim',
  derive: (item): CopyTarget<typeof v3Conversation>[] =>
    v2Kind(item) === 'related-document' ? [{ table: v3Conversation, item: verbatim(item) }] : [],
});

export default defineConfig({
  tables: [v2Conversation, v3Conversation, v3Bot],
  migrations: [copyBots, copyAliases, copyConversations, copyRelatedDocuments],
});
