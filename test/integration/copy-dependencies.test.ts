// Dependencies of a copy, on the Bedrock preset's real tables: a V3 alias needs its bot's owner
// through the V2 PublicBotIdIndex. Publishing, unpublishing and deleting the bot re-derive the
// alias (live, through the local runner's stream consumer), and so does doing it while the
// alias's own derivation is between its reads and its write; a lagging index is not trusted.
import { GetCommand, PutCommand, DeleteCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { CopyWriter, ledgerKey } from '../../lib/adapters/copy-writer.ts';
import { DependencyStore } from '../../lib/adapters/dependency-store.ts';
import { LookupReader } from '../../lib/adapters/lookup-reader.ts';
import type { Item, Key } from '../../lib/core/types.ts';
import { copyItems } from '../../lib/engine/copy-items.ts';
import { rederiveDependents } from '../../lib/engine/copy-dependents.ts';
import { copyAliases } from '../../lib/presets/bedrock-chat-v3.ts';
import { bedrockV2Data } from '../../local/bedrock-data.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { sendMessages } from '../../lib/adapters/work-queue.ts';
import { packItems, workItemOf } from '../../lib/core/work-message.ts';
import { expectCutoverClean } from '../support/cutover.ts';
import { bedrockFixture, bedrockPlanner, V2 } from '../support/bedrock-fixture.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('copy-dependencies');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const planner = bedrockPlanner;
let clients: Clients;

beforeAll(() => {
  clients = makeClients({ searchEndpoint: undefined });
});
afterAll(() => destroyClients(clients));

const fixture = () => bedrockFixture(clients, 'cdep');

// One bot (owner u-owner) and an alias of it held by u-fan, shaped by the seed's generator.
const data = bedrockV2Data({ users: 4, seed: 7 });
const template = data.bots[0] as Item;
const BOT_ID = String(template.SK).split('#').at(-1) as string;
const bot = (published: boolean): Item => {
  const { PublicBotId: _p, ...rest } = template;
  return {
    ...rest,
    PK: 'u-owner',
    SK: `u-owner#BOT#${BOT_ID}`,
    ...(published && { PublicBotId: BOT_ID }),
  };
};
const botKey: Key = { PK: 'u-owner', SK: `u-owner#BOT#${BOT_ID}` };
const alias: Item = {
  ...(data.aliases[0] as Item),
  PK: 'u-fan',
  SK: `u-fan#BOT_ALIAS#${BOT_ID}`,
  OriginalBotId: BOT_ID,
};
const aliasKey: Key = { PK: 'u-fan', SK: alias.SK as string };

const put = (table: string, Item: Item) =>
  clients.doc.send(new PutCommand({ TableName: table, Item }));
/** The V3 alias item of u-fan, or undefined. */
const v3Alias = async (v3Bot: string) =>
  (
    await clients.doc.send(
      new GetCommand({
        TableName: v3Bot,
        Key: { PK: 'u-fan', SK: `ALIAS#${BOT_ID}` },
        ConsistentRead: true,
      }),
    )
  ).Item;

async function until(what: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 200));
  }
}

it('re-derives an alias live when its bot is published, unpublished, published again and deleted', async () => {
  const f = await fixture();
  const runner = await startLocalRunner({
    clients,
    deps: f.deps,
    tables: f.tables,
    queueName: uniqueName('depq'),
    dlqName: uniqueName('depdlq'),
    startingPosition: 'TRIM_HORIZON',
    worker: false,
    handlerLogLevel: 'SILENT',
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  });
  try {
    const v2 = f.names.v2Conversation;
    await put(v2, bot(false));
    await put(v2, alias);
    // Not published: no V3 alias, and the ledger says why.
    const writer = f.deps.copies as CopyWriter;
    await until(
      async () =>
        (await writer.readLedger(copyAliases.name, `${V2}:${JSON.stringify(aliasKey)}`)) !==
        undefined,
    );
    const skipped = await writer.readLedger(copyAliases.name, `${V2}:${JSON.stringify(aliasKey)}`);
    expect(skipped?.targets).toEqual([]);
    expect(skipped?.skipped).toMatch(/lookup "bedrock-alias-original-bot" found no .*PublicBotId/);
    expect(await v3Alias(f.names.v3Bot)).toBeUndefined();

    await put(v2, bot(true));
    await until(async () => (await v3Alias(f.names.v3Bot))?.OwnerUserId === 'u-owner');

    await put(v2, bot(false));
    await until(async () => (await v3Alias(f.names.v3Bot)) === undefined);

    await put(v2, bot(true));
    await until(async () => (await v3Alias(f.names.v3Bot)) !== undefined);
    await clients.doc.send(new DeleteCommand({ TableName: v2, Key: botKey }));
    await until(async () => (await v3Alias(f.names.v3Bot)) === undefined);
    // Nothing but the fan's alias ledger (skipped again) and its edges remain for it.
    const after = await writer.readLedger(copyAliases.name, `${V2}:${JSON.stringify(aliasKey)}`);
    expect(after?.skipped).toBeDefined();
  } finally {
    await runner.stop();
  }
}, 150_000);

describe('a bot changing while its alias is in flight', () => {
  /** The deps with a writer that runs `between` once, between the alias's ledger read and write. */
  function interleaved(f: Awaited<ReturnType<typeof fixture>>, between: () => Promise<void>) {
    let done = false;
    const copies = new CopyWriter(
      clients.doc,
      f.tables,
      f.stateTable,
      (t) => planner.table(t).key,
      {
        afterLedgerRead: async (plan) => {
          if (done || plan.copy !== copyAliases.name) return;
          done = true;
          await between();
        },
      },
    );
    return { ...f.deps, copies };
  }
  const aliasChange = [{ key: aliasKey, image: alias }];

  it('publish: the alias derived without an owner loses to the stamp and is derived again', async () => {
    const f = await fixture();
    await put(f.names.v2Conversation, bot(false));
    await put(f.names.v2Conversation, alias);
    const deps = interleaved(f, async () => {
      // The app publishes; the bot's stream record is processed before the alias commits, and
      // finds no edge yet: only the stamp can tell the alias's write it is stale.
      await put(f.names.v2Conversation, bot(true));
      await rederiveDependents(V2, [{ key: botKey, image: bot(true) }], f.deps);
    });
    const [r] = await copyItems(V2, aliasChange, deps);
    expect(r?.outcome).toBe('migrated');
    expect((await v3Alias(f.names.v3Bot))?.OwnerUserId).toBe('u-owner');
  });

  it('unpublish: the alias derived with an owner fails its check on the bot and is skipped', async () => {
    const f = await fixture();
    await put(f.names.v2Conversation, bot(true));
    await put(f.names.v2Conversation, alias);
    const deps = interleaved(f, async () => {
      await put(f.names.v2Conversation, bot(false));
      await rederiveDependents(V2, [{ key: botKey, image: bot(false) }], f.deps);
    });
    const [r] = await copyItems(V2, aliasChange, deps);
    expect(r?.outcome).toBe('unchanged');
    expect(await v3Alias(f.names.v3Bot)).toBeUndefined();
    const ledger = await (f.deps.copies as CopyWriter).readLedger(
      copyAliases.name,
      `${V2}:${JSON.stringify(aliasKey)}`,
    );
    expect(ledger?.skipped).toBeDefined();
  });

  it("delete: the alias written before the bot is deleted is deleted by the bot's REMOVE", async () => {
    const f = await fixture();
    await put(f.names.v2Conversation, bot(true));
    await put(f.names.v2Conversation, alias);
    expect((await copyItems(V2, aliasChange, f.deps))[0]?.outcome).toBe('migrated');
    await clients.doc.send(new DeleteCommand({ TableName: f.names.v2Conversation, Key: botKey }));
    const [r] = await rederiveDependents(V2, [{ key: botKey, image: undefined }], f.deps);
    expect(r?.outcome).toBe('unchanged');
    expect(await v3Alias(f.names.v3Bot)).toBeUndefined();
  });
});

it('finds a published bot through its stamp while the index still lags behind', async () => {
  const f = await fixture();
  await put(f.names.v2Conversation, bot(true));
  await rederiveDependents(V2, [{ key: botKey, image: bot(true) }], f.deps);
  await put(f.names.v2Conversation, alias);
  // A client whose index queries answer as an index that has not caught up yet: nothing.
  const lagging = makeClients({ searchEndpoint: undefined });
  lagging.doc.middlewareStack.add(
    (next) => async (args) =>
      (args.input as { IndexName?: string }).IndexName
        ? ({ output: { Items: [], $metadata: {} }, response: {} } as never)
        : next(args),
    { step: 'initialize', name: 'laggingIndex' },
  );
  try {
    const lookups = new LookupReader(lagging.doc, f.tables, {
      dependencies: new DependencyStore(lagging.doc, f.stateTable),
    });
    const [r] = await copyItems(V2, [{ key: aliasKey, image: alias }], { ...f.deps, lookups });
    expect(r?.outcome).toBe('migrated');
    expect((await v3Alias(f.names.v3Bot))?.OwnerUserId).toBe('u-owner');
    // And without the stamp's candidate, the lagging index alone would have found nothing.
    const blind = new LookupReader(lagging.doc, f.tables);
    const reads = planner.collectLookups(V2, [alias]);
    const { indexed } = await blind.read(reads.byTable, reads.byIndex);
    expect([...indexed.values()].flat()).toEqual([]);
  } finally {
    destroyClients(lagging);
  }
});

it('keeps dependency edges only for what a source depends on now', async () => {
  const f = await fixture();
  await put(f.names.v2Conversation, bot(true));
  await put(f.names.v2Conversation, alias);
  await copyItems(V2, [{ key: aliasKey, image: alias }], f.deps);
  const edges = async () =>
    (
      (await clients.doc.send(new ScanCommand({ TableName: f.stateTable, ConsistentRead: true })))
        .Items ?? []
    )
      .filter((i) => String(i.sk).startsWith('edge#'))
      .map((i) => String(i.pk))
      .sort();
  // Found through the index: an edge on the index key and one on the bot's own key.
  expect(await edges()).toEqual([
    `dep#bedrock-alias-original-bot#${V2}:${JSON.stringify(botKey)}`,
    `dep#bedrock-alias-original-bot#${V2}@PublicBotIdIndex:${JSON.stringify({ PublicBotId: BOT_ID })}`,
  ]);
  // The alias deleted: its ledger and its edges go with its targets.
  await clients.doc.send(new DeleteCommand({ TableName: f.names.v2Conversation, Key: aliasKey }));
  await copyItems(V2, [{ key: aliasKey, image: undefined }], f.deps);
  expect(await edges()).toEqual([]);
  const ledger = await clients.doc.send(
    new GetCommand({
      TableName: f.stateTable,
      Key: ledgerKey(copyAliases.name, `${V2}:${JSON.stringify(aliasKey)}`),
    }),
  );
  expect(ledger.Item).toBeUndefined();
});

it('converges while a bot is published and unpublished over and over as its aliases are copied by the stream and the worker at once', async () => {
  const f = await fixture();
  const v2 = f.names.v2Conversation;
  const fans = Array.from({ length: 40 }, (_, i) => ({
    ...alias,
    PK: `u-fan-${i}`,
    SK: `u-fan-${i}#BOT_ALIAS#${BOT_ID}`,
  }));
  await put(v2, bot(false));
  for (const a of fans) await put(v2, a);
  const queueName = uniqueName('depwq');
  const dlqName = uniqueName('depwdlq');
  const queues = await ensureQueues(clients.sqs, { queueName, dlqName });
  const inputs = planner.projection(V2).filter((n) => n !== 'PK' && n !== 'SK');
  // The historic pass of the aliases, while the stream carries the same items and the bot's
  // publications: one alias per message, so the worker interleaves with the consumer.
  await sendMessages(
    clients.sqs,
    queues.work,
    packItems(
      V2,
      fans.map((a) => workItemOf(planner.table(V2), a, inputs)),
      { maxItemsPerMessage: 1 },
    ),
  );
  const runner = await startLocalRunner({
    clients,
    deps: f.deps,
    tables: f.tables,
    queueName,
    dlqName,
    startingPosition: 'TRIM_HORIZON',
    workerBatchSize: 1,
    handlerLogLevel: 'SILENT',
    logger: { info: () => {}, warn: () => {}, error: () => {} },
  });
  try {
    for (let i = 0; i < 20; i++) {
      await put(v2, bot(i % 2 === 0));
      await new Promise((r) => setTimeout(r, 20 + (i % 3) * 15));
    }
    await runner.waitForIdle(120_000);
    expect(runner.counts().onFailure).toBe(0);
  } finally {
    await runner.stop();
  }
  // The last write unpublished it: no alias is left, every one skipped with its reason.
  const aliases = (
    (await clients.doc.send(new ScanCommand({ TableName: f.names.v3Bot, ConsistentRead: true })))
      .Items ?? []
  ).filter((i) => String(i.SK).startsWith('ALIAS#'));
  expect(aliases).toEqual([]);
  await expectCutoverClean(clients, { tables: f.tables, planner, stateTable: f.stateTable });
  // Published once more (its record processed by hand, the runner is gone): every alias
  // appears, owned by the bot's owner.
  await put(v2, bot(true));
  await copyItems(V2, [{ key: botKey, image: bot(true) }], f.deps);
  await rederiveDependents(V2, [{ key: botKey, image: bot(true) }], f.deps);
  const owners = (
    (await clients.doc.send(new ScanCommand({ TableName: f.names.v3Bot, ConsistentRead: true })))
      .Items ?? []
  )
    .filter((i) => String(i.SK).startsWith('ALIAS#'))
    .map((i) => i.OwnerUserId);
  expect(owners).toEqual(fans.map(() => 'u-owner'));
  await expectCutoverClean(clients, { tables: f.tables, planner, stateTable: f.stateTable });
}, 200_000);
