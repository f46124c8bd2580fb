// The one writer on declared tables against DynamoDB Local: number (big) and binary keys, map,
// list and set values and conditions, planned by the config planner.
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { sdkValue } from '../../lib/adapters/exact-numbers.ts';
import { DynamoWriter } from '../../lib/adapters/dynamo-writer.ts';
import { defineConfig, defineMigration, defineTable } from '../../lib/core/config/define.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import { resolveConfig } from '../../lib/core/config/resolve.ts';
import { ExactNumber } from '../../lib/core/exact-number.ts';
import { sameValue } from '../../lib/core/item-equality.ts';
import type { Item, ItemChange } from '../../lib/core/types.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('writer-values');

const ledger = defineTable({ name: 'ledger', key: ['account', 'seq'] });
const blobs = defineTable({ name: 'blobs', key: ['digest'] });
const planner = compilePlanner(
  resolveConfig(
    defineConfig({
      tables: [ledger, blobs],
      migrations: [
        defineMigration({
          name: 'ledger-profile-copy',
          table: ledger,
          inputs: ['profile'],
          writes: ['profile_copy', 'legacy'],
          // A copy of a map input, and removal of a legacy attribute.
          derive: (item) => ({ profile_copy: item.profile, legacy: undefined }),
        }),
        defineMigration({
          name: 'blob-labels',
          table: blobs,
          inputs: ['labels', 'label_list'],
          writes: ['label_list'],
          derive: (item) => ({
            label_list: [...(item.labels as Set<string>)].sort(),
          }),
        }),
      ],
    }),
  ),
);

let clients: Clients;
let writer: DynamoWriter;
const names = { ledger: uniqueName('ledger'), blobs: uniqueName('blobs') };

beforeAll(async () => {
  clients = makeClients();
  writer = new DynamoWriter(clients.doc, names);
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: names.ledger,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'account', KeyType: 'HASH' },
        { AttributeName: 'seq', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'account', AttributeType: 'S' },
        { AttributeName: 'seq', AttributeType: 'N' },
      ],
    }),
  );
  await clients.dynamodb.send(
    new CreateTableCommand({
      TableName: names.blobs,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'digest', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'digest', AttributeType: 'B' }],
    }),
  );
});

afterAll(() => destroyClients(clients));

const put = (table: string, Item: Item) =>
  clients.doc.send(new PutCommand({ TableName: table, Item: sdkValue(Item) as Item }));
const get = async (table: string, Key: Item): Promise<Item | undefined> =>
  (
    await clients.doc.send(
      new GetCommand({ TableName: table, Key: sdkValue(Key) as Item, ConsistentRead: true }),
    )
  ).Item;

function planned(table: string, item: Item): ItemChange {
  const { change } = planner.planItem(table, item, {});
  if (!change) throw new Error('expected a change');
  return change;
}

describe('DynamoWriter on any value type', () => {
  const profile = { name: 'Ada', tags: ['a', 'b'], limits: { daily: 10 }, roles: new Set(['x']) };

  it('writes to a big-number sort key under a map condition, setting a map and removing', async () => {
    const seq = new ExactNumber('9007199254740993.5');
    const item = { account: 'acc-1', seq, profile, legacy: 1 };
    await put(names.ledger, item);
    const change = planned('ledger', item);
    expect(change.conditions).toContainEqual({
      op: 'equals',
      attribute: 'profile',
      value: profile,
    });
    expect(change.remove).toEqual(['legacy']);
    expect((await writer.apply(change)).outcome).toBe('migrated');
    const stored = await get(names.ledger, { account: 'acc-1', seq });
    expect(sameValue(stored?.profile_copy, profile)).toBe(true);
    expect(stored?.legacy).toBeUndefined();
    expect((stored?.seq as ExactNumber).text).toBe('9007199254740993.5');
  });

  it('a map input the app changes between plan and write → conflict, app value kept', async () => {
    const item = { account: 'acc-2', seq: 2, profile };
    await put(names.ledger, item);
    const change = planned('ledger', item);
    await clients.doc.send(
      new UpdateCommand({
        TableName: names.ledger,
        Key: { account: 'acc-2', seq: 2 },
        UpdateExpression: 'SET #p.#l.#d = :v',
        ExpressionAttributeNames: { '#p': 'profile', '#l': 'limits', '#d': 'daily' },
        ExpressionAttributeValues: { ':v': 11 },
      }),
    );
    expect((await writer.apply(change)).outcome).toBe('conflict');
    const stored = await get(names.ledger, { account: 'acc-2', seq: 2 });
    expect(stored?.profile_copy).toBeUndefined();
    expect((stored?.profile as { limits: { daily: number } }).limits.daily).toBe(11);
  });

  it('writes to a binary-key item conditioned on a set: migrated, retry unchanged, set changed → conflict', async () => {
    const digest = new Uint8Array([0xde, 0xad, 0xbe, 0xef]);
    const item = { digest, labels: new Set(['b', 'a']) };
    await put(names.blobs, item);
    const change = planned('blobs', item);
    expect((await writer.apply(change)).outcome).toBe('migrated');
    expect((await get(names.blobs, { digest }))?.label_list).toEqual(['a', 'b']);
    // The same write again: label_list is no longer absent, but the list is already there.
    expect((await writer.apply(change)).outcome).toBe('unchanged');

    const other = new Uint8Array([1]);
    await put(names.blobs, { digest: other, labels: new Set(['c']) });
    const stale = planned('blobs', { digest: other, labels: new Set(['c']) });
    await put(names.blobs, { digest: other, labels: new Set(['c', 'd']) });
    expect((await writer.apply(stale)).outcome).toBe('conflict');
    expect(
      (
        await writer.apply(
          planned('blobs', { digest: new Uint8Array([2]), labels: new Set(['z']) }),
        )
      ).outcome,
    ).toBe('missing');
  });
});
