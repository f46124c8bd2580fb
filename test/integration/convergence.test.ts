// The convergence argument end to end on the real local services: legacy sessions, `run`
// (consumer + worker) going, an application inserting, updating, rewriting and deleting while
// `backfill` scans → no lost update, no resurrected item, every derived field right.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoStateStore, ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { heartbeatProbe } from '../../lib/adapters/consumer-probe.ts';
import {
  CONSUMER_HEARTBEAT,
  LOCAL_REDELIVERY,
  SCANNER_MAX_ATTEMPTS,
  consumerHeartbeatId,
} from '../../lib/config/defaults.ts';
import type { Item } from '../../lib/core/types.ts';
import { runBackfill } from '../../lib/engine/backfill.ts';
import { bundledPlanner } from '../../lib/engine/bundled-config.ts';
import { continuityBreak } from '../../lib/core/backfill-run.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { isConverged, verifyAll } from '../../lib/engine/verify.ts';
import { AppSimulator, type AppWriteKind } from '../../local/app-simulator.ts';
import { legacySessions, legacyUsers } from '../../local/legacy-data.ts';
import { ensurePikaTables, putItems } from '../../local/pika-tables.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';
import { scanAll } from '../support/work-queue.ts';
import { PIKA } from '../support/pika.ts';

/**
 * Legacy sessions seeded before the backfill (issue 8 asks for 50,000): about 125 s here (seed
 * 26 s, backfill scan 10 s, converged 80 s after the seed). The argument does not depend on N.
 */
const ITEMS = 50_000;
const USERS = 500;
/** What the migrations derive; everything else on a session belongs to the application. */
const DERIVED = ['chat_app_sk', 'user_type'] as const;

useLocalServices('converge');
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
// DynamoDB only: the search index would double the run on this machine (see the file header).
delete process.env.SEARCH_ENDPOINT;

const quiet = { info: () => {}, warn: () => {}, error: () => {} };
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

/** The application-owned view of a stored session (derived attributes dropped). */
function appView(stored: Item, written: Item): Item {
  const out: Item = { ...stored };
  for (const a of DERIVED) delete out[a];
  // An item the application wrote without `source` gets the default: derived, not the app's.
  if (written.source === undefined && out.source === 'user') delete out.source;
  return out;
}

describe('convergence under live writes (issue 8, item 6)', () => {
  it(`${ITEMS} legacy sessions + concurrent inserts, updates, puts and deletes: 0 lost updates, 0 resurrected, verify 0 pending`, async () => {
    const t0 = performance.now();
    const p = uniqueName('converge');
    const tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
    await ensurePikaTables(clients.dynamodb, tables);
    await putItems(clients.doc, tables.user, legacyUsers({ users: USERS, seed: 81 }));
    const legacy = legacySessions({
      sessions: ITEMS,
      users: USERS,
      seed: 82,
      migratedFraction: 0.2,
    });
    await putItems(clients.doc, tables.session, legacy);
    const seededMs = performance.now() - t0;

    const stateTable = `${p}-state`;
    await ensureStateTable(clients.dynamodb, stateTable);
    const state = new DynamoStateStore(clients.doc, stateTable);
    const runner = await startLocalRunner({
      stateStore: state,
      deps: engineDeps(clients, { tables, searchIndex: `${p}-idx` }),
      ...{ clients, tables, queueName: `${p}-work`, dlqName: `${p}-dlq` },
      // The seed is history: the backfill's job, not the stream's.
      startingPosition: 'LATEST',
      // At least once, as on AWS: some deliveries are made twice on purpose.
      redelivery: LOCAL_REDELIVERY,
      // CDK's maximum: ten batches of the shard in flight, in order per item only.
      parallelizationFactor: 10,
      handlerLogLevel: 'SILENT',
      logger: quiet,
    });

    // The old application acts on the legacy sessions too (it knows nothing of the derived
    // attributes), so its writes race the scanner, the worker and the consumer.
    const app = new AppSimulator({
      doc: clients.doc,
      sessionTable: tables.session,
      users: USERS,
      seed: 83,
      idPrefix: 'live',
    });
    for (const s of legacy) {
      const owned = { ...s };
      for (const a of DERIVED) delete owned[a];
      app.live.set(s.session_id as string, owned);
    }
    let stopping = false;
    const writing = (async () => {
      while (!stopping) await app.step();
    })();

    let backfillMs = 0;
    let convergedMs = 0;
    let summary: Awaited<ReturnType<typeof runBackfill>>;
    try {
      const b0 = performance.now();
      summary = await runBackfill(
        { table: 'session', tableName: tables.session, searchEnabled: false },
        {
          planner: bundledPlanner(),
          doc: scanner.doc,
          dynamodb: scanner.dynamodb,
          sqs: scanner.sqs,
          queueUrl: runner.queues.work,
          state,
          consumer: heartbeatProbe(state, consumerHeartbeatId(tables.session), {
            staleMs: CONSUMER_HEARTBEAT.staleAfterMs,
          }),
          // The runner pins LATEST seconds after it started (as AWS may): the canary proves
          // the consumer reads before the first page.
          canary: {
            doc: scanner.doc,
            table: bundledPlanner().table('session'),
            tableName: tables.session,
            state,
          },
          // As the CLI: writes made before the consumer read are lost, so this first pass
          // under the consumer runs without the filter (a migrated item may be stale).
          continuity: async (lastRun) =>
            continuityBreak(
              await state.getHeartbeat(consumerHeartbeatId(tables.session)),
              lastRun,
              Date.now(),
            ),
        },
      );
      backfillMs = performance.now() - b0;
      // Writes keep racing the worker until the queue is drained.
      await runner.worker?.waitForIdle(600_000);
    } finally {
      stopping = true;
      await writing;
    }
    try {
      await runner.waitForIdle(600_000);
      convergedMs = performance.now() - t0 - seededMs;
    } finally {
      await runner.stop();
    }
    expect(summary.outcome).toBe('finished');

    const kinds = new Map<AppWriteKind, number>();
    for (const w of app.writes) kinds.set(w.kind, (kinds.get(w.kind) ?? 0) + 1);
    const deleted = new Set(
      app.writes.filter((w) => w.kind === 'delete').map((w) => w.key.session_id),
    );
    const touchedLegacy = new Set(
      app.writes.filter((w) => w.key.session_id.startsWith('sess-')).map((w) => w.key.session_id),
    );
    const c = runner.counts();
    console.log(
      `convergence: ${ITEMS} legacy sessions seeded in ${Math.round(seededMs)} ms; ` +
        `${app.writes.length} application writes (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')}; ` +
        `${touchedLegacy.size} legacy sessions touched); backfill scanned ${summary.scanned}, enqueued ${summary.enqueued} ` +
        `in ${Math.round(backfillMs)} ms; converged ${Math.round(convergedMs)} ms after the seed; ` +
        `worker items ${c.workerItems}, migrated ${c.migrated}, conflicts ${c.conflicts}, stream records ${c.streamRecords}`,
    );
    // The race really happened: every kind of write, on legacy and live sessions alike.
    for (const k of ['insert', 'chat_app_id', 'last_update', 'source', 'put', 'delete'] as const)
      expect(kinds.get(k) ?? 0, k).toBeGreaterThan(0);
    expect(touchedLegacy.size).toBeGreaterThan(0);

    const stored = new Map(
      (await scanAll(clients.doc, tables.session)).map((i) => [i.session_id as string, i]),
    );
    const resurrected = [...deleted].filter((id) => stored.has(id));
    expect(resurrected).toEqual([]);
    const lost: { id: string; app: Item; stored: Item | undefined }[] = [];
    for (const [id, written] of app.live) {
      const now = stored.get(id);
      if (!now || JSON.stringify(sorted(appView(now, written))) !== JSON.stringify(sorted(written)))
        lost.push({ id, app: written, stored: now });
    }
    expect(lost.slice(0, 5)).toEqual([]);
    expect(lost.length).toBe(0);
    expect(stored.size).toBe(app.live.size);

    const report = await verifyAll({ planner: PIKA, doc: clients.doc, tables });
    expect(report.samples).toEqual([]);
    expect(report).toMatchObject({ checked: app.live.size, pending: 0, malformed: 0 });
    expect(isConverged(report)).toBe(true);
    expect(c.parked + c.onFailure).toBe(0);
  }, 900_000);
});

function sorted(item: Item): Item {
  return Object.fromEntries(Object.entries(item).sort(([a], [b]) => a.localeCompare(b)));
}
