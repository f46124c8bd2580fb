// Which config a command uses, and every way a config file can be unusable, each named before
// any side effect. The files are real TypeScript loaded through tsx, as the CLI loads them.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineConfig, defineTable } from '../../../lib/index.ts';
import { bundledPlanner } from '../../../lib/engine/bundled-config.ts';
import {
  ConfigLoadError,
  findConfig,
  loadConfig,
  loadPlanner,
} from '../../../scripts/config-loader.ts';

const FIXTURES = resolve('test/fixtures/configs');
const LIB = resolve('lib/index.ts');
const PRESET = defineConfig({
  tables: [defineTable({ name: 'preset-table', key: ['id'] })],
  migrations: [],
});
const preset = async () => PRESET;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'streamfill-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function loadError(options: Parameters<typeof loadConfig>[0]): Promise<ConfigLoadError> {
  const e: unknown = await loadConfig(options).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConfigLoadError);
  return e as ConfigLoadError;
}

/** A project directory of its own, with `"type": "module"` unless told otherwise. */
async function project(name: string, files: Record<string, string>, esm = true): Promise<string> {
  const root = join(dir, name);
  await mkdir(root, { recursive: true });
  if (esm) await writeFile(join(root, 'package.json'), '{"type":"module"}\n');
  for (const [file, text] of Object.entries(files)) await writeFile(join(root, file), text);
  return root;
}

const VALID = `import { defineConfig, defineTable } from ${JSON.stringify(LIB)};
export default defineConfig({ tables: [defineTable({ name: 'from-file', key: ['id'] })], migrations: [] });
`;

describe('which config a command uses', () => {
  it('--config wins over STREAMFILL_CONFIG and the default file', async () => {
    const cwd = await project('precedence', { 'streamfill.config.ts': VALID });
    const env = { STREAMFILL_CONFIG: join(FIXTURES, 'named-export.config.ts') };
    const flag = join(FIXTURES, 'orders.config.ts');
    expect(await findConfig({ flag, env, cwd })).toEqual({ kind: 'flag', path: flag });
    expect(await findConfig({ env, cwd })).toEqual({
      kind: 'env',
      path: env.STREAMFILL_CONFIG,
    });
    expect(await findConfig({ env: {}, cwd })).toEqual({
      kind: 'default',
      path: join(cwd, 'streamfill.config.ts'),
    });
  });

  it('resolves a relative --config against the working directory', async () => {
    const source = await findConfig({ flag: 'test/fixtures/configs/orders.config.ts', env: {} });
    expect(source).toEqual({ kind: 'flag', path: join(FIXTURES, 'orders.config.ts') });
  });

  it('falls back to the preset when no file is named and there is no default file', async () => {
    const cwd = await project('empty', {});
    const loaded = await loadConfig({ env: {}, cwd, preset });
    expect(loaded.source).toEqual({ kind: 'preset' });
    expect([...loaded.resolved.tables.keys()]).toEqual(['preset-table']);
  });

  it('loads the default streamfill.config.ts of the working directory', async () => {
    const cwd = await project('default-file', { 'streamfill.config.ts': VALID });
    const loaded = await loadConfig({ env: {}, cwd, preset });
    expect(loaded.source.kind).toBe('default');
    expect([...loaded.resolved.tables.keys()]).toEqual(['from-file']);
  });

  it('loads a TypeScript config importing the API, and resolves it', async () => {
    const loaded = await loadConfig({ flag: join(FIXTURES, 'orders.config.ts'), env: {}, preset });
    expect(loaded.resolved.migrations.map((m) => m.name)).toEqual([
      'order-status-sk',
      'order-keywords',
    ]);
    expect([...loaded.resolved.lookups.keys()]).toEqual(['customer-tier']);
  });

  it('reads a named `config` export when there is no default export', async () => {
    const loaded = await loadConfig({
      env: { STREAMFILL_CONFIG: join(FIXTURES, 'named-export.config.ts') },
      preset,
    });
    expect([...loaded.resolved.tables.keys()]).toEqual(['named']);
  });

  it('loads a config of a project whose package.json is not an ES module (CommonJS)', async () => {
    const cwd = await project('commonjs', { 'streamfill.config.ts': VALID }, false);
    const loaded = await loadConfig({ env: {}, cwd, preset });
    expect([...loaded.resolved.tables.keys()]).toEqual(['from-file']);
  });
});

describe('a config that cannot be used', () => {
  it('names the missing file and the flag that named it', async () => {
    const e = await loadError({ flag: 'nope.config.ts', env: {}, cwd: dir, preset });
    expect(e.message).toBe(`config file not found: ${join(dir, 'nope.config.ts')} (from --config)`);
  });

  it('names the missing file and the variable that named it', async () => {
    const e = await loadError({ env: { STREAMFILL_CONFIG: 'gone.ts' }, cwd: dir, preset });
    expect(e.message).toBe(
      `config file not found: ${join(dir, 'gone.ts')} (from STREAMFILL_CONFIG)`,
    );
  });

  it('refuses an empty --config', async () => {
    const e = await loadError({ flag: '', env: {}, cwd: dir, preset });
    expect(e.message).toBe('--config is empty: give the path of a config file');
  });

  it('gives a syntax error with its file, line and column', async () => {
    const cwd = await project('syntax', {
      'streamfill.config.ts': `import { defineConfig } from ${JSON.stringify(LIB)};\nconst x: number = ;\nexport default defineConfig({ tables: [], migrations: [] });\n`,
    });
    const e = await loadError({ env: {}, cwd, preset });
    expect(e.message).toContain(
      '(the default streamfill.config.ts in the working directory) failed to load: syntax error at',
    );
    expect(e.message).toMatch(/streamfill\.config\.ts:2:18: ERROR: Unexpected ";"$/);
  });

  // The exact line is checked by the CLI test: vitest's own stack traces skip tsx's source maps.
  it('gives an error thrown while the file runs with its location', async () => {
    const e = await loadError({
      flag: join(FIXTURES, 'throws-on-load.config.ts'),
      env: {},
      preset,
    });
    expect(e.message).toMatch(
      /throws-on-load\.config\.ts \(from --config\) failed to load: TypeError: Cannot read properties of null \(reading 'table'\) \(at test\/fixtures\/configs\/throws-on-load\.config\.ts:\d+:\d+\)$/,
    );
  });

  it('names an import the file cannot resolve', async () => {
    const cwd = await project('bad-import', {
      'streamfill.config.ts': `import { defineConfig } from './nowhere.ts';\nexport default defineConfig({});\n`,
    });
    const e = await loadError({ env: {}, cwd, preset });
    expect(e.message).toMatch(/failed to load: .*nowhere\.ts/);
  });

  it('says there is no default export and what the file exports', async () => {
    const e = await loadError({ flag: join(FIXTURES, 'no-default.config.ts'), env: {}, preset });
    expect(e.message).toMatch(
      /no-default\.config\.ts \(from --config\) has no default export \(nor a named "config"\): end it with `export default defineConfig\(\{ … \}\)`; it exports orders$/,
    );
  });

  it("lists resolveConfig's issues for a file that is not a config", async () => {
    const e = await loadError({ flag: join(FIXTURES, 'not-a-config.config.ts'), env: {}, preset });
    expect(e.issues).toEqual(['migration "stray-copy": table "stray" is not in tables']);
    expect(e.message).toMatch(
      /not-a-config\.config\.ts \(from --config\) is not a valid streamfill config:\n {2}- migration "stray-copy": table "stray" is not in tables$/,
    );
  });

  it('validates the preset too', async () => {
    const e = await loadError({
      env: {},
      cwd: await project('bad-preset', {}),
      preset: async () => ({}),
    });
    expect(e.message).toMatch(/^the built-in preset is not a valid streamfill config:/);
  });
});

describe('the planner a command runs', () => {
  it('without a config, is the built-in Pika preset, the same as the bundled one', async () => {
    const cwd = await project('planner-preset', {});
    const planner = await loadPlanner({}, { env: {}, cwd });
    expect(planner.migratedTables).toEqual(bundledPlanner().migratedTables);
    expect(planner.allMigrations).toEqual(bundledPlanner().allMigrations);
    expect(planner.migratedTables).toContain('session');
  });

  it('with --config, is that config compiled', async () => {
    const planner = await loadPlanner({ config: join(FIXTURES, 'orders.config.ts') }, { env: {} });
    expect(planner.allMigrations).toEqual(['order-status-sk', 'order-keywords']);
  });

  it('names an unusable config before anything else happens', async () => {
    const e = await loadPlanner({ config: join(dir, 'missing.config.ts') }, { env: {} }).catch(
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ConfigLoadError);
  });
});
