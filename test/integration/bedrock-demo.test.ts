// `streamfill demo --preset bedrock-chat-v3` on the real binary at a tiny size: V2 data seeded,
// the V2 application writing through the backfill, and the final check finding every V3 item
// equal to what its V2 source derives now (exit 0); Pika-only flags refused before anything runs.
import { describe, expect, it } from 'vitest';
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
