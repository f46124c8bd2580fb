// `verify --migrations` (a deployed stack's set with --stack) checks only the migrations that
// were deployed: a stack that runs only session-sort-key is converged when the sort key is done,
// even though user_type was never part of it.
import { ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { runCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('verify-migrations');

let clients: Clients;
const p = uniqueName('vm');
const tables = ['--session-table', `${p}-s`, '--user-table', `${p}-u`, '--tag-table', `${p}-t`];
const env = { ...process.env };
delete env.SEARCH_ENDPOINT;

beforeAll(async () => {
  clients = makeClients();
  const seeded = await runCli(
    ['seed', '--sessions', '12', '--users', '3', '--migrated', '0', ...tables],
    env,
  );
  expect(seeded.code, seeded.stderr).toBe(0);
  // Pika 0.5 only: source and chat_app_sk, as session-sort-key derives them; no user_type.
  const { Items = [] } = await clients.doc.send(new ScanCommand({ TableName: `${p}-s` }));
  for (const item of Items) {
    const source = (item.source as string | undefined) ?? 'user';
    const k = source === 'component' ? 'component' : 'user';
    await clients.doc.send(
      new UpdateCommand({
        TableName: `${p}-s`,
        Key: { user_id: item.user_id, session_id: item.session_id },
        UpdateExpression: 'SET #s = :s, chat_app_sk = :k',
        ExpressionAttributeNames: { '#s': 'source' },
        ExpressionAttributeValues: {
          ':s': source,
          ':k': `${item.chat_app_id as string}#${k}#${item.last_update as string}`,
        },
      }),
    );
  }
});
afterAll(() => destroyClients(clients));

describe('verify --migrations', () => {
  it('checks the named set only: converged for session-sort-key, pending for the defaults', async () => {
    const only = await runCli(
      ['verify', '--json', '--migrations', 'session-sort-key', ...tables],
      env,
    );
    expect(only.code, only.stderr).toBe(0);
    expect(JSON.parse(only.stdout)).toMatchObject({ checked: 12, pending: 0 });
    const all = await runCli(['verify', '--json', ...tables], env);
    expect(all.code).toBe(1);
    expect(JSON.parse(all.stdout)).toMatchObject({ checked: 12, pending: 12 });
  });

  it('reads STREAMFILL_MIGRATIONS, and refuses an unknown name before reading anything', async () => {
    const fromEnv = await runCli(['verify', ...tables], {
      ...env,
      STREAMFILL_MIGRATIONS: 'session-sort-key',
    });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    const bad = await runCli(['verify', '--migrations', 'session-sortkey', ...tables], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('names unknown migrations session-sortkey (known: ');
  });
});
