// `streamfill config check` as an operator runs it (the real binary, no network): exit 0 for a
// good config, 1 naming each broken derive, 2 for a config that cannot be loaded.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliResult } from '../../support/cli.ts';

const FIXTURES = 'test/fixtures/configs';
const BIN = resolve('bin/streamfill.js');
const LIB = resolve('lib/index.ts');
const ENV = { ...process.env, STREAMFILL_CONFIG: '' };

/** The CLI run from another working directory. */
async function runIn(cwd: string, args: readonly string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)('node', [BIN, ...args], { cwd, env: ENV });
    return { code: 0, stdout, stderr };
  } catch (e) {
    return e as CliResult;
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streamfill-check-'));
  await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// Each test starts the CLI once (a second idle, more while three other suites share 2 cores).
describe('streamfill config check', { timeout: 30_000 }, () => {
  it('passes a good config: exit 0 and a checklist of ✓', async () => {
    const r = await runCli(['config', 'check', '--config', `${FIXTURES}/orders.config.ts`], ENV);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`config: ${FIXTURES}/orders.config.ts (from --config)`);
    expect(r.stdout).toContain('✓ order-status-sk (migration, table orders;');
    expect(r.stdout).toContain('✓ order-keywords (search, table orders; 200 keys)');
    expect(r.stdout).not.toMatch(/[✗⚠]/);
    expect(r.stdout).toMatch(/config check: passed \(2 migrations, 0 errors, 0 warnings\)\n$/);
  });

  it('exits 1 naming each broken derive with its first offending item', async () => {
    const r = await runCli(
      ['config', 'check', '--config', `${FIXTURES}/faulty-derives.config.ts`],
      ENV,
    );
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('✓ good (migration');
    expect(r.stdout).toMatch(/✗ stamped .*\n.*✗ pure and deterministic.*derived twice/);
    expect(r.stdout).toMatch(
      /✗ bump [^\n]*\n(.*\n)*? {4}✗ idempotent[^\n]*: after its result is applied, it wants another change: n: 1 → 2\n {8}item: \{"id":"a"\}/,
    );
    expect(r.stdout).toMatch(/✗ reads-region (.*\n)*? {4}✗ [^\n]*reads "region"/);
    expect(r.stdout).toMatch(
      /✗ writes-extra (.*\n)*? {4}✗ [^\n]*returns "extra", not in writes \[copy\]/,
    );
    expect(r.stdout).toMatch(/⚠ throws-type-error (.*\n)*? {4}⚠ [^\n]*throws TypeError/);
    expect(r.stdout).toMatch(
      /✗ empty-id (.*\n)*? {4}✗ id is a non-empty string[^\n]*: id returns ""/,
    );
    expect(r.stdout).toMatch(/config check: FAILED \(7 migrations, 5 errors, 1 warning\)\n$/);
  });

  it('--json prints one document with every migration and the first offending item', async () => {
    const r = await runCli(
      ['config', 'check', '--config', `${FIXTURES}/faulty-derives.config.ts`, '--json'],
      ENV,
    );
    expect(r.code, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as {
      ok: boolean;
      errors: number;
      warnings: number;
      configFrom: string;
      migrations: {
        name: string;
        ok: boolean;
        checks: { check: string; level: string; item?: unknown }[];
      }[];
    };
    expect(doc).toMatchObject({ ok: false, errors: 5, warnings: 1, configFrom: 'flag' });
    expect(doc.migrations.map((m) => [m.name, m.ok])).toEqual([
      ['good', true],
      ['stamped', false],
      ['bump', false],
      ['reads-region', false],
      ['writes-extra', false],
      ['throws-type-error', true],
      ['empty-id', false],
    ]);
    const bump = doc.migrations[2]!.checks.find((c) => c.check === 'idempotent');
    expect(bump).toMatchObject({ level: 'error', item: { id: 'a' } });
    expect(r.stderr).toContain('config check: FAILED');
  });

  it('reads STREAMFILL_CONFIG', async () => {
    const viaEnv = await runCli(['config', 'check'], {
      ...ENV,
      STREAMFILL_CONFIG: `${FIXTURES}/orders.config.ts`,
    });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(viaEnv.stdout).toContain(
      `config: ${FIXTURES}/orders.config.ts (from STREAMFILL_CONFIG)`,
    );
  });

  it('reads the default streamfill.config.ts of the working directory', async () => {
    await writeFile(
      join(dir, 'streamfill.config.ts'),
      `import { defineConfig, defineTable } from ${JSON.stringify(LIB)};\n` +
        `export default defineConfig({ tables: [defineTable({ name: 'mine', key: ['id'] })], migrations: [] });\n`,
    );
    const viaDefault = await runIn(dir, ['config', 'check']);
    expect(viaDefault.code, viaDefault.stderr).toBe(0);
    expect(viaDefault.stdout).toContain(
      'config: streamfill.config.ts (the default streamfill.config.ts in the working directory)',
    );
    expect(viaDefault.stdout).toContain(
      'config check: passed (0 migrations, 0 errors, 0 warnings)',
    );
  });

  it('exits 2 for a missing file, naming the flag or the variable', async () => {
    const flag = await runCli(['config', 'check', '--config', 'missing.config.ts'], ENV);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe(
      'streamfill: config file not found: missing.config.ts (from --config)\n',
    );
    const env = await runCli(['config', 'check'], { ...ENV, STREAMFILL_CONFIG: 'gone.ts' });
    expect(env.code).toBe(2);
    expect(env.stderr).toBe(
      'streamfill: config file not found: gone.ts (from STREAMFILL_CONFIG)\n',
    );
  });

  it('exits 2 with the line of an error thrown while the config loads', async () => {
    const r = await runCli(
      ['config', 'check', '--config', `${FIXTURES}/throws-on-load.config.ts`],
      ENV,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `streamfill: ${FIXTURES}/throws-on-load.config.ts (from --config) failed to load: ` +
        `TypeError: Cannot read properties of null (reading 'table') (at ${FIXTURES}/throws-on-load.config.ts:5:45)\n`,
    );
  });

  it('exits 2 with the location of a syntax error', async () => {
    const file = join(dir, 'broken.config.ts');
    await writeFile(file, `export default {\n  tables: [,\n`);
    const r = await runCli(['config', 'check', '--config', file], ENV);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `^streamfill: ${file} \\(from --config\\) failed to load: syntax error at ${file}:3:0: ERROR: `,
      ),
    );
  });

  it("exits 2 with resolveConfig's issues for a file that is not a config, also with --json", async () => {
    const r = await runCli(
      ['config', 'check', '--config', `${FIXTURES}/not-a-config.config.ts`, '--json'],
      ENV,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `streamfill: ${FIXTURES}/not-a-config.config.ts (from --config) is not a valid streamfill config:\n  - migration "stray-copy": table "stray" is not in tables\n`,
    );
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      issues: ['migration "stray-copy": table "stray" is not in tables'],
    });
  });

  it('shows each physical table name and where it came from', async () => {
    const r = await runCli(
      [
        'config',
        'check',
        '--config',
        `${FIXTURES}/orders.config.ts`,
        '--table-name',
        'orders=orders-prod',
      ],
      { ...ENV, STREAMFILL_TABLES: '{"customers":"customers-prod"}' },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      'tables: orders → orders-prod (--table-name), customers → customers-prod (STREAMFILL_TABLES)\n',
    );
  });

  it('exits 2 for a bad table name, naming the flag, the variable and the value', async () => {
    const r = await runCli(
      [
        'config',
        'check',
        '--config',
        `${FIXTURES}/orders.config.ts`,
        '--table-name',
        'order=o-prod',
        '--json',
      ],
      { ...ENV, STREAMFILL_TABLES: '{"customers":7}' },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'streamfill: invalid table names:\n' +
        '  - --table-name "order=o-prod": no table "order" is declared (declared: orders, customers)\n' +
        '  - STREAMFILL_TABLES "customers": 7: the physical name must be a string\n',
    );
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      issues: [expect.stringContaining('"order=o-prod"'), expect.any(String)],
    });
  });

  it('exits 2 for a file without a default export', async () => {
    const r = await runCli(
      ['config', 'check', '--config', `${FIXTURES}/no-default.config.ts`],
      ENV,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has no default export (nor a named "config")');
  });
});
