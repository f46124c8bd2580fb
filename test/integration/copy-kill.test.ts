// The Bedrock copy's historic path with its worker killed mid-batch: `streamfill run` (a child
// process) takes the V2 items from the work queue, is SIGKILLed while transactions are in
// flight, and the messages it held come back after their visibility timeout to a new worker.
// Each source's copy is one transaction, so nothing is half-written, and the end state passes
// the cut-over diff.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { sendMessages } from '../../lib/adapters/work-queue.ts';
import { packItems, workItemOf } from '../../lib/core/work-message.ts';
import { bedrockV2Data } from '../../local/bedrock-data.ts';
import { putItems } from '../../local/pika-tables.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { startCli } from '../support/cli.ts';
import { bedrockFixture, bedrockPlanner, V2 } from '../support/bedrock-fixture.ts';
import { useLocalServices } from '../support/env.ts';
import { drainParked, scanAll } from '../support/work-queue.ts';
import { expectCutoverClean } from '../support/cutover.ts';

useLocalServices('copy-kill');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';

const planner = bedrockPlanner;
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
let clients: Clients;
beforeAll(() => {
  clients = makeClients({ searchEndpoint: undefined });
});
afterAll(() => destroyClients(clients));

/** Items in the two V3 tables now. */
async function copied(names: { v3Bot: string; v3Conversation: string }): Promise<number> {
  let n = 0;
  for (const TableName of [names.v3Bot, names.v3Conversation])
    n += (await clients.doc.send(new ScanCommand({ TableName, Select: 'COUNT' }))).Count ?? 0;
  return n;
}

it('a copy worker killed mid-batch: its messages come back and every source converges', async () => {
  const { names, tables, stateTable, deps } = await bedrockFixture(clients, 'ckill');
  const p = names.v2Conversation;
  const data = bedrockV2Data({ users: 60, seed: 5 });
  const sources = [...data.bots, ...data.aliases, ...data.conversations, ...data.relatedDocuments];
  await putItems(clients.doc, names.v2Conversation, sources);
  const queueNames = { queueName: `${p}-work`, dlqName: `${p}-dlq` };
  const queues = await ensureQueues(clients.sqs, queueNames, { visibilityTimeoutSeconds: 10 });

  // The work items as the scanner enqueues them: key and the copies' inputs.
  const projection = planner.projection(V2);
  const inputs = projection.filter((n) => n !== 'PK' && n !== 'SK');
  const work = (await scanAll(clients.doc, names.v2Conversation, projection)).map((i) =>
    workItemOf(planner.table(V2), i, inputs),
  );
  await sendMessages(clients.sqs, queues.work, packItems(V2, work, { maxItemsPerMessage: 25 }));

  const dir = mkdtempSync(join(tmpdir(), 'sf-ckill-'));
  const tableFlags = Object.entries(tables).flatMap(([d, t]) => ['--table-name', `${d}=${t}`]);
  const env = { ...process.env };
  delete env.SEARCH_ENDPOINT;
  const { child, done } = startCli(
    [
      'run',
      '--config',
      'test/fixtures/configs/bedrock-chat-v3.config.ts',
      ...tableFlags,
      '--queue-name',
      queueNames.queueName,
      '--dlq-name',
      queueNames.dlqName,
      '--state-table',
      stateTable,
      '--checkpoint-dir',
      join(dir, 'shards'),
      // LATEST: the seed is not copied by the stream; the worker alone does it.
      '--starting-position',
      'LATEST',
      '--worker-timeout',
      '10',
      '--work-queue-visibility',
      '10',
      '--worker-batch-size',
      '1',
      '--worker-concurrency',
      '2',
      '--stats-interval',
      '0',
    ],
    env,
  );
  let atKill = 0;
  while (atKill === 0) {
    atKill = await copied(names);
    if (child.exitCode !== null) throw new Error(`run exited early: ${(await done).stderr}`);
  }
  child.kill('SIGKILL');
  await done;

  const runner = await startLocalRunner({
    clients,
    deps,
    tables,
    queueName: queueNames.queueName,
    dlqName: queueNames.dlqName,
    startingPosition: 'LATEST',
    workerFunctionTimeoutMs: 10_000,
    workQueueVisibilitySeconds: 10,
    workerBatchSize: 1,
    logger: quiet,
    handlerLogLevel: 'SILENT',
  });
  try {
    await runner.waitForIdle(120_000);
    expect(runner.workerStats()?.redeliveries).toBeGreaterThan(0);
    expect(runner.counts().onFailure).toBe(0);
  } finally {
    await runner.stop();
  }
  const total = await copied(names);
  expect(atKill).toBeLessThan(total); // killed mid-run
  expect(await drainParked(clients.sqs, queues.dlq)).toHaveLength(0);
  await expectCutoverClean(clients, { tables, planner, stateTable });
}, 240_000);
