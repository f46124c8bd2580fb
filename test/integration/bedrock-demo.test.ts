// `streamfill demo --preset bedrock-chat-v3` on the real binary at a tiny size: V2 data seeded,
// the V2 application (publishing, unpublishing and deleting bots too) writing through the
// backfill, and `cutover check` exiting 0 while the copy runs; Pika-only flags refused before
// anything runs.
import { describe, expect, it } from 'vitest';
import type { CutoverReport } from '../../lib/engine/cutover.ts';
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
      check: CutoverReport;
    };
    expect(r.converged).toBe(true);
    expect(r.seeded.bots).toBeGreaterThan(0);
    // The application wrote during the backfill, bots' publications included, and both paths copied.
    expect(r.writer.requests).toBeGreaterThan(0);
    const moved = ['publish-bot', 'unpublish-bot', 'delete-bot'].map((op) => r.writer[op] ?? 0);
    expect(moved.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(r.live.workerMigrated).toBeGreaterThan(0);
    expect(r.live.streamMigrated).toBeGreaterThan(0);
    expect(r.check.check.exitCode).toBe(0);
    expect(r.check.totals).toMatchObject({ pending: 0, orphan: 0, malformed: 0, conflict: 0 });
    expect(Object.keys(r.check.copies).sort()).toEqual([
      'bedrock-v3-aliases',
      'bedrock-v3-bots',
      'bedrock-v3-conversations',
      'bedrock-v3-related-documents',
    ]);
    for (const c of Object.values(r.check.copies)) expect(c.targets).toBeGreaterThan(0);
    // Aliases of unpublished or deleted bots are seeded: skipped, each with its reason.
    expect(r.seeded.aliasesWithoutOwner).toBeGreaterThan(0);
    expect(r.check.totals.skipped).toBeGreaterThan(0);
    const skipped = Object.values(r.check.copies).flatMap((c) =>
      c.samples.filter((x) => x.reason === 'skipped'),
    );
    for (const x of skipped) {
      expect(x.copy).toBe('bedrock-v3-aliases');
      expect(x.detail).toMatch(/PublicBotIdIndex/);
    }
    expect(out.stderr).toMatch(/cutover check 0: every V3 item is what its V2 source derives/);
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
