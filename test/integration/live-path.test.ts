// Issue 13: a live path for every migrated table, on the real local services. The tag table's
// stream is read by the consumer of `streamfill run` (here its library form), so a tag the app
// writes after the tag scan finished is migrated and plain `verify` covers it; an app update
// racing the worker wins; a tag table without a stream is refused by `backfill` unless
// `--one-shot`, which warns.
import { CreateTableCommand, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillWorker } from '../../handlers/backfill-worker.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import type { Item } from '../../lib/core/types.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import type { WorkBatchSummary } from '../../lib/engine/work-batch.ts';
import { createLambdaContext } from '../../local/event-source/lambda-context.ts';
import { legacyTags } from '../../local/legacy-data.ts';
import { putItems } from '../../local/pika-tables.ts';
import { startLocalRunner, type LocalRunner } from '../../local/runner.ts';
import {
  backfillFixture,
  fixtureFlags,
  type BackfillFixture,
} from '../support/backfill-fixture.ts';
import { runCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { sqsEvent, takeAllMessages } from '../support/work-queue.ts';

useLocalServices('livepath');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
let clients: Clients;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  // No search: these are tag tests (the session index is not involved).
  clients = makeClients({ searchEndpoint: undefined });
  env = { ...process.env, CI: '1' };
  delete env.SEARCH_ENDPOINT;
});
afterAll(() => destroyClients(clients));

/** `streamfill run` in library form on the fixture: consumer on every stream, worker optional. */
const tagDeps = (f: BackfillFixture) => {
  const { search: _none, ...deps } = engineDeps(clients, {
    tables: f.tables,
    searchIndex: 'unused',
  });
  return deps;
};
const run = (f: BackfillFixture, worker = true): Promise<LocalRunner> =>
  startLocalRunner({
    clients,
    deps: tagDeps(f),
    tables: f.tables,
    queueName: f.queueName,
    dlqName: f.dlqName,
    stateStore: f.state,
    // History is the backfill's: the consumer reads from now on, as deployed.
    startingPosition: 'LATEST',
    worker,
    handlerLogLevel: 'SILENT',
    logger: quiet,
  });

const getTag = async (f: BackfillFixture, scope: string, tag: string): Promise<Item | undefined> =>
  (
    await clients.doc.send(
      new GetCommand({ TableName: f.tables.tag, Key: { scope, tag }, ConsistentRead: true }),
    )
  ).Item;

describe('the tag table has a live path', () => {
  it('a tag the app writes after the tag scan finished is migrated by the stream consumer; plain verify reports it at 0 pending', async () => {
    const f = await backfillFixture(clients, 'livetag', 0);
    const tags = legacyTags();
    await putItems(clients.doc, f.tables.tag, tags);
    const runner = await run(f);
    try {
      // backfill waits for the tag table's own consumer (heartbeat and canary), then scans.
      const scan = await runCli(['backfill', '--table', 'tag', ...fixtureFlags(f)], env);
      expect(scan.code, scan.stderr).toBe(0);
      expect(scan.stdout).toMatch(new RegExp(`enqueued ${tags.length} in`));
      await runner.waitForIdle(60_000);

      // The scan is over: only the live path can migrate this one.
      await clients.doc.send(
        new PutCommand({
          TableName: f.tables.tag,
          Item: { scope: 'chat-app', tag: 'written-late', chat_app_id: 'weather' },
        }),
      );
      await runner.waitForIdle(60_000);
      expect(await getTag(f, 'chat-app', 'written-late')).toMatchObject({
        usage_mode: 'chat-app',
        chat_app_id: 'weather', // the expand step keeps it (the contract is opt-in)
      });
      expect(runner.streams.has('tag')).toBe(true);
    } finally {
      await runner.stop();
    }
    const verify = await runCli(['verify', '--json', ...fixtureFlags(f).slice(0, -2)], env);
    expect(verify.code, verify.stdout).toBe(0);
    expect(JSON.parse(verify.stdout).tables.tag).toMatchObject({
      checked: tags.length + 1,
      pending: 0,
      malformed: 0,
    });
  });

  it('a tag updated by the app between the scan and the worker write: the app wins, a conflict is counted, converged after', async () => {
    const f = await backfillFixture(clients, 'tagrace', 0);
    const tags = legacyTags();
    await putItems(clients.doc, f.tables.tag, tags);
    // A tag the expand step would give 'chat-app'.
    const raced = tags.find((t) => t.scope !== 'pika') as Item;
    const runner = await run(f, false);
    try {
      const scan = await runCli(['backfill', '--table', 'tag', ...fixtureFlags(f)], env);
      expect(scan.code, scan.stderr).toBe(0);
      // The app sets the value itself after the scanner read the item, before the worker writes.
      await clients.doc.send(
        new PutCommand({ TableName: f.tables.tag, Item: { ...raced, usage_mode: 'global' } }),
      );
      let summary: WorkBatchSummary | undefined;
      const worker = createBackfillWorker({
        deps: tagDeps(f),
        deadLetters: new DeadLetters(clients.sqs, f.queueUrl.replace(f.queueName, f.dlqName)),
        logger: new Logger({ logLevel: 'SILENT' }),
        onResults: (s) => {
          summary = s;
        },
      });
      const bodies = await takeAllMessages(clients.sqs, f.queueUrl);
      const res = await worker(sqsEvent(bodies), createLambdaContext({ functionName: 'w' }));
      expect(res.batchItemFailures).toEqual([]);
      const outcomes = summary?.items.map((r) => r.outcome) ?? [];
      expect(outcomes.filter((o) => o === 'conflict')).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'migrated')).toHaveLength(tags.length - 1);
      await runner.waitForIdle(60_000);
    } finally {
      await runner.stop();
    }
    expect(await getTag(f, raced.scope as string, raced.tag as string)).toMatchObject({
      usage_mode: 'global',
    });
    const verify = await runCli(['verify', '--json', ...fixtureFlags(f).slice(0, -2)], env);
    expect(verify.code, verify.stdout).toBe(0);
    expect(JSON.parse(verify.stdout).tables.tag).toMatchObject({
      checked: tags.length,
      pending: 0,
    });
  });
});

describe('a migrated table without a live path', () => {
  it('backfill refuses a tag table without a stream, printing the command, before any side effect; --one-shot runs and warns', async () => {
    const f = await backfillFixture(clients, 'nostream', 0);
    const tagTable = uniqueName('nostream-tag');
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: tagTable,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'scope', AttributeType: 'S' },
          { AttributeName: 'tag', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'scope', KeyType: 'HASH' },
          { AttributeName: 'tag', KeyType: 'RANGE' },
        ],
      }),
    );
    await waitUntilTableExists(
      { client: clients.dynamodb, maxWaitTime: 60, minDelay: 1 },
      { TableName: tagTable },
    );
    const tags = legacyTags();
    await putItems(clients.doc, tagTable, tags);
    const flags = fixtureFlags(f).map((v) => (v === f.tables.tag ? tagTable : v));

    const refused = await runCli(['backfill', '--table', 'tag', ...flags], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `aws dynamodb update-table --table-name ${tagTable} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`,
    );
    expect(refused.stderr).toMatch(/pass --one-shot/);
    expect(await takeAllMessages(clients.sqs, f.queueUrl)).toEqual([]); // nothing enqueued
    expect(await f.state.getRun(tagTable)).toBeUndefined(); // no run started

    const once = await runCli(
      ['backfill', '--table', 'tag', '--one-shot', '--json', ...flags],
      env,
    );
    expect(once.code, once.stderr).toBe(0);
    const warning = `--one-shot: table ${tagTable} (tag) has no live path: later application writes to it are not migrated`;
    expect(once.stderr).toContain(warning);
    const summary = JSON.parse(once.stdout);
    expect(summary).toMatchObject({ outcome: 'finished', enqueued: tags.length });
    expect(summary.warnings).toEqual([expect.stringContaining(warning)]);
  });
});
