// The lookup's retry and caching rules, driven by a scripted BatchGetItem responder (the
// real round trip is covered by test/integration/migrate.test.ts).
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { UserLookupError, UserTypeLookup } from '../../../lib/adapters/user-type-lookup.ts';

type Keys = { user_id: string }[];
type Reply = { found: string[]; unprocessed: string[] } | Error;

/** Answers each BatchGetItem with the next scripted reply; records the keys asked for. */
function scripted(table: string, replies: ((keys: string[]) => Reply)[]) {
  const asked: string[][] = [];
  const client = {
    send: async (cmd: { input: { RequestItems: Record<string, { Keys: Keys }> } }) => {
      const keys = cmd.input.RequestItems[table]!.Keys.map((k) => k.user_id);
      asked.push(keys);
      const reply = (replies[asked.length - 1] ?? (() => ({ found: keys, unprocessed: [] })))(keys);
      if (reply instanceof Error) throw reply;
      return {
        Responses: {
          [table]: reply.found.map((user_id) => ({ user_id, user_type: `type-of-${user_id}` })),
        },
        UnprocessedKeys: reply.unprocessed.length
          ? { [table]: { Keys: reply.unprocessed.map((user_id) => ({ user_id })) } }
          : {},
      };
    },
  };
  return { client: client as unknown as DynamoDBDocumentClient, asked };
}

const noSleep = async () => {};

describe('UserTypeLookup', () => {
  it('retries UnprocessedKeys until every key is answered', async () => {
    const { client, asked } = scripted('users', [
      (keys) => ({ found: keys.slice(0, 1), unprocessed: keys.slice(1) }),
      (keys) => ({ found: [], unprocessed: keys }),
      (keys) => ({ found: keys, unprocessed: [] }),
    ]);
    const lookup = new UserTypeLookup(client, 'users', { sleep: noSleep });
    const types = await lookup.resolve(['a', 'b', 'c']);
    expect(asked).toEqual([
      ['a', 'b', 'c'],
      ['b', 'c'],
      ['b', 'c'],
    ]);
    expect(Object.fromEntries(types)).toEqual({ a: 'type-of-a', b: 'type-of-b', c: 'type-of-c' });
  });

  it('fails, caching nothing, when keys stay unprocessed', async () => {
    const stuck = (keys: string[]): Reply => ({ found: [], unprocessed: keys });
    const { client, asked } = scripted('users', [stuck, stuck, stuck]);
    const lookup = new UserTypeLookup(client, 'users', { sleep: noSleep, maxAttempts: 3 });
    const err = await lookup.resolve(['a']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UserLookupError);
    expect((err as UserLookupError).userIds).toEqual(['a']);
    // Nothing was cached as a default: the next call asks again (and now succeeds).
    expect(Object.fromEntries(await lookup.resolve(['a']))).toEqual({ a: 'type-of-a' });
    expect(asked).toHaveLength(4);
  });

  it('turns a failed request into a UserLookupError naming the ids', async () => {
    const { client } = scripted('users', [
      () => new Error('ProvisionedThroughputExceededException'),
    ]);
    const lookup = new UserTypeLookup(client, 'users', { sleep: noSleep });
    await expect(lookup.resolve(['x', 'y'])).rejects.toMatchObject({
      name: 'UserLookupError',
      userIds: ['x', 'y'],
    });
  });

  it('asks for at most 100 distinct ids per request and answers repeats from the cache', async () => {
    const { client, asked } = scripted('users', []);
    const lookup = new UserTypeLookup(client, 'users', { sleep: noSleep });
    const ids = Array.from({ length: 250 }, (_, i) => `u${i}`);
    await lookup.resolve([...ids, ...ids]);
    expect(asked.map((a) => a.length)).toEqual([100, 100, 50]);
    await lookup.resolve(ids.slice(0, 10));
    expect(asked).toHaveLength(3);
  });

  it('records a user without a type as null, never as a guessed type', async () => {
    const { client } = scripted('users', [() => ({ found: [], unprocessed: [] })]);
    const types = await new UserTypeLookup(client, 'users', { sleep: noSleep }).resolve(['ghost']);
    expect(types.get('ghost')).toBeNull();
  });
});

describe('UserTypeLookup.resolveEach (item 6)', () => {
  const invalid = () => Object.assign(new Error('key too large'), { name: 'ValidationException' });

  it('item 6: bisects a rejected request down to the id that causes it; the others resolve', async () => {
    const { client } = scripted(
      'users',
      Array.from(
        { length: 20 },
        () => (keys: string[]) =>
          keys.includes('bad') ? invalid() : { found: keys, unprocessed: [] },
      ),
    );
    const lookup = new UserTypeLookup(client, 'users', { sleep: noSleep });
    const { types, failed } = await lookup.resolveEach(['a', 'b', 'bad', 'c', 'd']);
    expect([...failed.keys()]).toEqual(['bad']);
    expect(Object.fromEntries(types)).toEqual({
      a: 'type-of-a',
      b: 'type-of-b',
      c: 'type-of-c',
      d: 'type-of-d',
    });
  });

  it('item 6: a throttled or unreachable table fails its ids without bisecting', async () => {
    const { client, asked } = scripted('users', [() => new Error('socket hang up')]);
    const lookup = new UserTypeLookup(client, 'users', { sleep: noSleep });
    const { types, failed } = await lookup.resolveEach(['a', 'b']);
    expect(asked).toHaveLength(1);
    expect(types.size).toBe(0);
    expect([...failed.keys()]).toEqual(['a', 'b']);
  });

  it('item 4: asks for strongly consistent reads', async () => {
    const inputs: unknown[] = [];
    const client = {
      send: async (cmd: { input: unknown }) => {
        inputs.push(cmd.input);
        return { Responses: { users: [] } };
      },
    } as unknown as DynamoDBDocumentClient;
    await new UserTypeLookup(client, 'users').resolve(['a']);
    expect(inputs[0]).toMatchObject({ RequestItems: { users: { ConsistentRead: true } } });
  });
});
