// `streamfill backfill` as an operator runs it (a child process through tsx): SIGINT stops
// cleanly (exit 130), SIGKILL mid-run then --resume skips no segment and re-sends at most one
// page per segment, pause/resume subcommands, dry run, --help and specific errors.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  backfillFixture,
  drainQueueKeys,
  freshHeartbeat,
  type BackfillFixture,
  fixtureFlags,
} from '../support/backfill-fixture.ts';
import { useBackfillCli } from '../support/backfill-cli.ts';
import { startCli } from '../support/cli.ts';
import { useLocalServices } from '../support/env.ts';

useLocalServices('backfillcli');

const cli = useBackfillCli('streamfill-bf-');
const { streamfill } = cli;

/** The CLI as a child to signal; `done` is its exit code. */
function start(args: string[]) {
  const { child, done, out } = startCli(args, cli.env);
  return { child, done: done.then((r) => r.code), out };
}

/** Resolves once the table's current run has at least `n` checkpoints past their first page. */
async function checkpointsReach(
  f: BackfillFixture,
  n: number,
  exited: Promise<unknown>,
): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (;;) {
    const r = await f.state.getRun(f.tables.session);
    const cps = r ? await f.state.getCheckpoints(r.runId) : [];
    if (cps.filter((c) => c.counts.scanned > 0).length >= n) return;
    if (gone) throw new Error('the scanner exited before reaching the checkpoints');
    await new Promise((r2) => setTimeout(r2, 100));
  }
}

describe('streamfill backfill (CLI)', () => {
  it('SIGINT stops with exit 130 and checkpoints; SIGKILL then --resume skips no segment and re-sends at most a page per segment', async () => {
    const f = await backfillFixture(cli.clients, 'bfcli-kill', 800);
    await freshHeartbeat(f);
    const SEGMENTS = 4;
    const PAGE = 20;
    const args = [
      'backfill',
      ...fixtureFlags(f),
      '--segments',
      String(SEGMENTS),
      '--page-size',
      String(PAGE),
      '--rate',
      '150',
      '--poll-interval-ms',
      '200',
    ];
    const first = start(args);
    await checkpointsReach(f, 2, first.done);
    first.child.kill('SIGINT');
    expect(await first.done).toBe(130);
    expect(first.out()).toContain('Continue with `streamfill backfill --resume`');
    const run1 = await f.state.getRun(f.tables.session);
    expect(run1?.status).toBe('running');

    const pause = await streamfill('backfill', 'pause', ...fixtureFlags(f));
    expect(pause.code).toBe(0);
    expect(pause.stdout).toContain(`pause requested for run ${run1?.runId}`);
    expect((await f.state.getRun(f.tables.session))?.pauseRequested).toBe(true);
    const resume = await streamfill('backfill', 'resume', ...fixtureFlags(f));
    expect(resume.code).toBe(0);
    expect((await f.state.getRun(f.tables.session))?.pauseRequested).toBe(false);

    const refused = await streamfill('backfill', ...fixtureFlags(f));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('has not finished');
    expect(refused.stderr).toContain('--restart');

    const second = start([...args, '--resume']);
    const before = (await f.state.getCheckpoints(run1!.runId)).reduce(
      (n, c) => n + c.counts.scanned,
      0,
    );
    for (;;) {
      const now = (await f.state.getCheckpoints(run1!.runId)).reduce(
        (n, c) => n + c.counts.scanned,
        0,
      );
      if (now >= before + 3 * PAGE) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    second.child.kill('SIGKILL');
    await second.done;

    const last = await streamfill(
      'backfill',
      ...fixtureFlags(f),
      '--resume',
      '--json',
      join(cli.dir, 'kill.json'),
    );
    expect(last.code, last.stderr).toBe(0);
    const run2 = await f.state.getRun(f.tables.session);
    expect(run2?.runId).toBe(run1?.runId);
    expect(run2?.status).toBe('finished');
    const cps = await f.state.getCheckpoints(run1!.runId);
    expect(cps.map((c) => c.segment)).toEqual([0, 1, 2, 3]);
    expect(cps.every((c) => c.counts.done)).toBe(true);

    const q = await drainQueueKeys(cli.clients.sqs, f.queueUrl);
    expect(new Set(q.keys)).toEqual(f.pending); // nothing skipped
    // duplicates only from pages sent but not checkpointed when killed: ≤ one page per segment
    expect(q.keys.length - f.pending.size).toBeLessThanOrEqual(SEGMENTS * PAGE);
  });

  it('--dry-run prints counts, sample diffs and the cost estimate, and enqueues nothing', async () => {
    const f = await backfillFixture(cli.clients, 'bfcli-dry', 120);
    const r = await streamfill(
      'backfill',
      ...fixtureFlags(f),
      '--dry-run',
      '--samples',
      '2',
      '--segments',
      '2',
      '--price-write-per-million',
      '1.25',
    );
    expect(r.code, r.stderr).toBe(0);
    // Every item is planned (no filter): the "migrated" quarter's chat_app_sk is stale too.
    expect(r.stdout).toContain('plan: 120 would be written');
    expect(r.stdout).toContain(
      'samples (before → after; planned as the worker would, lookups read for real)',
    );
    // Which items the parallel segments sample first varies: a legacy one or a migrated one.
    expect(r.stdout).toMatch(/chat_app_sk: (\(absent\)|"weather#user#x") → "weather#user#2025-/);
    expect(r.stdout).toMatch(
      /cost estimate: ~\$[\d.]+: scan .* read units .* writes .*write units/,
    );
    expect(r.stdout).toContain('prices from --price-read-per-million / --price-write-per-million');
    expect((await drainQueueKeys(cli.clients.sqs, f.queueUrl)).messages).toBe(0);
    expect(await f.state.getRun(f.tables.session)).toBeUndefined();
  });

  it('documents every option in --help', async () => {
    const r = await streamfill('backfill', '--help');
    expect(r.code).toBe(0);
    for (const flag of [
      '--segments',
      '--rate',
      '--dry-run',
      '--resume',
      '--restart',
      '--limit',
      '--user',
      '--keys',
      '--distributed',
      '--json',
      '--no-wait-for-consumer',
      '--consumer-function',
      '--checkpoint-file',
      '--state-table',
      '--price-read-per-million',
      '--max-backlog',
      '--max-lag-seconds',
      '--skip-preflight',
    ]) {
      expect(r.stdout).toContain(flag);
    }
    // Help text is wrapped to the terminal: short phrases of the filtering paragraph.
    expect(r.stdout).toContain('Filtering: the planner.');
    expect(r.stdout).toContain('--no-filter enqueues every item.');
  });

  it('rejects bad input with specific errors and exit 1', async () => {
    const f = await backfillFixture(cli.clients, 'bfcli-bad', 10);
    const t = fixtureFlags(f);
    const badKeys = join(cli.dir, 'bad-keys.jsonl');
    await writeFile(badKeys, '{"user_id":"u1","session_id":"s1"}\n{"user_id":"u1"}\nnope\n');
    const cases: [string[], string][] = [
      [
        ['--table', 'nope'],
        '--table must be a migrated table of the config or all (session, tag, all), got "nope"',
      ],
      [['--limit', '0'], '--limit must be an integer >= 1, got "0"'],
      [['--rate', 'fast'], '--rate must be a positive number, got "fast"'],
      [['--keys', join(cli.dir, 'none.jsonl')], 'cannot read it (ENOENT)'],
      [['--keys', badKeys], `--keys ${badKeys} line 2: session keys are user_id, session_id`],
      [['--resume'], `nothing to resume for ${f.tables.session}`],
      [
        ['--user', 'u1', '--distributed', '--no-wait-for-consumer'],
        '--user and --distributed cannot be combined',
      ],
    ];
    for (const [args, message] of cases) {
      const r = await streamfill('backfill', ...t, ...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toContain(message);
    }
    const nothing = await streamfill('backfill', 'pause', ...t);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain(`backfill of ${f.tables.session}: no unfinished run to pause`);
  });
});
