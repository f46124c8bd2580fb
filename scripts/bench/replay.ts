// What starting the stream consumer at TRIM_HORIZON instead of LATEST costs: the consumer first
// replays every record the stream still holds (up to 24 h of them). This writes `--records`
// application changes to sessions that are already migrated (the common case on a live table:
// each record plans to nothing), then starts the consumer at TRIM_HORIZON and measures how long
// it takes to catch up and how many DynamoDB writes the replay made.
//
//   eval "$(npx streamfill services up)"; npx tsx scripts/bench/replay.ts --records 20000 [--items 2000]
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { randomBytes } from 'node:crypto';
import { destroyClients, makeClients } from '../../lib/adapters/clients.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import { legacySessions, legacyUsers } from '../../local/legacy-data.ts';
import { ensurePikaTables, putItems } from '../../local/pika-tables.ts';
import { startLocalRunner } from '../../local/runner.ts';
import { benchRunnerOptions } from './runner-options.ts';
import { mapLimit } from '../../lib/core/concurrency.ts';
import { migrateItems } from '../../lib/engine/migrate-items.ts';
import type { Item } from '../../lib/core/types.ts';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be an integer >= 1`);
  return v;
};

async function main(): Promise<void> {
  const records = arg('records', 20_000);
  const items = arg('items', 2_000);
  if (!process.env.AWS_ENDPOINT_URL_DYNAMODB)
    throw new Error('set the local endpoints first: eval "$(npx streamfill services up)"');
  const clients = makeClients({ searchEndpoint: undefined });
  const p = `replay-${randomBytes(3).toString('hex')}`;
  const tables = { session: `${p}-session`, user: `${p}-user`, tag: `${p}-tag` };
  try {
    await ensurePikaTables(clients.dynamodb, tables);
    await putItems(clients.doc, tables.user, legacyUsers({ users: 50, seed: 1 }));
    const sessions = legacySessions({ sessions: items, users: 50, seed: 2, migratedFraction: 0 });
    await putItems(clients.doc, tables.session, sessions);
    const deps = { ...engineDeps(clients, { tables, searchIndex: 'unused' }), search: undefined };
    // Migrated first (as a live table is), so the replayed records plan to nothing.
    await migrateItems('session', sessions, deps);
    let n = 0;
    const t0 = performance.now();
    await mapLimit(
      Array.from({ length: records }, (_, i) => i),
      16,
      async (i) => {
        const s = sessions[i % items] as Item;
        await clients.doc.send(
          new UpdateCommand({
            TableName: tables.session,
            Key: { user_id: s.user_id, session_id: s.session_id },
            UpdateExpression: 'SET title = :t',
            ExpressionAttributeValues: { ':t': `title ${i}` },
          }),
        );
        n++;
      },
    );
    const writeS = (performance.now() - t0) / 1000;
    console.log(`wrote ${n} application changes in ${writeS.toFixed(1)} s`);
    let writes = 0;
    const r0 = performance.now();
    const runner = await startLocalRunner({
      ...benchRunnerOptions({ clients, deps, tables, prefix: p }),
      startingPosition: 'TRIM_HORIZON',
      onResults: (results) => {
        for (const r of results.values()) if (r.outcome === 'migrated') writes++;
      },
    });
    await runner.waitForIdle(1_800_000);
    const replayS = (performance.now() - r0) / 1000;
    const stats = runner.stats();
    await runner.stop();
    console.log(
      JSON.stringify(
        {
          stream_records: stats.recordsProcessed,
          replay_seconds: Number(replayS.toFixed(1)),
          records_per_second: Math.round(stats.recordsProcessed / replayS),
          dynamodb_writes: writes,
        },
        null,
        2,
      ),
    );
  } finally {
    destroyClients(clients);
  }
}

await main();
