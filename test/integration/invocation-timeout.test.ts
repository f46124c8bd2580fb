// A timed-out invocation is stopped, as on AWS: the local mappings run each invocation fenced, so
// a handler still running after its deadline gets no request through to DynamoDB, SQS or
// OpenSearch (the runner fences its clients the same way).
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { queueStats } from '../../lib/adapters/work-queue.ts';
import { DynamoDBStreamMapping } from '../../local/event-source/dynamodb-stream-mapping.ts';
import { sleep } from '../../local/event-source/lambda-context.ts';
import { fenceLocalClients } from '../../local/runner.ts';
import { SqsMapping } from '../../local/event-source/sqs-mapping.ts';
import { ensurePikaTables, putItems, type PikaTableNames } from '../../local/pika-tables.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('invocation-timeout');

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined };
const TIMEOUT_MS = 300;

let clients: Clients;
let tables: PikaTableNames;
let queues: { work: string; dlq: string };

beforeAll(async () => {
  clients = makeClients({ searchEndpoint: process.env.SEARCH_ENDPOINT });
  fenceLocalClients(clients);
  const p = uniqueName('to');
  tables = { session: `${p}-s`, user: `${p}-u`, tag: `${p}-t` };
  await ensurePikaTables(clients.dynamodb, tables);
  queues = await ensureQueues(clients.sqs, { queueName: `${p}-work`, dlqName: `${p}-dlq` });
});

afterAll(() => destroyClients(clients));

const key = (sessionId: string) => ({ user_id: { S: 'u1' }, session_id: { S: sessionId } });

/**
 * What a handler still running after its deadline tries: an UpdateItem, an SQS send and an
 * OpenSearch index request (which would even create the index). Each outcome is recorded.
 */
async function lateWork(sessionId: string, index: string): Promise<string[]> {
  // Twice the timeout: the mapping's deadline timer, registered in the same tick, fires first.
  await sleep(TIMEOUT_MS * 2);
  const outcome = (p: Promise<unknown>) =>
    p.then(
      () => 'landed',
      (e: Error) => e.name,
    );
  return Promise.all([
    outcome(
      clients.dynamodb.send(
        new UpdateItemCommand({
          TableName: tables.session,
          Key: key(sessionId),
          UpdateExpression: 'SET late = :t',
          ExpressionAttributeValues: { ':t': { BOOL: true } },
        }),
      ),
    ),
    outcome(
      clients.sqs.send(new SendMessageCommand({ QueueUrl: queues.work, MessageBody: 'late' })),
    ),
    outcome(clients.search!.index({ index, id: sessionId, body: { late: true } })),
  ]);
}

async function expectNothingLanded(sessionId: string, index: string, outcomes: string[]) {
  expect(outcomes).toEqual([
    'InvocationStoppedError',
    'InvocationStoppedError',
    'InvocationStoppedError',
  ]);
  const item = await clients.dynamodb.send(
    new GetItemCommand({ TableName: tables.session, Key: key(sessionId), ConsistentRead: true }),
  );
  expect(item.Item).toBeDefined();
  expect(item.Item).not.toHaveProperty('late');
  expect((await queueStats(clients.sqs, queues.work)).backlog).toBe(0);
  expect((await clients.search!.indices.exists({ index })).body).toBe(false);
}

/** What the cases share of a mapping: run it until idle, then stop it. */
interface Mapping {
  start(): Promise<void>;
  waitForIdle(timeoutMs: number): Promise<unknown>;
  stop(): Promise<void>;
}

/**
 * Puts the session the late work aims at, then runs the mapping `mappingOf` builds around a
 * handler that, on its first invocation only, outlives its deadline doing `lateWork`; returns
 * the mapping (for its stats) and what the late work's requests came to.
 */
async function lateInvocation<M extends Mapping>(
  sessionId: string,
  index: string,
  mappingOf: (handler: () => Promise<void>) => M,
): Promise<{ mapping: M; outcomes: string[] }> {
  await putItems(clients.doc, tables.session, [
    { user_id: 'u1', session_id: sessionId, chat_app_id: 'a', last_update: '2024-01-01' },
  ]);
  let late: Promise<string[]> | undefined;
  const mapping = mappingOf(async () => {
    if (late) return;
    late = lateWork(sessionId, index);
    await late;
  });
  try {
    await mapping.start();
    await mapping.waitForIdle(30_000);
  } finally {
    await mapping.stop();
  }
  return { mapping, outcomes: await late! };
}

describe('a timed-out invocation is stopped', () => {
  it('stream mapping: nothing the handler tries after its deadline lands', async () => {
    const index = uniqueName('late-stream');
    const { mapping, outcomes } = await lateInvocation(
      's-stream',
      index,
      (handler) =>
        new DynamoDBStreamMapping({
          streams: clients.streams,
          dynamodb: clients.dynamodb,
          tableName: tables.session,
          functionTimeoutMs: TIMEOUT_MS,
          maximumRetryAttempts: 0,
          retryBackoffMs: 10,
          logger: quiet,
          handler,
        }),
    );
    expect(mapping.stats().failures).toBe(1);
    await expectNothingLanded('s-stream', index, outcomes);
  });

  it('SQS mapping: nothing the handler tries after its deadline lands', async () => {
    const index = uniqueName('late-sqs');
    const { work: input } = await ensureQueues(clients.sqs, {
      queueName: uniqueName('to-in'),
      dlqName: uniqueName('to-in-dlq'),
    });
    await clients.sqs.send(new SendMessageCommand({ QueueUrl: input, MessageBody: 'job' }));
    const { mapping, outcomes } = await lateInvocation(
      's-sqs',
      index,
      (handler) =>
        new SqsMapping({
          queueUrl: input,
          sqs: clients.sqs,
          functionTimeoutMs: TIMEOUT_MS,
          retryDelaySeconds: 0,
          logger: quiet,
          handler,
        }),
    );
    expect(mapping.stats().handlerErrors).toBe(1);
    await expectNothingLanded('s-sqs', index, outcomes);
  });
});
