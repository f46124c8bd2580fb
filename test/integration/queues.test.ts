// ensureQueues on ElasticMQ: reusing a work queue name with another DLQ (issue 7 item 10).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { ensureQueues, QueueConflictError } from '../../lib/adapters/queues.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('queues');

let clients: Clients;
beforeAll(() => {
  clients = makeClients();
});
afterAll(() => destroyClients(clients));

describe('ensureQueues', () => {
  it('is idempotent with the same names', async () => {
    const names = { queueName: uniqueName('w'), dlqName: uniqueName('d') };
    const a = await ensureQueues(clients.sqs, names);
    expect(await ensureQueues(clients.sqs, names)).toEqual(a);
  });

  it('item 10: reusing --queue-name with another --dlq-name says the redrive policy differs and what to do', async () => {
    const queueName = uniqueName('t2-work');
    const first = uniqueName('dlq-a');
    await ensureQueues(clients.sqs, { queueName, dlqName: first });
    const second = uniqueName('dlq-b');
    const err = await ensureQueues(clients.sqs, { queueName, dlqName: second }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(QueueConflictError);
    const message = (err as Error).message;
    expect(message).toContain(
      `queue ${queueName} already exists with its redrive policy pointing at`,
    );
    expect(message).toContain(first);
    expect(message).toContain(`--dlq-name ${second}`);
    expect(message).toMatch(/another --queue-name|delete/);
  });
});
