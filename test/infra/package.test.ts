// The published package as a user gets it: `npm pack` (prepack builds dist/) → `npm install
// <tarball>` into an empty directory, beside aws-cdk-lib, constructs and esbuild as a CDK app has
// them (the versions this repository pins, so --prefer-offline finds them in npm's cache) → a
// plain .mjs imports the API and the construct and synthesizes a stack (bundling the compiled
// handlers), a TypeScript file type-checks against the .d.ts, and the installed bin runs on
// plain node. No local service is needed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked } from '../support/packed.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  exports: Record<string, string | { types: string; import: string }>;
  devDependencies: Record<string, string>;
};

// The entry points a user imports, each with a name it must export.
const ENTRIES: Record<string, string> = {
  streamfill: 'defineConfig',
  'streamfill/cdk': 'ContinuousBackfill',
  'streamfill/local': 'startLocalServices',
  'streamfill/presets/pika': 'default',
  'streamfill/presets/pika/cdk': 'pikaBackfillProps',
  'streamfill/presets/bedrock-chat-v3': 'default',
};

let dir: string;
let files: string[];

/** Runs in the installed app's directory; never throws (the caller checks status and output). */
const inApp = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(cmd, args, {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 180_000,
  });

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'streamfill-package-'));
  files = installPacked(dir, 'cdk-app');
}, 600_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the tarball', () => {
  it('holds compiled code, the harness files and no TypeScript source or test', () => {
    expect(files.filter((f) => /\.[cm]?tsx?$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /(^|\/)test\/|\.test\./.test(f))).toEqual([]);
    expect(files).toEqual(
      expect.arrayContaining([
        'bin/streamfill.js',
        'dist/scripts/cli.js',
        'dist/handlers/stream-consumer.js',
        'dist/handlers/backfill-worker.js',
        'services/maven/pom.xml',
        'docker-compose.yml',
      ]),
    );
  });

  it('has every file the exports map names', () => {
    const targets = Object.values(pkg.exports).flatMap((t) =>
      typeof t === 'string' ? [t] : [t.types, t.import],
    );
    expect(targets.map((t) => t.replace(/^\.\//, '')).filter((t) => !files.includes(t))).toEqual(
      [],
    );
  });
});

describe('installed beside a CDK app', { timeout: 180_000 }, () => {
  it('imports every entry point from plain node, with one aws-cdk-lib', () => {
    const script = Object.entries(ENTRIES)
      .map(([entry, name]) => `if (!(await import('${entry}')).${name}) throw '${entry}';`)
      .join('\n');
    const r = inApp('node', ['--input-type=module', '-e', script]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(existsSync(join(dir, 'node_modules/streamfill/node_modules/aws-cdk-lib'))).toBe(false);
  });

  it('synthesizes a stack with ContinuousBackfill, bundling the compiled handlers', () => {
    writeFileSync(
      join(dir, 'app.mjs'),
      `import { App, Stack } from 'aws-cdk-lib';
import { AttributeType, StreamViewType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { defineConfig, defineTable } from 'streamfill';
import { ContinuousBackfill } from 'streamfill/cdk';
import { pikaBackfillProps } from 'streamfill/presets/pika/cdk';

const config = defineConfig({ tables: [defineTable({ name: 'orders', key: ['order_id'] })], migrations: [] });
const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'App');
const sessions = new Table(stack, 'Sessions', {
  partitionKey: { name: 'session_id', type: AttributeType.STRING },
  stream: StreamViewType.NEW_AND_OLD_IMAGES,
});
new ContinuousBackfill(stack, 'Migration', pikaBackfillProps({ sessionTable: sessions, userTableName: 'users', tagTableName: 'tags' }));
const template = app.synth().getStackByName('App').template;
const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
console.log(JSON.stringify({ tables: config.tables.length, functions: functions.map((f) => f.Properties.Code.S3Key) }));
`,
    );
    const r = inApp('node', ['app.mjs']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      tables: number;
      functions: string[];
    };
    expect(out.tables).toBe(1);
    expect(out.functions).toHaveLength(2);
    for (const key of out.functions) {
      const asset = join(dir, 'cdk.out', `asset.${key.replace(/\.zip$/, '')}`, 'index.mjs');
      expect(readFileSync(asset, 'utf8')).toContain('batchItemFailures');
    }
  });

  it("type-checks a TypeScript app against the package's declarations", () => {
    writeFileSync(
      join(dir, 'check.ts'),
      `import { defineConfig, defineTable, type StreamfillConfig } from 'streamfill';
import { ContinuousBackfill, type ContinuousBackfillProps } from 'streamfill/cdk';
import { pikaBackfillProps } from 'streamfill/presets/pika/cdk';
import { cacheDir, startLocalServices, type ServiceEnv } from 'streamfill/local';
const config: StreamfillConfig = defineConfig({ tables: [defineTable({ name: 't', key: ['id'] })], migrations: [] });
const props: ContinuousBackfillProps = { config: 'streamfill.config.ts', tables: { t: { tableName: 't' } } };
const pika: ContinuousBackfillProps = pikaBackfillProps({ sessionTableName: 's', sessionTableStreamArn: 'arn', userTableName: 'u' });
const env: Promise<ServiceEnv> = startLocalServices().then((s) => s.env);
export { config, props, pika, env, ContinuousBackfill, cacheDir };
`,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        files: ['check.ts'],
      }),
    );
    const r = inApp('node', [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.']);
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('the installed bin', { timeout: 60_000 }, () => {
  it('runs on plain node: --help lists the commands, --version is the package version', () => {
    const help = inApp('npx', ['--no-install', 'streamfill', '--help']);
    expect(help.status, help.stderr).toBe(0);
    for (const command of ['services', 'backfill', 'run', 'verify'])
      expect(help.stdout).toContain(command);
    const version = inApp('npx', ['--no-install', 'streamfill', '--version']);
    expect(version.stdout.trim()).toBe(pkg.version);
  });

  it('config check without a config file finds the built-in preset in dist/ (.js)', () => {
    const r = inApp('npx', ['--no-install', 'streamfill', 'config', 'check']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('the built-in preset');
  });

  it('services env reads the state of this directory from the cache directory', () => {
    const cache = join(dir, 'cache');
    mkdirSync(cache);
    const env = { STREAMFILL_CACHE_DIR: cache };
    const none = inApp('npx', ['--no-install', 'streamfill', 'services', 'env'], env);
    expect(none.stderr).toContain('services are not running: run `streamfill services up`');
    expect(none.status).toBe(1);

    // A recorded docker run (its env is printed as is) at the path the installed harness uses.
    const state = {
      version: 1,
      provider: 'docker',
      startedAt: new Date().toISOString(),
      env: {
        AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1',
        AWS_ENDPOINT_URL_DYNAMODB_STREAMS: 'http://127.0.0.1:1',
        AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:2',
        SEARCH_ENDPOINT: 'http://127.0.0.1:3',
      },
    };
    const write = `import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { servicesStateFile } from 'streamfill/local';
const file = servicesStateFile();
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, ${JSON.stringify(JSON.stringify(state))});
console.log(file);`;
    const written = inApp('node', ['--input-type=module', '-e', write], env);
    expect(written.status, written.stderr).toBe(0);
    expect(written.stdout.startsWith(join(cache, 'run'))).toBe(true);

    const some = inApp('npx', ['--no-install', 'streamfill', 'services', 'env'], env);
    expect(some.status, some.stderr).toBe(0);
    expect(some.stdout).toContain('export SEARCH_ENDPOINT=http://127.0.0.1:3');
  });

  it('services up finds the installed pom and fetches the jars into the cache directory', () => {
    // No Maven on PATH: up stops at the first download, naming where the jars would go. A pom
    // looked for beside the working directory or under dist/ would fail earlier ("missing …").
    const cache = join(dir, 'cache-up');
    const bin = join(dir, 'node_modules/streamfill/bin/streamfill.js');
    const r = inApp(process.execPath, [bin, 'services', 'up', '--provider', 'java'], {
      STREAMFILL_CACHE_DIR: cache,
      PATH: join(dir, 'no-such-bin'),
    });
    expect(r.stderr).toContain(
      `Maven (mvn) is needed once to download the dynamodb jars into ${join(cache, 'services', 'dynamodb')}`,
    );
    expect(r.status).toBe(1);
  });
});
