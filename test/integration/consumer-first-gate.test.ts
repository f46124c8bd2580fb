// "Consumer first" needs proof, not Enabled. The local stream mapping pins a LATEST start some
// seconds after `start()` returned (as AWS may: its mappings are eventually consistent and
// "could miss events" at LATEST). A gate that trusts the consumer's own account (heartbeat /
// Enabled) lets the scan pass items whose writes the consumer then never sees; the canary gate
// waits until the consumer has read its canary, and everything converges.
import { QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { heartbeatProbe } from '../../lib/adapters/consumer-probe.ts';
import {
  CONSUMER_HEARTBEAT,
  SCANNER_MAX_ATTEMPTS,
  consumerHeartbeatId,
} from '../../lib/config/defaults.ts';
import { CANARY_PARTITION } from '../../lib/core/canary.ts';
import { runBackfill } from '../../lib/engine/backfill.ts';
import { bundledPlanner } from '../../lib/engine/bundled-config.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { verifyAll } from '../../lib/engine/verify.ts';
import { legacySessions, legacyUsers } from '../../local/legacy-data.ts';
import { ensurePikaTables, putItems, type PikaTableNames } from '../../local/pika-tables.ts';
import { startLocalRunner, type LocalRunner } from '../../local/runner.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { PIKA } from '../support/pika.ts';

useLocalServices('consumerfirst');

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
/** Long against the scan of 40 items and 6 writes (about a second), so they all fall inside. */
const PIN_DELAY_MS = 8_000;

let clients: Clients;
let scanner: Clients;
beforeAll(() => {
  clients = makeClients();
  scanner = makeClients({ maxAttempts: SCANNER_MAX_ATTEMPTS });
});
afterAll(() => {
  destroyClients(clients);
  destroyClients(scanner);
});

interface Stack {
  tables: PikaTableNames;
  state: DynamoStateStore;
  runner: LocalRunner;
  sessions: Record<string, unknown>[];
}

/** Legacy sessions, then the consumer + worker started at LATEST with the pin delayed. */
async function stack(name: string): Promise<Stack> {
  const p = uniqueName(name);
  const tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
  await ensurePikaTables(clients.dynamodb, tables);
  await putItems(clients.doc, tables.user, legacyUsers({ users: 5, seed: 91 }));
  const sessions = legacySessions({ sessions: 40, users: 5, seed: 92, migratedFraction: 0 });
  await putItems(clients.doc, tables.session, sessions);
  await ensureStateTable(clients.dynamodb, `${p}-state`);
  const state = new DynamoStateStore(clients.doc, `${p}-state`);
  const runner = await startLocalRunner({
    clients,
    deps: { ...engineDeps(clients, { tables, searchIndex: `${p}-idx` }), search: undefined },
    tables,
    queueName: `${p}-work`,
    dlqName: `${p}-dlq`,
    stateStore: state,
    startingPosition: 'LATEST',
    latestPositionDelayMs: PIN_DELAY_MS,
    handlerLogLevel: 'SILENT',
    logger: quiet,
  });
  return { tables, state, runner, sessions };
}

/** The application changes `last_update` of items the scan has already passed. */
async function appWrites(s: Stack, n: number): Promise<string[]> {
  const changed = s.sessions.slice(0, n);
  for (const item of changed) {
    await clients.doc.send(
      new UpdateCommand({
        TableName: s.tables.session,
        Key: { user_id: item.user_id, session_id: item.session_id },
        UpdateExpression: 'SET last_update = :t',
        ExpressionAttributeValues: { ':t': '2026-12-04T12:00:00.000Z' },
      }),
    );
  }
  return changed.map((i) => String(i.session_id));
}

function backfill(s: Stack, withCanary: boolean, onWait?: (reason: string) => void) {
  return runBackfill(
    {
      table: 'session',
      tableName: s.tables.session,
      searchEnabled: false,
      segments: 2,
      pollMs: 200,
    },
    {
      planner: bundledPlanner(),
      doc: scanner.doc,
      dynamodb: scanner.dynamodb,
      sqs: scanner.sqs,
      queueUrl: s.runner.queues.work,
      state: s.state,
      consumer: heartbeatProbe(s.state, consumerHeartbeatId(s.tables.session), {
        staleMs: CONSUMER_HEARTBEAT.staleAfterMs,
      }),
      ...(withCanary && {
        canary: {
          doc: scanner.doc,
          table: bundledPlanner().table('session'),
          tableName: s.tables.session,
          state: s.state,
        },
      }),
    },
    { ...(onWait && { onWait: (w) => onWait(w.reason) }) },
  );
}

describe('consumer first: proof that the consumer reads', () => {
  it('the old gate (heartbeat caught up, i.e. Enabled) lets the scan pass items whose writes the consumer never sees', async () => {
    const s = await stack('gate-old');
    try {
      const summary = await backfill(s, false);
      expect(summary.outcome).toBe('finished');
      const changed = await appWrites(s, 6);
      // The writes fell inside the window: no shard had its position yet.
      expect(s.runner.stats().shards.every((sh) => !sh.positioned)).toBe(true);
      await s.runner.waitForIdle(120_000);
      const report = await verifyAll({ planner: PIKA, doc: clients.doc, tables: s.tables });
      const pending = report.samples.map((x) => x.key).join('\n');
      // Every item the application changed in the window stays unmigrated for good.
      expect(report.pending).toBe(changed.length);
      for (const id of changed) expect(pending).toContain(id);
    } finally {
      await s.runner.stop();
    }
  });

  it('the canary gate starts the scan only once the consumer read the canary: the same writes converge', async () => {
    const s = await stack('gate-canary');
    try {
      const waits: string[] = [];
      const summary = await backfill(s, true, (r) => waits.push(r));
      expect(summary.outcome).toBe('finished');
      expect(
        waits.some((w) => w.startsWith('waiting for the stream consumer to read a canary item')),
      ).toBe(true);
      // The scan began after the pin: the consumer reads every write from here on.
      expect(s.runner.stats().shards.every((sh) => sh.positioned)).toBe(true);
      await appWrites(s, 6);
      await s.runner.waitForIdle(120_000);
      const report = await verifyAll({ planner: PIKA, doc: clients.doc, tables: s.tables });
      expect(report.pending).toBe(0);
      // The canary is neither left behind, nor migrated, nor counted.
      expect(report.checked).toBe(s.sessions.length);
      const canaries = (
        await clients.doc.send(
          new QueryCommand({
            TableName: s.tables.session,
            KeyConditionExpression: 'user_id = :c',
            ExpressionAttributeValues: { ':c': CANARY_PARTITION },
            ConsistentRead: true,
          }),
        )
      ).Items;
      expect(canaries).toEqual([]);
      expect(s.runner.counts().parked).toBe(0); // a canary planned as a session would be malformed
    } finally {
      await s.runner.stop();
    }
  });
});
