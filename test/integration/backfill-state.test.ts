// The backfill state stores on real storage: DynamoDB Local for the state table, the file
// system for --checkpoint-file. One contract, run against both.
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DynamoStateStore,
  ensureStateTable,
  FileStateStore,
  type BackfillStateStore,
} from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import type { RunRecord, SegmentCheckpoint } from '../../lib/core/backfill-run.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('backfillstate');

let clients: Clients;
let dir: string;
beforeAll(async () => {
  clients = makeClients();
  dir = await mkdtemp(join(tmpdir(), 'streamfill-state-'));
});
afterAll(async () => {
  destroyClients(clients);
  await rm(dir, { recursive: true, force: true });
});

const NOW = Date.now();
const run = (runId: string, over: Partial<RunRecord> = {}): RunRecord => ({
  runId,
  table: 'session',
  tableName: 'chat-session-local',
  totalSegments: 4,
  startedAtMs: NOW,
  updatedAtMs: NOW,
  status: 'running',
  pauseRequested: false,
  owner: 'scanner-a',
  options: { segments: 4, rate: null, dryRun: false },
  ...over,
});
const cp = (runId: string, segment: number, scanned: number): SegmentCheckpoint => ({
  runId,
  segment,
  lastEvaluatedKey: { user_id: `u${scanned}`, session_id: `s${scanned}` },
  counts: { scanned, enqueued: scanned - 1, skipped: 1, done: false },
  updatedAtMs: NOW + scanned,
});

const stores: [string, () => Promise<BackfillStateStore>][] = [
  [
    'DynamoDB state table',
    async () => {
      const name = uniqueName('state');
      await ensureStateTable(clients.dynamodb, name);
      await ensureStateTable(clients.dynamodb, name); // idempotent
      return new DynamoStateStore(clients.doc, name);
    },
  ],
  ['checkpoint file', async () => new FileStateStore(join(dir, uniqueName('f'), 'state.json'))],
];

describe.each(stores)('%s', (_name, make) => {
  let store: BackfillStateStore;
  beforeAll(async () => {
    store = await make();
  });

  it('records a run and its segment checkpoints', async () => {
    expect(await store.getRun('chat-session-local')).toBeUndefined();
    await store.startRun(run('r1'));
    expect(await store.getRun('chat-session-local')).toEqual(run('r1'));
    await store.saveCheckpoint('chat-session-local', 'scanner-a', cp('r1', 2, 10));
    await store.saveCheckpoint('chat-session-local', 'scanner-a', cp('r1', 0, 5));
    await store.saveCheckpoint('chat-session-local', 'scanner-a', cp('r1', 2, 20)); // overwrites
    const done = { ...cp('r1', 1, 7), counts: { scanned: 7, enqueued: 7, skipped: 0, done: true } };
    delete done.lastEvaluatedKey;
    await store.saveCheckpoint('chat-session-local', 'scanner-a', done);
    expect(await store.getCheckpoints('r1')).toEqual([cp('r1', 0, 5), done, cp('r1', 2, 20)]);
    expect(await store.getCheckpoints('other')).toEqual([]);
  });

  it('refuses a new run over an unfinished one unless told', async () => {
    await expect(store.startRun(run('r2'))).rejects.toThrow(
      /run r1 .* has not finished\. Continue it with `streamfill backfill --resume`/,
    );
    expect((await store.getRun('chat-session-local'))?.runId).toBe('r1');
  });

  it('lets only one scanner own a run: a claim moves ownership, the old owner gets a clear error', async () => {
    await expect(
      store.saveCheckpoint('chat-session-local', 'scanner-b', cp('r1', 3, 1)),
    ).rejects.toThrow(
      'backfill of chat-session-local: scanner scanner-b no longer owns run r1 (scanner scanner-a owns it now); it stops without writing',
    );
    const claimed = await store.claimRun('chat-session-local', 'r1', 'scanner-b', 'scanner-a');
    expect(claimed.owner).toBe('scanner-b');
    // A second resume that read the old owner loses the race.
    await expect(
      store.claimRun('chat-session-local', 'r1', 'scanner-c', 'scanner-a'),
    ).rejects.toThrow(/scanner scanner-a no longer owns run r1 \(scanner scanner-b owns it now\)/);
    await expect(
      store.saveCheckpoint('chat-session-local', 'scanner-a', cp('r1', 3, 2)),
    ).rejects.toThrow(/scanner scanner-a no longer owns run r1/);
    await store.saveCheckpoint('chat-session-local', 'scanner-b', cp('r1', 3, 3));
    expect((await store.getCheckpoints('r1')).map((c) => c.segment)).toEqual([0, 1, 2, 3]);
  });

  it('pauses and resumes without an owner; a restart replaces the run and fences its scanner', async () => {
    expect((await store.setPauseRequested('chat-session-local', true)).pauseRequested).toBe(true);
    expect((await store.getRun('chat-session-local'))?.pauseRequested).toBe(true);
    await store.setPauseRequested('chat-session-local', false);
    await store.startRun(run('r2', { owner: 'scanner-d' }), { restart: true });
    await expect(
      store.saveCheckpoint('chat-session-local', 'scanner-b', cp('r1', 0, 9)),
    ).rejects.toThrow(/no longer owns run r1 \(run r2 replaced it\)/);
    await expect(
      store.setStatus('chat-session-local', 'r2', 'scanner-b', 'finished'),
    ).rejects.toThrow(/scanner scanner-b no longer owns run r2/);
    await store.setStatus('chat-session-local', 'r2', 'scanner-d', 'finished');
    await expect(
      store.saveCheckpoint('chat-session-local', 'scanner-d', cp('r2', 0, 1)),
    ).rejects.toThrow(/\(it is finished\)/);
    await expect(store.setPauseRequested('chat-session-local', true)).rejects.toThrow(
      'backfill of chat-session-local: no unfinished run to pause',
    );
    await store.startRun(run('r3')); // after a finished run, no flag needed
    expect((await store.getRun('chat-session-local'))?.runId).toBe('r3');
  });

  it('stores the consumer heartbeat', async () => {
    expect(await store.getHeartbeat('stream-consumer')).toBeUndefined();
    const hb = {
      component: 'stream-consumer',
      lastBatchAtMs: NOW,
      lagMs: 1_200,
      caughtUp: true,
      updatedAtMs: NOW,
    };
    await store.putHeartbeat(hb);
    await store.putHeartbeat({ ...hb, lagMs: 300 });
    expect(await store.getHeartbeat('stream-consumer')).toEqual({ ...hb, lagMs: 300 });
  });
});

describe('checkpoint file', () => {
  it('is written atomically: concurrent writes leave valid JSON and no temp files', async () => {
    const path = join(dir, 'atomic', 'state.json');
    const store = new FileStateStore(path);
    await store.startRun(run('ra'));
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        store.saveCheckpoint('chat-session-local', 'scanner-a', cp('ra', i % 8, i + 1)),
      ),
    );
    const parsed = JSON.parse(await readFile(path, 'utf8'));
    expect(Object.keys(parsed.checkpoints.ra)).toHaveLength(8);
    expect(await readdir(join(dir, 'atomic'))).toEqual(['state.json']);
    // In-process writes are serialised in call order: the last write of each segment wins.
    expect((await store.getCheckpoints('ra')).map((c) => c.counts.scanned)).toEqual([
      33, 34, 35, 36, 37, 38, 39, 40,
    ]);
  });

  it('names a corrupt file', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{oops');
    await expect(new FileStateStore(path).getRun('t')).rejects.toThrow(
      /checkpoint file .*bad\.json is not valid JSON/,
    );
  });
});
