// `streamfill demo --preset bedrock-chat-v3` on the real binary at a tiny size: V2 data seeded,
// the V2 application writing through the backfill, and the final check finding every V3 item
// equal to what its V2 source derives now (exit 0); Pika-only flags refused before anything runs.
// And the final check itself: it finds a missing, a stale, an extra and a foreign V3 item.
import { DeleteCommand, PutCommand, ScanCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { ensureStateTable } from '../../lib/adapters/backfill-state.ts';
import { destroyClients, makeClients } from '../../lib/adapters/clients.ts';
import { compilePlanner } from '../../lib/core/config/planner.ts';
import { resolveConfig } from '../../lib/core/config/resolve.ts';
import type { Item } from '../../lib/core/types.ts';
import { copyItems } from '../../lib/engine/copy-items.ts';
import { engineDeps } from '../../lib/engine/deps.ts';
import bedrock from '../../lib/presets/bedrock-chat-v3.ts';
import { seedBedrock } from '../../local/bedrock-seed.ts';
import { checkConverged, finalCheck } from '../../scripts/commands/demo-bedrock.ts';
import { runCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('bedrock-demo');

describe('demo --preset bedrock-chat-v3', () => {
  it('copies V2 into V3 under a V2 application and converges (exit 0)', async () => {
    const p = uniqueName('bedrock-demo');
    const out = await runCli([
      'demo',
      '--preset',
      'bedrock-chat-v3',
      '--users',
      '5',
      '--live-rate',
      '15',
      '--segments',
      '2',
      ...['--queue-name', `${p}-work`, '--dlq-name', `${p}-dlq`],
      ...['--table-name', `bedrock-v2-conversation=${p}-v2`],
      ...['--table-name', `bedrock-v3-conversation=${p}-v3c`],
      ...['--table-name', `bedrock-v3-bot=${p}-v3b`],
      '--json',
    ]);
    expect(out.code, out.stderr.slice(-3_000)).toBe(0);
    const r = JSON.parse(out.stdout) as {
      converged: boolean;
      seeded: { bots: number; aliases: number; aliasesWithoutOwner: number };
      writer: Record<string, number>;
      live: { workerMigrated: number; streamMigrated: number; parked: number };
      check: {
        sources: number;
        expected: Record<string, number>;
        matching: number;
        missing: number;
        stale: number;
        extra: number;
        skipped: { copy: string; reason: string }[];
      };
    };
    expect(r.converged).toBe(true);
    expect(r.seeded.bots).toBeGreaterThan(0);
    // The application wrote during the backfill, and both paths copied.
    expect(r.writer.requests).toBeGreaterThan(0);
    expect(r.live.workerMigrated).toBeGreaterThan(0);
    expect(r.live.streamMigrated).toBeGreaterThan(0);
    expect(r.check).toMatchObject({ missing: 0, stale: 0, extra: 0 });
    const expected = Object.values(r.check.expected).reduce((a, b) => a + b, 0);
    expect(r.check.matching).toBe(expected);
    expect(Object.keys(r.check.expected).sort()).toEqual([
      'bedrock-v3-aliases',
      'bedrock-v3-bots',
      'bedrock-v3-conversations',
      'bedrock-v3-related-documents',
    ]);
    // Aliases of unpublished or deleted bots are seeded: skipped, each with its reason.
    expect(r.seeded.aliasesWithoutOwner).toBeGreaterThan(0);
    expect(r.check.skipped.length).toBeGreaterThan(0);
    for (const s of r.check.skipped) {
      expect(s.copy).toBe('bedrock-v3-aliases');
      expect(s.reason).toMatch(/PublicBotIdIndex/);
    }
    expect(out.stderr).toMatch(/converged: every V3 item is what its V2 source derives/);
  }, 90_000);

  it('refuses the Pika demo flags with the Bedrock preset, before starting anything', async () => {
    const out = await runCli(['demo', '--preset', 'bedrock-chat-v3', '--sessions', '10']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/--sessions only apply to the Pika demo/);
    expect(out.stderr).not.toMatch(/starting local services/);
  });
});

describe('bench backfill --preset bedrock-chat-v3', () => {
  it('refuses the Pika bench flags, before starting anything', async () => {
    const out = await runCli(['bench', 'backfill', '--preset', 'bedrock-chat-v3', '--items', '10']);
    expect(out.code).not.toBe(0);
    expect(out.stderr).toMatch(/--items only apply to the Pika bench/);
    expect(out.stderr).not.toMatch(/seeded/);
  });
});

describe('finalCheck', () => {
  it('is converged after a full copy, and names a missing, a stale, an extra and a foreign item', async () => {
    const clients = makeClients({});
    try {
      const p = uniqueName('bedrock-check');
      const tables = {
        'bedrock-v2-conversation': `${p}-v2`,
        'bedrock-v3-conversation': `${p}-v3c`,
        'bedrock-v3-bot': `${p}-v3b`,
      };
      const seeded = await seedBedrock(
        {
          dynamodb: clients.dynamodb,
          doc: clients.doc,
          tables: { v2Conversation: `${p}-v2`, v3Conversation: `${p}-v3c`, v3Bot: `${p}-v3b` },
        },
        { users: 6, seed: 9 },
      );
      await ensureStateTable(clients.dynamodb, `${p}-state`);
      const planner = compilePlanner(resolveConfig(bedrock));
      const deps = engineDeps(clients, { tables, planner, stateTable: `${p}-state` });
      const source = [
        ...seeded.bots,
        ...seeded.aliases,
        ...seeded.conversations,
        ...seeded.relatedDocuments,
      ];
      await copyItems(
        'bedrock-v2-conversation',
        source.map((image) => ({ key: { PK: String(image.PK), SK: String(image.SK) }, image })),
        deps,
      );
      const check = () => finalCheck({ planner, doc: clients.doc, lookups: deps.lookups, tables });
      const clean = await check();
      expect(checkConverged(clean)).toBe(true);
      expect(clean.sources).toBe(source.length);
      expect(clean.skipped).toHaveLength(seeded.aliasesWithoutOwner);

      const bots = (await clients.doc.send(new ScanCommand({ TableName: `${p}-v3b` })))
        .Items as Item[];
      const [gone, edited, copied] = bots as [Item, Item, Item];
      const key = (i: Item) => ({ PK: i.PK, SK: i.SK });
      await clients.doc.send(new DeleteCommand({ TableName: `${p}-v3b`, Key: key(gone) }));
      await clients.doc.send(
        new UpdateCommand({
          TableName: `${p}-v3b`,
          Key: key(edited),
          UpdateExpression: 'SET Title = :t',
          ExpressionAttributeValues: { ':t': 'edited in V3' },
        }),
      );
      await clients.doc.send(
        new PutCommand({ TableName: `${p}-v3b`, Item: { ...copied, SK: 'BOT#NOSUCHBOT' } }),
      );
      await clients.doc.send(
        new PutCommand({ TableName: `${p}-v3c`, Item: { PK: 'someone', SK: 'someone#CONV#x' } }),
      );
      const broken = await check();
      expect(broken).toMatchObject({ missing: 1, stale: 1, extra: 1, foreign: 1, unplannable: 0 });
      expect(checkConverged(broken)).toBe(false);
      expect(broken.samples.map((s) => s.problem).sort()).toEqual([
        'derived by its source, absent',
        'differs from what its source derives now',
        expect.stringMatching(/^no source derives it now/),
        'not a copy (no streamfill_source), and no source derives it',
      ]);
    } finally {
      destroyClients(clients);
    }
  });
});
