// A stand-in for a running Bedrock Chat V2 deployment: it writes the V2 ConversationTable the way
// V2's repositories do (tag v2.10.0: custom_bot.store_bot / update_bot / update_bot_pin_status /
// update_bot_visibility / delete_custom_bot_by_id / store_alias / delete_alias_by_id,
// conversation.store_conversation / update_conversation_title / delete_conversation_by_id /
// store_related_documents), so the copy's live path has real application traffic during the
// demo's backfill. Which write comes next is pure (a model of the table and a seeded PRNG);
// only `BedrockAppWriter` talks to DynamoDB.
import { DeleteCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { prng } from '../lib/core/prng.ts';
import type { Item, Key } from '../lib/core/types.ts';
import { v2Kind } from '../lib/presets/bedrock-chat-v3.ts';
import { cognitoSub, ulid, v2Alias, v2Bot, v2Conversation } from './bedrock-data.ts';
import { pick } from './legacy-data.ts';

/** What the V2 application does, one user action each. */
export const BEDROCK_OPERATIONS = [
  'create-conversation',
  'rename-conversation',
  'delete-conversation',
  'create-bot',
  'edit-bot',
  'pin-bot',
  'unpin-bot',
  'publish-bot',
  'unpublish-bot',
  'delete-bot',
  'create-alias-of-published',
  'create-alias-of-unpublished',
  'delete-alias',
  'same-second-double-update',
] as const;
export type BedrockOperation = (typeof BEDROCK_OPERATIONS)[number];

/** One DynamoDB request the V2 app makes. */
export type V2Write =
  | { type: 'put'; item: Item }
  | { type: 'update'; key: Key; set: Record<string, unknown>; remove: readonly string[] }
  | { type: 'delete'; key: Key };

/** A user action and the requests it makes, in order. */
export interface V2Action {
  operation: BedrockOperation;
  writes: V2Write[];
}

/** How often each action is chosen (relative); one that has nothing to act on is skipped. */
export const OPERATION_WEIGHTS: Readonly<Record<BedrockOperation, number>> = {
  'create-conversation': 12,
  'rename-conversation': 10,
  'delete-conversation': 4,
  'create-bot': 6,
  'edit-bot': 8,
  'pin-bot': 5,
  'unpin-bot': 5,
  'publish-bot': 6,
  'unpublish-bot': 4,
  'delete-bot': 3,
  'create-alias-of-published': 6,
  'create-alias-of-unpublished': 3,
  'delete-alias': 3,
  'same-second-double-update': 6,
};

export interface PlanOptions {
  /** Epoch milliseconds of the action (CreateTime of new items). */
  nowMs: number;
}

const keyOf = (item: Item): Key => ({ PK: item.PK as string, SK: item.SK as string });
const idOf = (key: Key): string => `${String(key.PK)}\u0000${String(key.SK)}`;
const lastSegment = (sk: unknown): string => String(sk).split('#').at(-1) as string;

/** The V2 table as the application believes it is: every item it wrote or was seeded with. */
export class V2Model {
  private readonly items = new Map<string, Item>();

  constructor(seeded: Iterable<Item> = []) {
    for (const item of seeded) this.items.set(idOf(keyOf(item)), { ...item });
  }

  all(): Item[] {
    return [...this.items.values()];
  }

  get(key: Key): Item | undefined {
    return this.items.get(idOf(key));
  }

  /** Items of one V2 kind (bots exclude items with a non-empty OriginalBotId, as V2 does). */
  ofKind(kind: NonNullable<ReturnType<typeof v2Kind>>): Item[] {
    return this.all().filter((i) => v2Kind(i) === kind);
  }

  users(): string[] {
    return [...new Set(this.all().map((i) => i.PK as string))].sort();
  }

  /** What the table holds after `write`, as DynamoDB applies it. */
  apply(write: V2Write): void {
    if (write.type === 'put') this.items.set(idOf(keyOf(write.item)), { ...write.item });
    else if (write.type === 'delete') this.items.delete(idOf(write.key));
    else {
      const id = idOf(write.key);
      const next: Item = { ...(this.items.get(id) ?? write.key), ...write.set };
      for (const a of write.remove) delete next[a];
      this.items.set(id, next);
    }
  }
}

/** The weighted operations in a fixed order, for a draw in [0, 1). */
function drawOperation(rnd: () => number): BedrockOperation {
  const total = BEDROCK_OPERATIONS.reduce((n, op) => n + OPERATION_WEIGHTS[op], 0);
  let r = rnd() * total;
  for (const op of BEDROCK_OPERATIONS) {
    r -= OPERATION_WEIGHTS[op];
    if (r < 0) return op;
  }
  return 'create-conversation';
}

const update = (item: Item, set: Record<string, unknown>, remove: string[] = []): V2Write => ({
  type: 'update',
  key: keyOf(item),
  set,
  remove,
});

/**
 * The next user action on `model`: a weighted draw; an action with nothing to act on (no bot to
 * publish…) becomes a new conversation. Pure: the same model, generator state and options give
 * the same action. `n` makes titles unique.
 */
export function planAction(
  model: V2Model,
  rnd: () => number,
  n: number,
  opts: PlanOptions,
): V2Action {
  const operation = drawOperation(rnd);
  const writes = writesOf(operation, model, rnd, n, opts);
  if (writes) return { operation, writes };
  return { operation: 'create-conversation', writes: createConversation(model, rnd, n, opts) };
}

function writesOf(
  op: BedrockOperation,
  model: V2Model,
  rnd: () => number,
  n: number,
  opts: PlanOptions,
): V2Write[] | null {
  const bots = model.ofKind('bot');
  const published = (b: Item) => b.PublicBotId !== undefined;
  const one = (items: Item[]): Item | null => (items.length ? pick(rnd, items) : null);
  const conversations = model.ofKind('conversation');
  switch (op) {
    case 'create-conversation':
      return createConversation(model, rnd, n, opts);
    case 'rename-conversation': {
      const c = one(conversations);
      return c && [update(c, { Title: `Renamed conversation ${n}` })];
    }
    case 'delete-conversation': {
      const c = one(conversations);
      if (!c) return null;
      // delete_conversation_by_id, then the conversation's related documents.
      const prefix = `${String(c.PK)}#RELATED_DOCUMENT#${lastSegment(c.SK)}#`;
      const docs = model.ofKind('related-document').filter((d) => String(d.SK).startsWith(prefix));
      return [{ type: 'delete', key: keyOf(c) }, ...docs.map((d) => del(d))];
    }
    case 'create-bot': {
      const user = pickUser(model, rnd);
      return [
        {
          type: 'put',
          item: v2Bot(rnd, user, ulid(rnd), {
            published: false,
            pinned: false,
            createdMs: opts.nowMs,
          }),
        },
      ];
    }
    case 'edit-bot': {
      const b = one(bots);
      return b && [update(b, editedBot(n))];
    }
    case 'pin-bot': {
      const b = one(bots.filter((x) => x.IsPinned !== true));
      return b && [update(b, { IsPinned: true })];
    }
    case 'unpin-bot': {
      const b = one(bots.filter((x) => x.IsPinned === true));
      return b && [update(b, { IsPinned: false })];
    }
    case 'publish-bot': {
      const b = one(bots.filter((x) => !published(x)));
      // update_bot_visibility(True): the bot's own id is its public id.
      return b && [update(b, { PublicBotId: lastSegment(b.SK) })];
    }
    case 'unpublish-bot': {
      const b = one(bots.filter(published));
      return b && [update(b, {}, ['PublicBotId'])];
    }
    case 'delete-bot': {
      const b = one(bots);
      return b && [del(b)];
    }
    case 'create-alias-of-published':
    case 'create-alias-of-unpublished': {
      const want = op === 'create-alias-of-published';
      const b = one(bots.filter((x) => published(x) === want));
      if (!b) return null;
      const botId = lastSegment(b.SK);
      // Another user, who has no alias of this bot yet (V2 keys one alias per user and bot).
      const users = model
        .users()
        .filter((u) => u !== b.PK && !model.get({ PK: u, SK: `${u}#BOT_ALIAS#${botId}` }));
      const user = users.length && rnd() < 0.8 ? pick(rnd, users) : cognitoSub(rnd);
      return [{ type: 'put', item: v2Alias(rnd, user, b, botId) }];
    }
    case 'delete-alias': {
      const a = one(model.ofKind('alias'));
      return a && [del(a)];
    }
    case 'same-second-double-update': {
      // Two updates of one item back to back (well within one second): the second must win.
      const c = one([...conversations, ...bots]);
      if (!c) return null;
      return v2Kind(c) === 'bot'
        ? [update(c, editedBot(n)), update(c, { ...editedBot(n), Title: `Edited bot ${n}b` })]
        : [
            update(c, { Title: `Renamed conversation ${n}` }),
            update(c, { Title: `Renamed conversation ${n}b` }),
          ];
    }
  }
}

const del = (item: Item): V2Write => ({ type: 'delete', key: keyOf(item) });

/** update_bot: title, description and instruction together. */
const editedBot = (n: number) => ({
  Title: `Edited bot ${n}`,
  Description: `Edited description ${n}`,
  Instruction: `Edited instruction ${n}.`,
});

/** Mostly an existing user, sometimes a new one. */
function pickUser(model: V2Model, rnd: () => number): string {
  const users = model.users();
  return users.length && rnd() < 0.9 ? pick(rnd, users) : cognitoSub(rnd);
}

function createConversation(
  model: V2Model,
  rnd: () => number,
  n: number,
  opts: PlanOptions,
): V2Write[] {
  const user = pickUser(model, rnd);
  const own = model.ofKind('bot').filter((b) => b.PK === user);
  const made = v2Conversation(rnd, user, own, {
    nowMs: opts.nowMs,
    title: `Live conversation ${n}`,
  });
  return [
    { type: 'put', item: made.conversation },
    ...made.relatedDocuments.map((item): V2Write => ({ type: 'put', item })),
  ];
}

export interface BedrockAppWriterOptions {
  doc: DynamoDBDocumentClient;
  /** The V2 ConversationTable (physical name). */
  table: string;
  /** What the table holds already (the seeded data), so actions edit and delete it too. */
  seeded?: Iterable<Item>;
  /** @default 7 */
  seed?: number;
  /** @default Date.now */
  now?: () => number;
}

/** Counts by operation, plus the DynamoDB requests made. */
export type BedrockWriterCounts = Record<BedrockOperation, number> & { requests: number };

export const emptyCounts = (): BedrockWriterCounts =>
  Object.fromEntries([...BEDROCK_OPERATIONS, 'requests'].map((k) => [k, 0])) as BedrockWriterCounts;

/**
 * The V2 application: `step()` performs one action; `start(rate)` performs `rate` a second until
 * `stop()`, which resolves with the counts once the action in flight is done.
 *
 * @example
 * const app = new BedrockAppWriter({ doc, table, seeded: data.bots });
 * app.start(20);
 * const counts = await app.stop();
 */
export class BedrockAppWriter {
  readonly model: V2Model;
  readonly counts = emptyCounts();
  private readonly rnd: () => number;
  private n = 0;
  private running: Promise<void> | undefined;
  private stopping = false;

  constructor(private readonly o: BedrockAppWriterOptions) {
    this.model = new V2Model(o.seeded ?? []);
    this.rnd = prng(o.seed ?? 7);
  }

  /** One action, written request by request; the model follows each acknowledged request. */
  async step(): Promise<V2Action> {
    const action = planAction(this.model, this.rnd, this.n++, {
      nowMs: (this.o.now ?? Date.now)(),
    });
    for (const w of action.writes) {
      await send(this.o.doc, this.o.table, w);
      this.model.apply(w);
      this.counts.requests++;
    }
    this.counts[action.operation]++;
    return action;
  }

  /** Performs `rate` actions a second (paced from the start, not per action) until stop(). */
  start(rate: number): void {
    if (!(rate > 0)) throw new Error(`BedrockAppWriter: rate must be > 0, got ${rate}`);
    if (this.running) throw new Error('BedrockAppWriter: already started');
    this.stopping = false;
    const started = performance.now();
    this.running = (async () => {
      for (let i = 0; !this.stopping; i++) {
        const wait = started + (i / rate) * 1000 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (this.stopping) break;
        await this.step();
      }
    })();
  }

  /** Stops after the action in flight; rethrows a write that failed. */
  async stop(): Promise<BedrockWriterCounts> {
    this.stopping = true;
    const running = this.running;
    this.running = undefined;
    await running;
    return { ...this.counts };
  }
}

/** Makes the DynamoDB request of a write (REMOVE of an absent attribute is a no-op, as in V2). */
async function send(doc: DynamoDBDocumentClient, TableName: string, w: V2Write): Promise<void> {
  if (w.type === 'put') await doc.send(new PutCommand({ TableName, Item: w.item }));
  else if (w.type === 'delete') await doc.send(new DeleteCommand({ TableName, Key: w.key }));
  else await doc.send(updateCommand(TableName, w));
}

/** update_*'s UpdateItem: SET the given attributes, REMOVE the others. */
export function updateCommand(TableName: string, w: Extract<V2Write, { type: 'update' }>) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets = Object.entries(w.set).map(([k, v], i) => {
    names[`#s${i}`] = k;
    values[`:s${i}`] = v;
    return `#s${i} = :s${i}`;
  });
  const removes = w.remove.map((k, i) => {
    names[`#r${i}`] = k;
    return `#r${i}`;
  });
  const expression = [
    sets.length ? `SET ${sets.join(', ')}` : '',
    removes.length ? `REMOVE ${removes.join(', ')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return new UpdateCommand({
    TableName,
    Key: w.key,
    UpdateExpression: expression,
    ExpressionAttributeNames: names,
    ...(sets.length && { ExpressionAttributeValues: values }),
  });
}
