// Shared fixture of the backfill scanner tests: Pika tables with legacy and migrated sessions,
// a fresh work queue and state table, and a reader that takes everything off the queue.
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Clients } from '../../lib/adapters/clients.ts';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { ensureQueues } from '../../lib/adapters/queues.ts';
import { consumerHeartbeatId } from '../../lib/config/defaults.ts';
import { decodeWorkMessage } from '../../lib/core/work-message.ts';
import type { Item } from '../../lib/core/types.ts';
import { ensurePikaTables, putItems } from '../../local/pika-tables.ts';
import { uniqueName } from './env.ts';

export interface BackfillFixture {
  tables: { session: string; user: string; tag: string };
  stateTable: string;
  queueName: string;
  dlqName: string;
  queueUrl: string;
  state: DynamoStateStore;
  /** `user_id|session_id` of every session the scanner enqueues: all of them (none settled). */
  pending: Set<string>;
  all: Item[];
}

/** The CLI flags that aim a command at the fixture's tables, queues and state table. */
export const fixtureFlags = (f: BackfillFixture): string[] => [
  '--session-table',
  f.tables.session,
  '--user-table',
  f.tables.user,
  '--tag-table',
  f.tables.tag,
  '--queue-name',
  f.queueName,
  '--dlq-name',
  f.dlqName,
  '--state-table',
  f.stateTable,
];

export const sessionId = (i: Item | Record<string, unknown>): string =>
  `${i.user_id as string}|${i.session_id as string}`;

/**
 * `n` sessions of 20 users; every `migratedEvery`-th one already migrated (source,
 * chat_app_sk, user_type present). Users u0..u9 exist in the user table with a type.
 */
export async function backfillFixture(
  clients: Clients,
  name: string,
  n: number,
  migratedEvery = 4,
): Promise<BackfillFixture> {
  const p = uniqueName(name);
  const tables = { session: `${p}-s`, user: `${p}-u`, tag: `${p}-t` };
  await ensurePikaTables(clients.dynamodb, tables);
  const all: Item[] = Array.from({ length: n }, (_, i) => {
    const migrated = i % migratedEvery === 0;
    return {
      user_id: `u${i % 20}`,
      session_id: `s-${String(i).padStart(5, '0')}`,
      chat_app_id: 'weather',
      last_update: `2025-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`,
      title: `session ${i}`,
      ...(migrated && {
        source: 'user',
        chat_app_sk: 'weather#user#x',
        user_type: 'internal-user',
      }),
    };
  });
  await putItems(clients.doc, tables.session, all);
  await putItems(
    clients.doc,
    tables.user,
    Array.from({ length: 10 }, (_, i) => ({ user_id: `u${i}`, user_type: 'internal-user' })),
  );
  const stateTable = `${p}-state`;
  await ensureStateTable(clients.dynamodb, stateTable);
  const queueName = `${p}-work`;
  const dlqName = `${p}-dlq`;
  const { work } = await ensureQueues(clients.sqs, { queueName, dlqName });
  return {
    tables,
    stateTable,
    queueName,
    dlqName,
    queueUrl: work,
    state: new DynamoStateStore(clients.doc, stateTable),
    // The "migrated" sessions carry a stale chat_app_sk: the planner filter
    // (lib/core/backfill-filter.ts) plans them as pending, so every item is enqueued.
    pending: new Set(all.map(sessionId)),
    all,
  };
}

/**
 * A fresh, caught-up heartbeat of the consumer of `table` (what `streamfill run` writes). By
 * default dated a few minutes ahead: `run` would refresh it every 2 s, and a CLI child that
 * starts slowly on a loaded machine must not find a one-off heartbeat stale.
 */
export async function freshHeartbeat(
  f: BackfillFixture,
  atMs = Date.now() + 5 * 60_000,
): Promise<void> {
  await f.state.putHeartbeat({
    component: consumerHeartbeatId(f.tables.session),
    lastBatchAtMs: atMs,
    lagMs: 0,
    caughtUp: true,
    updatedAtMs: atMs,
  });
}

/**
 * Every item key carried by the queue's messages (duplicates kept), taking the messages off
 * it (long visibility: none comes back during the test). Stops after two empty receives.
 */
export async function drainQueueKeys(
  sqs: SQSClient,
  QueueUrl: string,
): Promise<{ keys: string[]; messages: number; kinds: string[] }> {
  const keys: string[] = [];
  const kinds: string[] = [];
  let messages = 0;
  for (let empty = 0; empty < 2;) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 600,
      }),
    );
    const got = r.Messages ?? [];
    if (!got.length) {
      empty++;
      continue;
    }
    empty = 0;
    for (const m of got) {
      messages++;
      const msg = decodeWorkMessage(m.Body ?? '');
      kinds.push(msg.kind);
      if (msg.kind === 'items') for (const it of msg.items) keys.push(sessionId(it.key));
    }
  }
  return { keys, messages, kinds };
}
