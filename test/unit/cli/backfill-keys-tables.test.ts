// `--table` names declared migrated tables, and a `--keys` file carries keys of the declared
// key schema (strings or numbers): every bad line named.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tablesOf } from '../../../scripts/commands/backfill/flags.ts';
import { readKeysFile } from '../../../scripts/commands/backfill/keys-file.ts';
import { PIKA } from '../../support/pika.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sf-keys-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const keysFile = async (name: string, lines: string[]): Promise<string> => {
  const path = join(dir, name);
  await writeFile(path, lines.join('\n'));
  return path;
};
const orders = { name: 'orders', key: ['tenant_id', 'order_no'] as const };

describe('backfill --table', () => {
  it("names one migrated table, all of them, or (absent) the config's first", () => {
    expect(tablesOf('tag', PIKA)).toEqual(['tag']);
    expect(tablesOf('all', PIKA)).toEqual(['session', 'tag']);
    expect(tablesOf(undefined, PIKA)).toEqual(['session']);
    expect(tablesOf(undefined, { migratedTables: ['orders'] })).toEqual(['orders']);
  });

  it('refuses another name, naming the migrated tables', () => {
    expect(() => tablesOf('user', PIKA)).toThrow(
      '--table must be a migrated table of the config or all (session, tag, all), got "user"',
    );
    expect(() => tablesOf(undefined, { migratedTables: [] })).toThrow(/nothing to backfill/);
  });
});

describe('backfill --keys', () => {
  it('reads keys of the declared schema, numbers kept as numbers', async () => {
    const path = await keysFile('ok.jsonl', [
      '{"tenant_id":"t1","order_no":7}',
      '',
      '{"tenant_id":"t2","order_no":"8"}',
    ]);
    expect(await readKeysFile(path, orders)).toEqual([
      { tenant_id: 't1', order_no: 7 },
      { tenant_id: 't2', order_no: '8' },
    ]);
  });

  it('names each bad line: missing, empty, non-scalar and extra attributes', async () => {
    const path = await keysFile('bad.jsonl', [
      '{"tenant_id":"t1"}',
      '{"tenant_id":"","order_no":1,"note":"x"}',
      '{"tenant_id":"t1","order_no":{"n":1}}',
      'nope',
    ]);
    const e = await readKeysFile(path, orders).catch((x: Error) => x);
    expect((e as Error).message.split('\n')).toEqual([
      `--keys ${path} line 1: orders keys are tenant_id, order_no (non-empty strings or numbers); missing or not a string or number: order_no`,
      `--keys ${path} line 2: orders keys are tenant_id, order_no (non-empty strings or numbers); missing or not a string or number: tenant_id; not a key attribute: note`,
      `--keys ${path} line 3: orders keys are tenant_id, order_no (non-empty strings or numbers); missing or not a string or number: order_no`,
      `--keys ${path} line 4: not JSON`,
    ]);
  });
});
