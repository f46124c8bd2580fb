// Resolves the services' jars from Maven Central through services/maven/pom.xml into the user's
// cache directory (local/cache-dir.ts); after the first resolution everything works offline.

import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { cacheDir, PACKAGE_ROOT } from '../cache-dir.ts';

// Also the pom's Maven profiles and the directory names under <cache>/services/.
export const SERVICE_NAMES = ['dynamodb', 'elasticmq', 'opensearch'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface CachePaths {
  /** streamfill's package root: where services/maven/pom.xml is. */
  root: string;
  /** The user's cache directory (cacheDir()): downloads and run state, shared by every project. */
  cache: string;
  m2: string;
  services: string;
  run: string;
  pom: string;
}

export function cachePaths(root: string = PACKAGE_ROOT, cache: string = cacheDir()): CachePaths {
  return {
    root,
    cache,
    m2: join(cache, 'm2'),
    services: join(cache, 'services'),
    run: join(cache, 'run'),
    pom: join(root, 'services', 'maven', 'pom.xml'),
  };
}

export type Log = (line: string) => void;
export const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);

/** Last `n` non-empty lines of a text. */
export function tailLines(text: string, n: number): string {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n).join('\n');
}

export class ServiceSetupError extends Error {
  override name = 'ServiceSetupError';
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; output: string; spawnError?: Error }> {
  return new Promise((res) => {
    let output = '';
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (err) => res({ code: null, output, spawnError: err }));
    child.once('close', (code) => res({ code, output }));
  });
}

export interface ResolveOptions {
  root?: string;
  log?: Log;
}

/**
 * Makes sure `<cache>/services/<service>/` holds the jars pinned by services/maven/pom.xml and
 * returns those directories. A `.resolved-<pom hash>` marker makes later calls a few stat()s;
 * Maven runs offline first (the per-repo local repository usually has everything) and only
 * goes to Maven Central when that fails.
 */
export async function resolveServiceJars(
  opts: ResolveOptions = {},
): Promise<Record<ServiceName, string>> {
  const p = cachePaths(opts.root);
  const log = opts.log ?? stderrLog;
  if (!existsSync(p.pom)) throw new ServiceSetupError(`missing ${p.pom}`);
  const hash = createHash('sha256').update(readFileSync(p.pom)).digest('hex').slice(0, 12);
  const marker = `.resolved-${hash}`;
  const dirs = {} as Record<ServiceName, string>;
  for (const name of SERVICE_NAMES) {
    const dir = join(p.services, name);
    dirs[name] = dir;
    if (existsSync(join(dir, marker))) continue;

    mkdirSync(p.services, { recursive: true });
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    const args = (offline: boolean) => [
      ...(offline ? ['-o'] : []),
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      p.pom,
      `-Dmaven.repo.local=${p.m2}`,
      `-P${name}`,
      'org.apache.maven.plugins:maven-dependency-plugin:copy-dependencies',
      `-DoutputDirectory=${tmp}`,
      '-DincludeScope=runtime',
    ];
    try {
      let r = await run('mvn', args(true), p.root);
      if (r.spawnError) {
        const jars = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jar')) : [];
        if (jars.length > 0) {
          log(`streamfill: mvn not found; using the ${name} jars already in ${dir} (not verified)`);
          continue;
        }
        throw new ServiceSetupError(
          `Maven (mvn) is needed once to download the ${name} jars into ${dir} (${r.spawnError.message}); ` +
            'install Maven, or run with Docker available',
        );
      }
      if (r.code !== 0) {
        log(
          `streamfill: downloading ${name} jars from Maven Central into ${p.services} (first run only)...`,
        );
        rmSync(tmp, { recursive: true, force: true });
        r = await run('mvn', args(false), p.root);
      }
      if (r.code !== 0 || !existsSync(tmp)) {
        throw new ServiceSetupError(
          `could not resolve the ${name} jars with Maven (exit ${r.code}):\n${tailLines(r.output, 30)}`,
        );
      }
      writeFileSync(join(tmp, marker), `${new Date().toISOString()}\n`);
      if (existsSync(join(dir, marker))) continue; // a concurrent run finished first
      rmSync(dir, { recursive: true, force: true });
      try {
        renameSync(tmp, dir);
      } catch (e) {
        if (!existsSync(join(dir, marker))) throw e;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return dirs;
}
