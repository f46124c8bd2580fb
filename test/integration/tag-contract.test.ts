// Issue 14 item 2 on the real local services: the tag contract step through the shipped path —
// `streamfill backfill --table tag [--contract]` (the CLI) → the work queue → the deployed
// backfill worker (default migrations, no contract of its own) — until
// `streamfill verify --tags --contract` reports 0 pending.
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBackfillWorker } from '../../handlers/backfill-worker.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { DeadLetters } from '../../lib/adapters/dead-letters.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { createLambdaContext } from '../../local/event-source/lambda-context.ts';
import { legacyTags } from '../../local/legacy-data.ts';
import { putItems } from '../../local/pika-tables.ts';
import { backfillFixture, fixtureFlags } from '../support/backfill-fixture.ts';
import { runCli } from '../support/cli.ts';
import { useLocalServices } from '../support/env.ts';
import { scanAll, sqsEvent, takeAllMessages } from '../support/work-queue.ts';

useLocalServices('tagcontract');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

let clients: Clients;
let env: NodeJS.ProcessEnv;
beforeAll(() => {
  clients = makeClients({ searchEndpoint: undefined });
  env = { ...process.env, CI: '1' };
  delete env.SEARCH_ENDPOINT;
});
afterAll(() => destroyClients(clients));

describe('item 2: the tag contract step through scanner → queue → worker', () => {
  it('item 2: backfill --contract carries chat_app_id to the worker, which removes it; verify --tags --contract reaches 0 pending', async () => {
    const f = await backfillFixture(clients, 'contract', 0);
    const tags = legacyTags();
    await putItems(clients.doc, f.tables.tag, tags);
    const withAppId = tags.filter((t) => t.chat_app_id !== undefined).length;
    expect(withAppId).toBeGreaterThan(0);
    // The deployed worker: default migrations (the contract step is not in its own set).
    const worker = createBackfillWorker({
      deps: engineDeps(clients, { tables: f.tables, searchIndex: 'unused' }),
      deadLetters: new DeadLetters(clients.sqs, f.queueUrl.replace(f.queueName, f.dlqName)),
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    const work = async (): Promise<void> => {
      const bodies = await takeAllMessages(clients.sqs, f.queueUrl);
      expect(bodies.length).toBeGreaterThan(0);
      const res = await worker(sqsEvent(bodies), createLambdaContext({ functionName: 'w' }));
      expect(res.batchItemFailures).toEqual([]);
    };
    const verify = (...extra: string[]) =>
      runCli(['verify', '--tags', '--json', ...extra, ...fixtureFlags(f).slice(0, -2)], env);

    // Expand first: usage_mode set, chat_app_id kept.
    const expand = await runCli(
      ['backfill', '--table', 'tag', '--no-wait-for-consumer', ...fixtureFlags(f)],
      env,
    );
    expect(expand.code, expand.stderr).toBe(0);
    await work();
    const expanded = JSON.parse((await verify()).stdout);
    expect(expanded.tables.tag).toMatchObject({
      pending: 0,
      phases: { 'tag-usage-mode': 0, 'tag-usage-mode-contract': withAppId },
    });
    expect((await verify('--contract')).code).toBe(1);

    // Contract: the expanded tags are not filtered out, chat_app_id travels, the worker removes it.
    const contract = await runCli(
      ['backfill', '--table', 'tag', '--contract', '--no-wait-for-consumer', ...fixtureFlags(f)],
      env,
    );
    expect(contract.code, contract.stderr).toBe(0);
    expect(contract.stdout).toMatch(/enqueued 16 in/);
    await work();
    const done = await verify('--contract');
    expect(done.code, done.stdout).toBe(0);
    expect(JSON.parse(done.stdout).tables.tag).toMatchObject({
      pending: 0,
      phases: { 'tag-usage-mode': 0, 'tag-usage-mode-contract': 0 },
    });
    for (const t of await scanAll(clients.doc, f.tables.tag)) {
      expect(t.chat_app_id).toBeUndefined();
      expect(t.usage_mode).toBeDefined();
    }
  });

  it('item 2: backfill --contract --distributed: the scan-segment tasks scan for the contract step too', async () => {
    const f = await backfillFixture(clients, 'contract-dist', 0);
    // Expanded tags (usage_mode set) that still carry chat_app_id.
    await putItems(
      clients.doc,
      f.tables.tag,
      legacyTags().map((t) => ({ ...t, usage_mode: 'chat-app' })),
    );
    const worker = createBackfillWorker({
      deps: engineDeps(clients, { tables: f.tables, searchIndex: 'unused' }),
      doc: clients.doc,
      workQueue: { sqs: clients.sqs, url: f.queueUrl },
      stateStore: f.state,
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    const started = await runCli(
      [
        'backfill',
        '--table',
        'tag',
        '--contract',
        '--distributed',
        // The tasks are worked below, by this test: return once they are enqueued.
        '--detach',
        '--segments',
        '2',
        // The tag table's stream consumer is not what this test is about (no app writes).
        '--no-wait-for-consumer',
        ...fixtureFlags(f),
      ],
      env,
    );
    expect(started.code, started.stderr).toBe(0);
    // The workers' loop: scan-segment pages, their items and continuations, until none is left.
    for (
      let bodies = await takeAllMessages(clients.sqs, f.queueUrl);
      bodies.length;
      bodies = await takeAllMessages(clients.sqs, f.queueUrl)
    ) {
      const res = await worker(sqsEvent(bodies), createLambdaContext({ functionName: 'w' }));
      expect(res.batchItemFailures).toEqual([]);
    }
    const done = await runCli(
      ['verify', '--tags', '--contract', '--json', ...fixtureFlags(f).slice(0, -2)],
      env,
    );
    expect(done.code, done.stdout).toBe(0);
    for (const t of await scanAll(clients.doc, f.tables.tag)) expect(t.chat_app_id).toBeUndefined();
  });
});
