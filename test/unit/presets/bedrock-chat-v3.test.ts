// The Bedrock Chat V2 → V3 preset against the vendor's script (docs/migration/migrate_v2_v3.py,
// aws-samples/bedrock-chat 320056c8): each V2 item shaped as V2's repositories write it, each
// expected V3 item written out by hand from convert_bot_item / convert_alias_item / the verbatim
// conversation copy. Planned through the compiled config, as the engine plans a source item.
import { describe, expect, it } from 'vitest';
import type { DeriveContext, LookupDef } from '../../../lib/index.ts';
import bedrock, {
  aliasOriginalBot,
  copyAliases,
  copyBots,
  copyConversations,
  copyRelatedDocuments,
  pythonTruthy,
  v2Kind,
} from '../../../lib/presets/bedrock-chat-v3.ts';
import { COPY_ATTRIBUTES, type CopyPlan } from '../../../lib/core/config/plan-copy.ts';
import { compilePlanner } from '../../../lib/core/config/planner.ts';
import { resolveConfig } from '../../../lib/core/config/resolve.ts';
import { isMalformedItemError } from '../../../lib/core/errors.ts';
import { ExactNumber } from '../../../lib/core/exact-number.ts';
import type { Item } from '../../../lib/core/types.ts';
import { bedrockV2Data } from '../../../local/bedrock-data.ts';

const V2 = 'bedrock-v2-conversation';
const planner = compilePlanner(resolveConfig(bedrock));

/** Every copy's plan of a V2 item, as the engine makes them for one stream record. */
const plansOf = (item: Item): CopyPlan[] =>
  planner.planCopies(V2, { PK: String(item.PK), SK: String(item.SK) }, item, {});
/** The targets of the one copy that derives anything from the item (asserting it is one). */
function targetsOf(item: Item) {
  const deriving = plansOf(item).filter((p) => p.targets.length > 0);
  expect(deriving.length).toBeLessThanOrEqual(1);
  return { copy: deriving[0]?.copy, targets: deriving[0]?.targets ?? [] };
}
/** A target item without the engine's bookkeeping: what the vendor script would have put. */
const withoutBookkeeping = (item: Item) =>
  Object.fromEntries(Object.entries(item).filter(([k]) => !k.startsWith('streamfill_')));

const UID = 'f8a9c0e2-1b3d-4e5f-8a7b-9c0d1e2f3a4b';
const OTHER = '0d1e2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f6';
const BOT_ID = '01JQ6Z3XW8K2M4N6P8R0T2V4X6';

/** A V2 bot as store_bot writes it (numbers as the DocumentClient reads Decimals back). */
const v2Bot = (over: Item = {}): Item => ({
  PK: UID,
  SK: `${UID}#BOT#${BOT_ID}`,
  Title: 'Travel planner',
  Description: 'Plans trips',
  Instruction: 'You are a travel agent.',
  CreateTime: 1743500000123.456,
  LastBotUsed: 1743600000456.789,
  IsPinned: false,
  GenerationParams: { max_tokens: 2000, top_k: 250, top_p: 0.999, temperature: 0.6 },
  AgentData: { tools: [{ name: 'internet_search', description: 'search' }] },
  Knowledge: { source_urls: ['https://example.com'], sitemap_urls: [], filenames: [], s3_urls: [] },
  SyncStatus: 'SUCCEEDED',
  SyncStatusReason: '',
  LastExecId: 'arn:aws:states:us-east-1:123456789012:execution:x:y',
  ApiPublishmentStackName: null,
  ApiPublishedDatetime: null,
  ApiPublishCodeBuildId: null,
  DisplayRetrievedChunks: true,
  ConversationQuickStarters: [{ title: 'Tokyo', example: 'Plan 3 days in Tokyo' }],
  ActiveModels: { 'claude-v3.5-sonnet': true, 'claude-v3-haiku': false },
  ...over,
});

/** convert_bot_item of v2Bot(), field by field. */
const v3Bot = (over: Item = {}): Item => ({
  PK: UID,
  SK: `BOT#${BOT_ID}`,
  ItemType: `${UID}#BOT`,
  BotId: BOT_ID,
  Title: 'Travel planner',
  Description: 'Plans trips',
  Instruction: 'You are a travel agent.',
  CreateTime: 1743500000123.456,
  SyncStatus: 'SUCCEEDED',
  SyncStatusReason: '',
  LastExecId: 'arn:aws:states:us-east-1:123456789012:execution:x:y',
  DisplayRetrievedChunks: true,
  GenerationParams: { max_tokens: 2000, top_k: 250, top_p: 0.999, temperature: 0.6 },
  AgentData: { tools: [{ name: 'internet_search', description: 'search' }] },
  Knowledge: { source_urls: ['https://example.com'], sitemap_urls: [], filenames: [], s3_urls: [] },
  ConversationQuickStarters: [{ title: 'Tokyo', example: 'Plan 3 days in Tokyo' }],
  ActiveModels: { 'claude-v3.5-sonnet': true, 'claude-v3-haiku': false },
  ApiPublishmentStackName: null,
  ApiPublishedDatetime: null,
  ApiPublishCodeBuildId: null,
  SharedStatus: 'unshared',
  AllowedCognitoUsers: [],
  AllowedCognitoGroups: [],
  LastUsedTime: 1743600000456.789,
  UsageStats: { usage_count: 0 },
  ...over,
});

/** A V2 alias as store_alias writes it when a user opens another user's shared bot. */
const v2Alias = (over: Item = {}): Item => ({
  PK: UID,
  SK: `${UID}#BOT_ALIAS#${BOT_ID}`,
  Title: 'Travel planner',
  Description: 'Plans trips',
  OriginalBotId: BOT_ID,
  CreateTime: 1743700000000,
  LastBotUsed: 1743800000000,
  IsPinned: true,
  SyncStatus: 'SUCCEEDED',
  HasKnowledge: true,
  HasAgent: false,
  ConversationQuickStarters: [],
  ActiveModels: { 'claude-v3.5-sonnet': true },
  ...over,
});

/** An alias copy's context: the lookup answers as PublicBotIdIndex would (null: no such bot). */
function aliasContext(owner: string | null) {
  const asked: LookupDef[] = [];
  const ctx = {
    lookup: (l: LookupDef) => {
      asked.push(l);
      return owner === null ? null : { PK: owner };
    },
  } as unknown as DeriveContext<[typeof aliasOriginalBot]>;
  return { ctx, asked };
}

const conversation: Item = {
  PK: UID,
  SK: `${UID}#CONV#01JQ7A`,
  Title: 'Trip to Kyoto',
  CreateTime: 1743900000000.5,
  TotalPrice: 0.012345,
  LastMessageId: 'msg-2',
  ShouldContinue: false,
  BotId: BOT_ID,
  IsLargeMessage: false,
  MessageMap: JSON.stringify({
    system: { role: 'system', content: [], model: 'claude-v3.5-sonnet', children: ['msg-1'] },
    'msg-1': { role: 'user', content: [{ content_type: 'text', body: 'Kyoto?' }] },
  }),
};

const relatedDocument: Item = {
  PK: UID,
  SK: `${UID}#RELATED_DOCUMENT#01JQ7A#tooluse_abc@0`,
  SourceName: 'kyoto.pdf',
  SourceLink: null,
  Content: { text: 'Kyoto has 1600 temples.' },
  PageNumber: 3,
};

describe('the preset config', () => {
  it('resolves with its three declared tables and four copies of the V2 table', () => {
    expect([...planner.resolved.tables.keys()]).toEqual([
      'bedrock-v2-conversation',
      'bedrock-v3-conversation',
      'bedrock-v3-bot',
    ]);
    expect(planner.copiesFor(V2).map((c) => c.name)).toEqual([
      'bedrock-v3-bots',
      'bedrock-v3-aliases',
      'bedrock-v3-conversations',
      'bedrock-v3-related-documents',
    ]);
  });

  it('classifies V2 items by the prefixes of the script queries', () => {
    expect(v2Kind(v2Bot())).toBe('bot');
    expect(v2Kind(v2Alias())).toBe('alias');
    expect(v2Kind(conversation)).toBe('conversation');
    expect(v2Kind(relatedDocument)).toBe('related-document');
    // Another user's prefix, or none of the four: no query of the script returns it.
    expect(v2Kind({ PK: UID, SK: `${OTHER}#BOT#x` })).toBeNull();
    expect(v2Kind({ PK: UID, SK: `${UID}#SETTINGS` })).toBeNull();
  });
});

describe('bots (convert_bot_item)', () => {
  it('gives the V3 bot item, stamped with its source', () => {
    const { copy, targets } = targetsOf(v2Bot());
    expect(copy).toBe('bedrock-v3-bots');
    expect(targets).toHaveLength(1);
    expect(targets[0]?.table).toBe('bedrock-v3-bot');
    expect(targets[0]?.key).toEqual({ PK: UID, SK: `BOT#${BOT_ID}` });
    expect(withoutBookkeeping(targets[0]!.item)).toEqual(v3Bot());
    expect(targets[0]?.item[COPY_ATTRIBUTES.copy]).toBe('bedrock-v3-bots');
    expect(targets[0]?.item[COPY_ATTRIBUTES.source]).toBe(
      `${V2}:${JSON.stringify({ PK: UID, SK: `${UID}#BOT#${BOT_ID}` })}`,
    );
  });

  it('stars a pinned bot (IsStarred "TRUE"), and leaves IsStarred out otherwise', () => {
    const pinned = targetsOf(v2Bot({ IsPinned: true })).targets[0]!.item;
    expect(withoutBookkeeping(pinned)).toEqual(v3Bot({ IsStarred: 'TRUE' }));
    expect('IsStarred' in targetsOf(v2Bot({ IsPinned: false })).targets[0]!.item).toBe(false);
  });

  it('shares a published bot with everyone: SharedScope "all", SharedStatus "shared"', () => {
    const published = v2Bot({
      PublicBotId: BOT_ID,
      ApiPublishmentStackName: `ApiPublishmentStack${BOT_ID}`,
      ApiPublishedDatetime: 1743650000,
      ApiPublishCodeBuildId: 'build:1',
    });
    expect(withoutBookkeeping(targetsOf(published).targets[0]!.item)).toEqual(
      v3Bot({
        SharedScope: 'all',
        SharedStatus: 'shared',
        ApiPublishmentStackName: `ApiPublishmentStack${BOT_ID}`,
        ApiPublishedDatetime: 1743650000,
        ApiPublishCodeBuildId: 'build:1',
      }),
    );
  });

  it('fills the script defaults for a bot written by an older V2 (v1.x attributes dropped)', () => {
    const old: Item = {
      PK: UID,
      SK: `${UID}#BOT#old`,
      Title: 't',
      Description: 'd',
      Instruction: 'i',
      CreateTime: 1700000000,
      SyncStatus: 'RUNNING',
      SyncStatusReason: '',
      LastExecId: '',
      IsPinned: true,
      EmbeddingParams: { chunk_size: 1000 },
      SearchParams: { max_results: 20 },
      BedrockKnowledgeBase: { knowledge_base_id: 'kb' },
      GuardrailsParams: { is_guardrail_enabled: false },
    };
    expect(withoutBookkeeping(targetsOf(old).targets[0]!.item)).toEqual({
      PK: UID,
      SK: 'BOT#old',
      ItemType: `${UID}#BOT`,
      BotId: 'old',
      Title: 't',
      Description: 'd',
      Instruction: 'i',
      CreateTime: 1700000000,
      SyncStatus: 'RUNNING',
      SyncStatusReason: '',
      LastExecId: '',
      DisplayRetrievedChunks: false,
      GenerationParams: {},
      AgentData: { tools: [] },
      Knowledge: { source_urls: [], sitemap_urls: [], filenames: [], s3_urls: [] },
      ConversationQuickStarters: [],
      BedrockKnowledgeBase: { knowledge_base_id: 'kb' },
      GuardrailsParams: { is_guardrail_enabled: false },
      SharedStatus: 'unshared',
      AllowedCognitoUsers: [],
      AllowedCognitoGroups: [],
      IsStarred: 'TRUE',
      UsageStats: { usage_count: 0 },
    });
  });

  it('skips a #BOT# item with a non-empty OriginalBotId, as the script query filters it', () => {
    expect(targetsOf(v2Bot({ OriginalBotId: 'someone-elses' })).targets).toEqual([]);
    expect(targetsOf(v2Bot({ OriginalBotId: '' })).targets).toHaveLength(1);
  });

  it('parks a bot missing what the script reads with item["…"] (its KeyError)', () => {
    const { Instruction: _, ...noInstruction } = v2Bot();
    let thrown: unknown;
    try {
      plansOf(noInstruction);
    } catch (e) {
      thrown = e;
    }
    expect(isMalformedItemError(thrown)).toBe(true);
    expect((thrown as Error).message).toContain('"Instruction" is missing');
  });
});

describe('aliases (convert_alias_item)', () => {
  it('reads the original bot through PublicBotIdIndex, only for an alias', () => {
    expect(aliasOriginalBot.index).toEqual({ name: 'PublicBotIdIndex', key: ['PublicBotId'] });
    expect(aliasOriginalBot.key(v2Alias())).toEqual({ PublicBotId: BOT_ID });
    for (const other of [v2Bot(), conversation, relatedDocument])
      expect(aliasOriginalBot.key(other)).toBeNull();
    // A value the index cannot hold: the script's query fails and the alias is skipped.
    expect(aliasOriginalBot.key(v2Alias({ OriginalBotId: '' }))).toBeNull();
    expect(aliasOriginalBot.key(v2Alias({ OriginalBotId: null }))).toBeNull();
  });

  it("gives the V3 alias item owned by the published bot's owner", () => {
    const { ctx, asked } = aliasContext(OTHER);
    expect(copyAliases.derive(v2Alias() as never, ctx)).toEqual([
      {
        table: copyAliases.to[0],
        item: {
          PK: UID,
          SK: `ALIAS#${BOT_ID}`,
          ItemType: `${UID}#ALIAS`,
          OriginalBotId: BOT_ID,
          OwnerUserId: OTHER,
          IsOriginAccessible: true,
          Title: 'Travel planner',
          Description: 'Plans trips',
          CreateTime: 1743700000000,
          SyncStatus: 'SUCCEEDED',
          HasKnowledge: true,
          HasAgent: false,
          ConversationQuickStarters: [],
          ActiveModels: { 'claude-v3.5-sonnet': true },
          IsStarred: 'TRUE',
          LastUsedTime: 1743800000000,
        },
      },
    ]);
    expect(asked).toEqual([aliasOriginalBot]);
  });

  it('fills the alias defaults (HasKnowledge/HasAgent false, no quick starters)', () => {
    const { ctx } = aliasContext(OTHER);
    const bare = v2Alias({ IsPinned: false });
    for (const a of ['HasKnowledge', 'HasAgent', 'ConversationQuickStarters', 'ActiveModels'])
      delete (bare as Record<string, unknown>)[a];
    const [target] = copyAliases.derive(bare as never, ctx);
    expect(target?.item).toMatchObject({
      HasKnowledge: false,
      HasAgent: false,
      ConversationQuickStarters: [],
    });
    expect(Object.keys(target?.item ?? {})).not.toContain('ActiveModels');
    expect(Object.keys(target?.item ?? {})).not.toContain('IsStarred');
  });

  it('gives no target for an alias whose bot is not published (the script skips it)', () => {
    const { ctx, asked } = aliasContext(null);
    expect(copyAliases.derive(v2Alias() as never, ctx)).toEqual([]);
    expect(asked).toEqual([aliasOriginalBot]);
    // Skipped before the script reads anything else: a missing Title does not matter then.
    const { Title: _, ...noTitle } = v2Alias();
    expect(copyAliases.derive(noTitle as never, aliasContext(null).ctx)).toEqual([]);
  });

  it('parks an alias without OriginalBotId (the script fails on item["OriginalBotId"])', () => {
    const { OriginalBotId: _, ...orphan } = v2Alias();
    expect(() => copyAliases.derive(orphan as never, aliasContext(OTHER).ctx)).toThrow(
      '"OriginalBotId" is missing',
    );
  });

  it('derives nothing from an alias through the other copies', () => {
    for (const c of [copyBots, copyConversations, copyRelatedDocuments])
      expect(c.derive(v2Alias() as never, aliasContext(OTHER).ctx as never)).toEqual([]);
  });
});

describe('conversations and related documents (verbatim)', () => {
  it('copies a conversation as it is, under the same key, into the V3 ConversationTable', () => {
    const { copy, targets } = targetsOf(conversation);
    expect(copy).toBe('bedrock-v3-conversations');
    expect(targets.map((t) => [t.table, t.key])).toEqual([
      ['bedrock-v3-conversation', { PK: UID, SK: conversation.SK }],
    ]);
    expect(withoutBookkeeping(targets[0]!.item)).toEqual(conversation);
  });

  it('copies a large-message conversation with its S3 path', () => {
    const large = {
      ...conversation,
      IsLargeMessage: true,
      LargeMessagePath: `${UID}/01JQ7A/message_map.json`,
      MessageMap: JSON.stringify({ system: { role: 'system' } }),
    };
    expect(withoutBookkeeping(targetsOf(large).targets[0]!.item)).toEqual(large);
  });

  it('copies a related document as it is', () => {
    const { copy, targets } = targetsOf(relatedDocument);
    expect(copy).toBe('bedrock-v3-related-documents');
    expect(targets[0]?.table).toBe('bedrock-v3-conversation');
    expect(withoutBookkeeping(targets[0]!.item)).toEqual(relatedDocument);
  });

  it('conditions the copy on every V2 attribute as read, or still absent', () => {
    const { BotId: _, ...noBot } = conversation;
    const plan = plansOf(noBot).find((p) => p.copy === 'bedrock-v3-conversations')!;
    expect(plan.conditions).toContainEqual({ op: 'notExists', attribute: 'BotId' });
    expect(plan.conditions).toContainEqual({
      op: 'equals',
      attribute: 'MessageMap',
      value: conversation.MessageMap,
    });
  });
});

describe('determinism (what `config check` asks of a derive)', () => {
  const items = [
    v2Bot(),
    v2Bot({ IsPinned: true, PublicBotId: BOT_ID }),
    conversation,
    relatedDocument,
  ];

  it('plans the same targets and digests twice, whatever the order of the attributes', () => {
    for (const item of items) {
      const reversed = Object.fromEntries(Object.entries(item).reverse());
      const [a, b] = [plansOf(item), plansOf(reversed)];
      expect(b.map((p) => p.digest)).toEqual(a.map((p) => p.digest));
      expect(b.map((p) => p.targets)).toEqual(a.map((p) => p.targets));
    }
  });

  it('derives an alias the same twice from the same lookup', () => {
    const once = copyAliases.derive(v2Alias() as never, aliasContext(OTHER).ctx);
    expect(copyAliases.derive(v2Alias() as never, aliasContext(OTHER).ctx)).toEqual(once);
  });

  it('gives no target from an item none of the script queries returns', () => {
    const settings = { PK: UID, SK: `${UID}#SETTINGS`, Title: 'x' };
    expect(plansOf(settings).flatMap((p) => p.targets)).toEqual([]);
  });
});

describe('pythonTruthy (IsPinned as the script tests it)', () => {
  it('follows Python truthiness for every DynamoDB type', () => {
    for (const v of [true, 1, new ExactNumber('1e-130'), 'x', [0], { a: 1 }, new Set(['a'])])
      expect(pythonTruthy(v)).toBe(true);
    for (const v of [false, 0, new ExactNumber('0.000'), '', [], {}, null, undefined])
      expect(pythonTruthy(v)).toBe(false);
  });
});

describe('the seeded V2 data (seed --preset bedrock-chat-v3)', () => {
  const data = bedrockV2Data({ users: 40, seed: 7 });

  it('is the same for the same seed, and other for another', () => {
    expect(bedrockV2Data({ users: 40, seed: 7 })).toEqual(data);
    expect(bedrockV2Data({ users: 40, seed: 8 }).bots).not.toEqual(data.bots);
  });

  it('derives one V3 item per bot, conversation and related document, none malformed', () => {
    for (const item of [...data.bots, ...data.conversations, ...data.relatedDocuments])
      expect(plansOf(item).flatMap((p) => p.targets)).toHaveLength(1);
  });

  it('skips exactly the aliases it reports without a published bot', () => {
    const owners = new Map(
      data.bots.flatMap((b) => (b.PublicBotId ? [[b.PublicBotId, b.PK]] : [])),
    );
    const derived = data.aliases.flatMap((a) => {
      const ctx = {
        lookup: () => {
          const owner = owners.get(aliasOriginalBot.key(a)?.PublicBotId as string);
          return owner === undefined ? null : { PK: owner };
        },
      } as unknown as DeriveContext<[typeof aliasOriginalBot]>;
      return copyAliases.derive(a as never, ctx);
    });
    expect(data.aliasesWithoutOwner).toBeGreaterThan(0);
    expect(derived).toHaveLength(data.aliases.length - data.aliasesWithoutOwner);
  });
});
