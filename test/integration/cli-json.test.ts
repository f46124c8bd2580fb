// `--json` on every command prints one JSON document on stdout (the human lines go to stderr),
// on the real binary against the local services.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.ts';
import { uniqueName, useLocalServices } from '../support/env.ts';

useLocalServices('cli-json');

const p = uniqueName('json');
const tables = ['--session-table', `${p}-s`, '--user-table', `${p}-u`, '--tag-table', `${p}-t`];
const env = { ...process.env };
delete env.SEARCH_ENDPOINT;

describe('--json prints to stdout', () => {
  it('seed, then run --until-idle: each stdout is exactly one JSON document', async () => {
    const seeded = await runCli(
      ['seed', '--sessions', '3', '--users', '1', '--json', ...tables],
      env,
    );
    expect(seeded.code, seeded.stderr).toBe(0);
    expect(JSON.parse(seeded.stdout)).toMatchObject({ sessions: 3, users: 1, tags: 0 });
    expect(seeded.stderr).toContain('seeded 3 sessions');

    const queues = ['--queue-name', `${p}-w`, '--dlq-name', `${p}-d`, '--state-table', `${p}-st`];
    const run = await runCli(['run', '--until-idle', '--json', ...tables, ...queues], env);
    expect(run.code, run.stderr).toBe(0);
    const counts = JSON.parse(run.stdout) as Record<string, number>;
    expect(counts.streamRecords).toBeGreaterThanOrEqual(3);
    expect(counts.onFailure).toBe(0);
    expect(run.stderr).toContain('stopped: stream records');
  });

  it('backfill: --json alone on stdout; --json FILE (the contract form) still writes the file', async () => {
    const opts = ['--dry-run', '--no-wait-for-consumer', '--segments', '2', ...tables];
    const state = ['--queue-name', `${p}-bw`, '--dlq-name', `${p}-bd`, '--state-table', `${p}-bs`];
    const out = await runCli(['backfill', ...opts, ...state, '--json'], env);
    expect(out.code, out.stderr).toBe(0);
    const summary = JSON.parse(out.stdout) as { scanned: number };
    expect(summary.scanned).toBe(3);
    expect(out.stderr).toContain('dry run');
    const file = join(tmpdir(), `${p}-summary.json`);
    const toFile = await runCli(['backfill', ...opts, ...state, '--json', file], env);
    expect(toFile.code, toFile.stderr).toBe(0);
    expect(() => JSON.parse(toFile.stdout)).toThrow();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ scanned: 3 });
  });
});
