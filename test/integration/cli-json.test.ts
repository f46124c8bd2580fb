// `--json` on every command prints one JSON document on stdout (the human lines go to stderr),
// on the real binary against the local services.
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
});
