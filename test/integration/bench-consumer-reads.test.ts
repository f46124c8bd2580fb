// The benches run the consumer as it is deployed: at LATEST, pinned seconds after the start (as
// AWS may). A write before the pin is never delivered, so a bench starts writing only once a
// canary proves that the consumer reads; every write after that is delivered.
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { legacySessions, legacyUsers } from '../../local/legacy-data.ts';
import { ensurePikaTables, putItems } from '../../local/pika-tables.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { awaitConsumerReads } from '../../scripts/bench/consumer-reads.ts';
import { benchRunnerOptions } from '../../scripts/bench/runner-options.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { PIKA } from '../support/pika.ts';

useLocalServices('benchconsumerreads');

let clients: Clients;
beforeAll(() => {
  clients = makeClients();
});
afterAll(() => destroyClients(clients));

describe('bench runner: LATEST with the delayed pin', () => {
  it('a write before the canary is read is lost; after it, every write is delivered', async () => {
    const p = uniqueName('bench-reads');
    const tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
    await ensurePikaTables(clients.dynamodb, tables);
    await putItems(clients.doc, tables.user, legacyUsers({ users: 3, seed: 5 }));
    const sessions = legacySessions({ sessions: 2, users: 3, seed: 6, migratedFraction: 0 });
    await putItems(clients.doc, tables.session, sessions);
    await ensureStateTable(clients.dynamodb, `${p}-state`);
    const state = new DynamoStateStore(clients.doc, `${p}-state`);
    const deps = { ...engineDeps(clients, { tables, searchIndex: `${p}-idx` }), search: undefined };
    const delivered: string[] = [];
    const runner = await startLocalRunner({
      ...benchRunnerOptions({ clients, deps, tables, prefix: p }),
      stateStore: state,
      worker: false,
      onResults: (_results, event) => {
        for (const r of event.Records) delivered.push(String(r.dynamodb?.Keys?.session_id?.S));
      },
    });
    const touch = (i: number) =>
      clients.doc.send(
        new UpdateCommand({
          TableName: tables.session,
          Key: { user_id: sessions[i]!.user_id, session_id: sessions[i]!.session_id },
          UpdateExpression: 'SET last_update = :t',
          ExpressionAttributeValues: { ':t': '2026-12-05T09:00:00.000Z' },
        }),
      );
    try {
      await touch(0); // before the pin: never delivered, as on AWS
      const waited = await awaitConsumerReads(
        { doc: clients.doc, table: PIKA.table('session'), tableName: tables.session, state },
        clients.dynamodb,
      );
      expect(waited).toBeGreaterThan(1_000);
      await touch(1);
      await runner.waitForIdle(30_000);
      expect(delivered).toContain(String(sessions[1]!.session_id));
      expect(delivered).not.toContain(String(sessions[0]!.session_id));
    } finally {
      await runner.stop();
    }
  });
});
