// The segment scanner on DynamoDB Local: every item exactly once across segments, resumption
// from a mid-segment checkpoint, projection that leaves a 300 KB blob on the server, the
// already-migrated filter, consumed capacity, and the --user Query variant.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import {
  queryPartitionPage,
  scanSegment,
  scanSegmentPage,
  type ScanPage,
} from '../../lib/adapters/segment-scanner.ts';
import type { Item } from '../../lib/core/types.ts';
import { ensurePikaTables, putItems } from '../../local/pika-tables.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('segscanner');

const N = 1_200;
const BLOBS = 5;
const MIGRATED = 200;
const INPUTS = [
  'user_id',
  'session_id',
  'chat_app_id',
  'last_update',
  'source',
  'user_type',
  'invocation_mode',
  'exp_date_unix_seconds',
  'chat_app_sk',
];
const NOT_MIGRATED = { expression: 'attribute_not_exists(#m)', names: { '#m': 'chat_app_sk' } };

let clients: Clients;
let table: string;
const keyOf = (i: Item): string => `${i.user_id as string}|${i.session_id as string}`;

beforeAll(async () => {
  clients = makeClients();
  const p = uniqueName('scan');
  table = `${p}-session`;
  await ensurePikaTables(clients.dynamodb, { session: table, user: `${p}-user`, tag: `${p}-tag` });
  const items: Item[] = Array.from({ length: N }, (_, i) => ({
    user_id: `user-${i % 97}`,
    session_id: `s-${String(i).padStart(5, '0')}`,
    chat_app_id: 'weather',
    last_update: `2025-01-01T00:00:${String(i % 60).padStart(2, '0')}.000Z`,
    source: i % 3 ? 'user' : 'component',
    title: `session ${i}`,
    ...(i < MIGRATED && { chat_app_sk: `weather#user#x` }),
    ...(i >= N - BLOBS && { blob: 'x'.repeat(300_000) }),
  }));
  await putItems(clients.doc, table, items);
});

afterAll(() => destroyClients(clients));

async function drain(gen: AsyncGenerator<ScanPage>): Promise<ScanPage[]> {
  const out: ScanPage[] = [];
  for await (const p of gen) out.push(p);
  return out;
}

describe('segment scanner', () => {
  it('sees every item exactly once across 7 segments, projected to the inputs only', async () => {
    const seen: string[] = [];
    let scanned = 0;
    let capacity = 0;
    const segments = 7;
    for (let s = 0; s < segments; s++) {
      const pages = await drain(
        scanSegment(clients.doc, {
          tableName: table,
          segment: s,
          totalSegments: segments,
          projection: INPUTS,
          pageSize: 64,
        }),
      );
      for (const p of pages) {
        scanned += p.scannedCount;
        capacity += p.consumedCapacity;
        for (const item of p.items) {
          seen.push(keyOf(item));
          expect(item).not.toHaveProperty('blob');
          expect(item).not.toHaveProperty('title');
          for (const k of Object.keys(item)) expect(INPUTS).toContain(k);
        }
      }
      expect(pages.at(-1)?.lastEvaluatedKey).toBeUndefined();
    }
    expect(seen).toHaveLength(N);
    expect(new Set(seen).size).toBe(N);
    expect(scanned).toBe(N);
    expect(capacity).toBeGreaterThan(0);
  });

  it('resumes from a mid-segment checkpoint and sees the rest exactly once', async () => {
    const req = {
      tableName: table,
      segment: 1,
      totalSegments: 3,
      projection: INPUTS,
      pageSize: 50,
    };
    const full = (await drain(scanSegment(clients.doc, req))).flatMap((p) => p.items.map(keyOf));
    expect(full.length).toBeGreaterThan(150);
    const first = await scanSegmentPage(clients.doc, req);
    const second = await scanSegmentPage(clients.doc, {
      ...req,
      exclusiveStartKey: first.lastEvaluatedKey!,
    });
    // the checkpoint: the second page's last evaluated key, as a scanner killed after it saved it
    const checkpoint = JSON.parse(JSON.stringify(second.lastEvaluatedKey));
    const rest = (
      await drain(scanSegment(clients.doc, { ...req, exclusiveStartKey: checkpoint }))
    ).flatMap((p) => p.items.map(keyOf));
    const resumed = [...first.items.map(keyOf), ...second.items.map(keyOf), ...rest];
    expect(resumed).toEqual(full);
    expect(new Set(resumed).size).toBe(full.length);
  });

  it('skips already-migrated items with the filter while counting them as scanned', async () => {
    let scanned = 0;
    const kept: string[] = [];
    for (let s = 0; s < 2; s++) {
      for (const p of await drain(
        scanSegment(clients.doc, {
          tableName: table,
          segment: s,
          totalSegments: 2,
          projection: INPUTS,
          filter: NOT_MIGRATED,
          pageSize: 500,
        }),
      )) {
        scanned += p.scannedCount;
        kept.push(...p.items.map(keyOf));
        for (const item of p.items) expect(item).not.toHaveProperty('chat_app_sk');
      }
    }
    expect(scanned).toBe(N);
    expect(kept).toHaveLength(N - MIGRATED);
  });

  it('queries one partition (--user) page by page', async () => {
    const keys: string[] = [];
    let start: Record<string, unknown> | undefined;
    let pages = 0;
    do {
      const p = await queryPartitionPage(clients.doc, {
        tableName: table,
        partitionKey: { user_id: 'user-5' },
        projection: INPUTS,
        filter: NOT_MIGRATED,
        pageSize: 4,
        exclusiveStartKey: start,
      });
      keys.push(...p.items.map(keyOf));
      for (const item of p.items) expect(item.user_id).toBe('user-5');
      start = p.lastEvaluatedKey;
      pages++;
    } while (start);
    const expected = Array.from({ length: N }, (_, i) => i)
      .filter((i) => i % 97 === 5 && i >= MIGRATED)
      .map((i) => `user-5|s-${String(i).padStart(5, '0')}`);
    expect(keys).toEqual(expected);
    expect(pages).toBeGreaterThan(1);
  });

  it('rejects a segment outside the scan, naming it', async () => {
    await expect(
      scanSegmentPage(clients.doc, {
        tableName: table,
        segment: 4,
        totalSegments: 4,
        projection: INPUTS,
      }),
    ).rejects.toThrow('segment must be an integer in 0..3, got 4');
  });
});
