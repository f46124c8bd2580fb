// Deterministic Bedrock Chat V2 data (one ConversationTable) shaped as V2's repositories write it
// (tag v2.10.0: custom_bot.store_bot / store_alias / update_bot_visibility, conversation.
// store_conversation / store_related_documents): users with bots (some pinned, some published),
// aliases of other users' bots (published, unpublished, or deleted), conversations with a
// message tree, related documents. The starting point of `seed --preset bedrock-chat-v3`.
import { prng } from '../lib/core/prng.ts';
import type { Item } from '../lib/core/types.ts';
import { pick } from './legacy-data.ts';

export interface BedrockDataOptions {
  users: number;
  seed?: number;
  /** Epoch seconds the data predates (V2 stores times as epoch milliseconds). */
  nowSeconds?: number;
}

/** What was generated, by V2 item kind. */
export interface BedrockData {
  bots: Item[];
  aliases: Item[];
  conversations: Item[];
  relatedDocuments: Item[];
  /** Aliases whose original bot is not published (or gone): the script skips them. */
  aliasesWithoutOwner: number;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const MODELS = ['claude-v3.5-sonnet', 'claude-v3-haiku', 'claude-v3.7-sonnet', 'mistral-large'];
const TOPICS = ['travel', 'recipes', 'sql', 'legal', 'support', 'hr', 'math', 'poetry'];

/** A ULID-looking id (V2 bot and conversation ids are ULIDs). */
export const ulid = (rnd: () => number): string =>
  Array.from({ length: 26 }, () => pick(rnd, [...CROCKFORD])).join('');
/** A Cognito sub (the V2 PK). */
export function cognitoSub(rnd: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** store_bot's item (published: update_bot_visibility's PublicBotId = the bot id). */
export function v2Bot(
  rnd: () => number,
  userId: string,
  botId: string,
  opts: { published: boolean; pinned: boolean; createdMs: number },
): Item {
  const topic = pick(rnd, TOPICS);
  const withKnowledge = rnd() < 0.3;
  const legacy = rnd() < 0.1; // written by a v1.x app: no quick starters, no active models
  const apiPublished = opts.published && rnd() < 0.3;
  const item: Item = {
    PK: userId,
    SK: `${userId}#BOT#${botId}`,
    Title: `${topic} helper`,
    Description: `Answers ${topic} questions`,
    Instruction: `You are an expert in ${topic}. Answer briefly.`,
    CreateTime: opts.createdMs,
    LastBotUsed: opts.createdMs + Math.floor(rnd() * 86_400_000 * 30),
    IsPinned: opts.pinned,
    GenerationParams: {
      max_tokens: 2000,
      top_k: 250,
      top_p: 0.999,
      temperature: 0.6,
      stop_sequences: ['Human: ', 'Assistant: '],
      reasoning_params: { budget_tokens: 1024 },
    },
    AgentData: { tools: rnd() < 0.2 ? [{ tool_type: 'internet', name: 'internet_search' }] : [] },
    Knowledge: {
      source_urls: withKnowledge ? [`https://example.com/${topic}`] : [],
      sitemap_urls: [],
      filenames: withKnowledge ? [`${topic}.pdf`] : [],
      s3_urls: [],
    },
    SyncStatus: withKnowledge ? pick(rnd, ['SUCCEEDED', 'RUNNING', 'FAILED']) : 'SUCCEEDED',
    SyncStatusReason: '',
    LastExecId: withKnowledge ? `arn:aws:states:us-east-1:123456789012:execution:sm:${botId}` : '',
    ApiPublishmentStackName: apiPublished ? `ApiPublishmentStack${botId}` : null,
    ApiPublishedDatetime: apiPublished ? opts.createdMs + 3_600_000 : null,
    ApiPublishCodeBuildId: apiPublished ? `ApiPublishProject:${botId.toLowerCase()}` : null,
    DisplayRetrievedChunks: rnd() < 0.5,
    ...(!legacy && {
      ConversationQuickStarters: [{ title: `About ${topic}`, example: `Tell me about ${topic}` }],
      ActiveModels: Object.fromEntries(MODELS.map((m) => [m, rnd() < 0.7])),
    }),
    ...(withKnowledge &&
      rnd() < 0.5 && {
        BedrockKnowledgeBase: {
          knowledge_base_id: null,
          exist_knowledge_base_id: null,
          data_source_ids: null,
          chunking_configuration: { chunking_strategy: 'default' },
          search_params: { max_results: 20, search_type: 'hybrid' },
        },
      }),
    ...(opts.published && { PublicBotId: botId }),
  };
  return item;
}

/** store_alias's item: the alias id is the original bot's id. */
export function v2Alias(
  rnd: () => number,
  userId: string,
  original: Item | undefined,
  botId: string,
): Item {
  const createdMs = Number(original?.CreateTime ?? 1_700_000_000_000) + 86_400_000;
  return {
    PK: userId,
    SK: `${userId}#BOT_ALIAS#${botId}`,
    Title: original?.Title ?? 'A deleted bot',
    Description: original?.Description ?? '',
    OriginalBotId: botId,
    CreateTime: createdMs,
    LastBotUsed: createdMs + Math.floor(rnd() * 86_400_000 * 10),
    IsPinned: rnd() < 0.3,
    SyncStatus: original?.SyncStatus ?? 'SUCCEEDED',
    HasKnowledge: ((original?.Knowledge as { filenames?: string[] })?.filenames?.length ?? 0) > 0,
    HasAgent: ((original?.AgentData as { tools?: unknown[] })?.tools?.length ?? 0) > 0,
    ConversationQuickStarters: original?.ConversationQuickStarters ?? [],
    ActiveModels: original?.ActiveModels ?? {},
  } satisfies Item;
}

/** A message tree as store_conversation dumps it (MessageModel by alias), as JSON text. */
function messageMap(rnd: () => number, model: string, createdMs: number, turns: number) {
  const map: Record<string, unknown> = {
    system: {
      role: 'system',
      content: [{ content_type: 'text', body: '' }],
      model,
      children: [],
      parent: null,
      create_time: createdMs / 1000,
      feedback: null,
      used_chunks: null,
      thinking_log: null,
    },
  };
  let parent = 'system';
  for (let t = 0; t < turns * 2; t++) {
    const id = ulid(rnd);
    const user = t % 2 === 0;
    map[id] = {
      role: user ? 'user' : 'assistant',
      content: [
        {
          content_type: 'text',
          body: user ? `Question ${t / 2 + 1}?` : `Answer ${(t + 1) / 2} of ${turns}.`,
        },
      ],
      model,
      children: [],
      parent,
      create_time: (createdMs + t * 5000) / 1000,
      feedback: !user && rnd() < 0.1 ? { thumbs_up: true, category: 'Good', comment: '' } : null,
      used_chunks: null,
      thinking_log: null,
    };
    (map[parent] as { children: string[] }).children.push(id);
    parent = id;
  }
  return { text: JSON.stringify(map), last: parent };
}

/**
 * store_conversation's item (created up to 90 days before `nowMs`, maybe with one of `ownBots`)
 * and, when its bot cites sources, store_related_documents' items (one per tool result).
 */
export function v2Conversation(
  rnd: () => number,
  userId: string,
  ownBots: readonly Item[],
  opts: { nowMs: number; title: string },
): { conversation: Item; relatedDocuments: Item[] } {
  const id = ulid(rnd);
  const createdMs = opts.nowMs - Math.floor(rnd() * 86_400_000 * 90);
  const model = pick(rnd, MODELS);
  const { text, last } = messageMap(rnd, model, createdMs, 1 + Math.floor(rnd() * 3));
  const bot = rnd() < 0.5 && ownBots.length ? pick(rnd, ownBots) : undefined;
  const conversation: Item = {
    PK: userId,
    SK: `${userId}#CONV#${id}`,
    Title: opts.title,
    CreateTime: createdMs,
    TotalPrice: Math.round(rnd() * 1e6) / 1e6,
    LastMessageId: last,
    ShouldContinue: false,
    ...(bot && { BotId: String(bot.SK).split('#').at(-1) }),
    IsLargeMessage: false,
    MessageMap: text,
  };
  const relatedDocuments: Item[] = [];
  // A bot with knowledge cites sources: one related document per tool result.
  if (bot && rnd() < 0.7) {
    const docs = 1 + Math.floor(rnd() * 2);
    for (let d = 0; d < docs; d++) {
      relatedDocuments.push({
        PK: userId,
        SK: `${userId}#RELATED_DOCUMENT#${id}#tooluse_${ulid(rnd).toLowerCase()}@${d}`,
        SourceName: `source-${d}.pdf`,
        SourceLink: d === 0 ? `s3://bedrock-documents/${userId}/source-${d}.pdf` : null,
        Content: { text: `Excerpt ${d} of the source.` },
        ...(d === 0 && { PageNumber: 1 + Math.floor(rnd() * 40) }),
      });
    }
  }
  return { conversation, relatedDocuments };
}

/**
 * The V2 items of `users` users, the same for the same options. The first users cover every
 * kind: user 0 has a published bot, user 1 an alias of it and an unpublished bot, user 2 an
 * alias of that unpublished bot, user 4 an alias of a deleted bot.
 */
export function bedrockV2Data(opts: BedrockDataOptions): BedrockData {
  const rnd = prng((opts.seed ?? 1) * 104_729);
  const nowMs = (opts.nowSeconds ?? 1_790_000_000) * 1000;
  const users = Array.from({ length: opts.users }, () => cognitoSub(rnd));
  const bots: Item[] = [];
  const firstBot: Item[] = [];
  users.forEach((userId, i) => {
    const count = 1 + Math.floor(rnd() * 3);
    for (let j = 0; j < count; j++) {
      const bot = v2Bot(rnd, userId, ulid(rnd), {
        published: j === 0 ? i % 2 === 0 : rnd() < 0.3,
        pinned: j === 0 ? i % 3 === 0 : rnd() < 0.3,
        createdMs: nowMs - Math.floor(rnd() * 86_400_000 * 180),
      });
      bots.push(bot);
      if (j === 0) firstBot.push(bot);
    }
  });

  const aliases: Item[] = [];
  let aliasesWithoutOwner = 0;
  users.forEach((userId, i) => {
    const originals = new Map<string, Item | undefined>();
    if (i > 0)
      originals.set(
        String(firstBot[i - 1]?.SK)
          .split('#')
          .at(-1)!,
        firstBot[i - 1],
      );
    if (i % 5 === 4) originals.set(ulid(rnd), undefined); // its bot was deleted since
    if (rnd() < 0.3 && bots.length) {
      const other = pick(rnd, bots);
      if (other.PK !== userId) originals.set(String(other.SK).split('#').at(-1)!, other);
    }
    for (const [botId, original] of originals) {
      aliases.push(v2Alias(rnd, userId, original, botId));
      if (original?.PublicBotId === undefined) aliasesWithoutOwner++;
    }
  });

  const conversations: Item[] = [];
  const relatedDocuments: Item[] = [];
  users.forEach((userId) => {
    const own = bots.filter((b) => b.PK === userId);
    const count = 1 + Math.floor(rnd() * 4);
    for (let c = 0; c < count; c++) {
      const made = v2Conversation(rnd, userId, own, { nowMs, title: `Conversation ${c + 1}` });
      conversations.push(made.conversation);
      relatedDocuments.push(...made.relatedDocuments);
    }
  });
  return { bots, aliases, conversations, relatedDocuments, aliasesWithoutOwner };
}
