// The Bedrock Chat V2 application writer's pure part: which requests each user action makes, in
// V2's key formats, and the model of the table they leave.
import { describe, expect, it } from 'vitest';
import { prng } from '../../../lib/core/prng.ts';
import type { Item } from '../../../lib/core/types.ts';
import { v2Kind } from '../../../lib/presets/bedrock-chat-v3.ts';
import {
  BEDROCK_OPERATIONS,
  V2Model,
  planAction,
  updateCommand,
  type V2Action,
} from '../../../local/bedrock-app-writer.ts';
import { bedrockV2Data } from '../../../local/bedrock-data.ts';

const NOW = 1_790_000_000_000;
const seeded = (users = 8): Item[] => {
  const d = bedrockV2Data({ users, seed: 2 });
  return [...d.bots, ...d.aliases, ...d.conversations, ...d.relatedDocuments];
};

/** `steps` actions on a model of the seeded data, each applied to the model. */
function run(steps: number, opts: { seed?: number } = {}) {
  const model = new V2Model(seeded());
  const rnd = prng(opts.seed ?? 3);
  const actions: V2Action[] = [];
  for (let n = 0; n < steps; n++) {
    const a = planAction(model, rnd, n, { nowMs: NOW, ...opts });
    for (const w of a.writes) model.apply(w);
    actions.push(a);
  }
  return { model, actions };
}

const botId = (sk: unknown) => String(sk).split('#').at(-1);

describe('planAction', () => {
  it('performs every operation over a few hundred actions, the same ones for the same seed', () => {
    const { actions } = run(600);
    const seen = new Set(actions.map((a) => a.operation));
    expect([...seen].sort()).toEqual([...BEDROCK_OPERATIONS].sort());
    expect(run(600).actions).toEqual(actions);
    expect(run(600, { seed: 4 }).actions).not.toEqual(actions);
  });

  it('writes V2 keys: {uid}#CONV#, #BOT#, #BOT_ALIAS#, #RELATED_DOCUMENT#, PK the user', () => {
    const { actions } = run(400);
    for (const a of actions)
      for (const w of a.writes) {
        const key = w.type === 'put' ? w.item : w.key;
        expect(String(key.SK).startsWith(`${String(key.PK)}#`), String(key.SK)).toBe(true);
        if (w.type === 'put') expect(v2Kind(w.item), String(key.SK)).not.toBeNull();
      }
    const created = actions.filter((a) => a.operation === 'create-conversation');
    expect(created.length).toBeGreaterThan(0);
    for (const a of created)
      expect(v2Kind((a.writes[0] as { item: Item }).item)).toBe('conversation');
  });

  it('publish sets PublicBotId to the bot id; unpublish removes it', () => {
    const { actions } = run(400);
    const publish = actions.filter((a) => a.operation === 'publish-bot');
    const unpublish = actions.filter((a) => a.operation === 'unpublish-bot');
    expect(publish.length).toBeGreaterThan(0);
    expect(unpublish.length).toBeGreaterThan(0);
    for (const a of publish) {
      const w = a.writes[0] as Extract<V2Action['writes'][number], { type: 'update' }>;
      expect(w.set).toEqual({ PublicBotId: botId(w.key.SK) });
      expect(w.remove).toEqual([]);
    }
    for (const a of unpublish) {
      const w = a.writes[0] as Extract<V2Action['writes'][number], { type: 'update' }>;
      expect(w.set).toEqual({});
      expect(w.remove).toEqual(['PublicBotId']);
    }
  });

  it('aliases point at published bots or unpublished ones, as the operation says', () => {
    const model = new V2Model(seeded());
    const rnd = prng(5);
    let checked = 0;
    for (let n = 0; n < 500; n++) {
      const a = planAction(model, rnd, n, { nowMs: NOW });
      if (a.operation.startsWith('create-alias')) {
        const alias = (a.writes[0] as { item: Item }).item;
        expect(v2Kind(alias)).toBe('alias');
        expect(alias.SK).toBe(`${String(alias.PK)}#BOT_ALIAS#${String(alias.OriginalBotId)}`);
        const bot = model.ofKind('bot').find((b) => botId(b.SK) === alias.OriginalBotId) as Item;
        expect(bot.PK).not.toBe(alias.PK);
        expect(bot.PublicBotId !== undefined).toBe(a.operation === 'create-alias-of-published');
        checked++;
      }
      for (const w of a.writes) model.apply(w);
    }
    expect(checked).toBeGreaterThan(5);
  });

  it('a same-second double update is two updates of one item, the second one last', () => {
    const { actions } = run(400);
    const doubles = actions.filter((a) => a.operation === 'same-second-double-update');
    expect(doubles.length).toBeGreaterThan(0);
    for (const a of doubles) {
      expect(a.writes.map((w) => w.type)).toEqual(['update', 'update']);
      const [first, second] = a.writes as Extract<V2Action['writes'][number], { type: 'update' }>[];
      expect(second!.key).toEqual(first!.key);
      expect(second!.set.Title).not.toEqual(first!.set.Title);
    }
  });

  it('deleting a conversation deletes its related documents too', () => {
    const { actions, model } = run(600);
    const deletes = actions.filter((a) => a.operation === 'delete-conversation');
    expect(deletes.some((a) => a.writes.length > 1)).toBe(true);
    for (const a of deletes) {
      const conv = a.writes[0]!;
      const convId = botId(conv.type === 'delete' && conv.key.SK);
      for (const w of a.writes.slice(1)) {
        expect(w.type).toBe('delete');
        expect(String(w.type === 'delete' && w.key.SK)).toContain(`#RELATED_DOCUMENT#${convId}#`);
      }
    }
    const convIds = new Set(model.ofKind('conversation').map((c) => botId(c.SK)));
    for (const d of model.ofKind('related-document'))
      expect(convIds.has(String(d.SK).split('#')[2])).toBe(true);
  });
});

describe('V2Model.apply', () => {
  it('puts, SETs and REMOVEs, and deletes as DynamoDB does', () => {
    const m = new V2Model([{ PK: 'u', SK: 'u#BOT#b', Title: 'a', PublicBotId: 'b' }]);
    m.apply({
      type: 'update',
      key: { PK: 'u', SK: 'u#BOT#b' },
      set: { Title: 'x' },
      remove: ['PublicBotId'],
    });
    expect(m.get({ PK: 'u', SK: 'u#BOT#b' })).toEqual({ PK: 'u', SK: 'u#BOT#b', Title: 'x' });
    m.apply({ type: 'delete', key: { PK: 'u', SK: 'u#BOT#b' } });
    expect(m.all()).toEqual([]);
  });
});

describe('updateCommand', () => {
  it('SETs and REMOVEs through placeholders, with no values for a REMOVE alone', () => {
    const key = { PK: 'u', SK: 'u#BOT#b' };
    expect(
      updateCommand('t', { type: 'update', key, set: {}, remove: ['PublicBotId'] }).input,
    ).toEqual({
      TableName: 't',
      Key: key,
      UpdateExpression: 'REMOVE #r0',
      ExpressionAttributeNames: { '#r0': 'PublicBotId' },
    });
    expect(
      updateCommand('t', { type: 'update', key, set: { IsPinned: true }, remove: [] }).input,
    ).toMatchObject({
      UpdateExpression: 'SET #s0 = :s0',
      ExpressionAttributeNames: { '#s0': 'IsPinned' },
      ExpressionAttributeValues: { ':s0': true },
    });
  });
});
