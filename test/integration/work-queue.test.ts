// Sending packed work messages to ElasticMQ: every item arrives exactly once, per-message
// delays hold search repairs back, a rejected entry fails loudly with its id and reason,
// and the queue depth includes in-flight and delayed messages.
import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { queueStats, sendMessages, WorkQueueSendError } from '../../lib/adapters/work-queue.ts';
import {
  decodeWorkMessage,
  packItems,
  packMessage,
  type WorkItem,
} from '../../lib/core/work-message.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('workqueue');

let clients: Clients;
beforeAll(() => {
  clients = makeClients();
});
afterAll(() => destroyClients(clients));

async function newQueue(): Promise<string> {
  const n = uniqueName('wq');
  return (await ensureQueues(clients.sqs, { queueName: n, dlqName: `${n}-dlq` })).work;
}

async function receiveAll(sqs: SQSClient, QueueUrl: string): Promise<string[]> {
  const bodies: string[] = [];
  for (let empty = 0; empty < 2;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const msgs = r.Messages ?? [];
    if (!msgs.length) {
      empty++;
      continue;
    }
    bodies.push(...msgs.map((m) => m.Body!));
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: msgs.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
  return bodies;
}

describe('work queue', () => {
  it('delivers every packed item exactly once, near-full messages included', async () => {
    const q = await newQueue();
    const items: WorkItem[] = Array.from({ length: 3_000 }, (_, i) => ({
      key: { user_id: `ü-${i % 50}`, session_id: `s-${i}` },
      inputs: {
        chat_app_id: 'wéather',
        last_update: `2025-01-01T00:00:00.${i}Z`,
        pad: '日'.repeat(100),
      },
    }));
    const packed = packItems('session', items, { runId: 'r1' });
    expect(packed.length).toBeGreaterThan(2);
    const res = await sendMessages(clients.sqs, q, packed);
    expect(res).toMatchObject({ sent: packed.length, retried: 0 });
    expect(await queueStats(clients.sqs, q)).toEqual({
      visible: packed.length,
      inFlight: 0,
      delayed: 0,
      backlog: packed.length,
    });
    const got = (await receiveAll(clients.sqs, q)).flatMap((b) => {
      const m = decodeWorkMessage(b);
      if (m.kind !== 'items') throw new Error(`unexpected ${m.kind}`);
      return m.items.map((i) => i.key.session_id);
    });
    expect(got.sort()).toEqual(items.map((i) => i.key.session_id).sort());
  });

  it('holds search repairs back with DelaySeconds and counts them as backlog', async () => {
    const q = await newQueue();
    const repair = packMessage({
      v: 1,
      kind: 'search-repair',
      docId: 's1',
      keywords: { source_keyword: 'user' },
      version: '2025-01-01T00:00:00Z',
      attempt: 1,
      reason: 'search returned 503',
    });
    await sendMessages(clients.sqs, q, [{ ...repair, delaySeconds: 120 }, repair]);
    expect(await queueStats(clients.sqs, q)).toEqual({
      visible: 1,
      inFlight: 0,
      delayed: 1,
      backlog: 2,
    });
    const r = await clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: q, MaxNumberOfMessages: 10, VisibilityTimeout: 60 }),
    );
    expect(r.Messages).toHaveLength(1);
    expect(await queueStats(clients.sqs, q)).toMatchObject({
      visible: 0,
      inFlight: 1,
      delayed: 1,
      backlog: 2,
    });
  });

  it('fails loudly, naming the entry and the reason, when SQS rejects a message', async () => {
    const q = await newQueue();
    const ok = packMessage({
      v: 1,
      kind: 'search-repair',
      docId: 'a',
      keywords: { k: 'v' },
      attempt: 1,
      reason: 'r',
    });
    // U+0001 is outside the characters SQS accepts in a body.
    const bad = { body: 'bad \u0001 body', bytes: 10 };
    const err = await sendMessages(clients.sqs, q, [ok, bad], { maxAttempts: 2 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(WorkQueueSendError);
    const e = err as WorkQueueSendError;
    expect(e.failures).toMatchObject([{ id: 'm1', senderFault: true }]);
    expect(e.message).toMatch(
      /^SendMessageBatch to .*: 1 message\(s\) not accepted after 1 attempt\(s\): m1: \S+ \(sender fault\)/,
    );
    // the good entry of the same batch was accepted
    expect((await queueStats(clients.sqs, q)).visible).toBe(1);
  });
});
