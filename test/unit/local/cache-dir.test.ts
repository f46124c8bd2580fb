// The harness's cache lives in the user's cache directory (shared by every checkout and install),
// the package's own files are found from the module wherever it is installed, and detached
// services are recorded per working directory.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheDir, findPackageRoot, PACKAGE_ROOT } from '../../../local/cache-dir.ts';
import { lambdaNodeBin } from '../../../local/lambda-node.ts';
import { servicesStateFile } from '../../../local/services/detached.ts';
import { cachePaths } from '../../../local/services/maven-jars.ts';

const HOME = '/home/u';

describe('cacheDir', () => {
  it('prefers STREAMFILL_CACHE_DIR, then an absolute XDG_CACHE_HOME, then ~/.cache', () => {
    const env = { STREAMFILL_CACHE_DIR: '/c/sf', XDG_CACHE_HOME: '/x' };
    expect(cacheDir(env, 'linux', HOME)).toBe('/c/sf');
    expect(cacheDir({ XDG_CACHE_HOME: '/x' }, 'linux', HOME)).toBe('/x/streamfill');
    expect(cacheDir({}, 'linux', HOME)).toBe('/home/u/.cache/streamfill');
  });

  it('ignores a relative XDG_CACHE_HOME (the XDG spec) and blank values', () => {
    expect(cacheDir({ XDG_CACHE_HOME: 'rel' }, 'linux', HOME)).toBe('/home/u/.cache/streamfill');
    expect(cacheDir({ STREAMFILL_CACHE_DIR: ' ' }, 'linux', HOME)).toBe(
      '/home/u/.cache/streamfill',
    );
  });

  it('makes a relative STREAMFILL_CACHE_DIR absolute', () => {
    expect(cacheDir({ STREAMFILL_CACHE_DIR: 'c' }, 'linux', HOME)).toBe(join(process.cwd(), 'c'));
  });

  it("uses the platform's cache directory on macOS", () => {
    expect(cacheDir({}, 'darwin', HOME)).toBe('/home/u/Library/Caches/streamfill');
  });
});

describe('where the harness puts things', () => {
  it('downloads and run state go to the cache directory, not the package', () => {
    const p = cachePaths(PACKAGE_ROOT, '/c/sf');
    expect([p.m2, p.services, p.run]).toEqual(['/c/sf/m2', '/c/sf/services', '/c/sf/run']);
    expect(cachePaths().pom).toBe(join(PACKAGE_ROOT, 'services', 'maven', 'pom.xml'));
    expect(lambdaNodeBin('/c/sf')).toBe('/c/sf/node22/node_modules/node/bin/node');
  });

  it('each working directory has its own detached services state, in the cache', () => {
    const a = servicesStateFile({ cwd: '/work/a/app' });
    const b = servicesStateFile({ cwd: '/work/b/app' });
    expect(a).not.toBe(b);
    expect(a.startsWith(join(cacheDir(), 'run', 'detached'))).toBe(true);
    expect(servicesStateFile({ cwd: '/work/a/app' })).toBe(a);
  });
});

describe('findPackageRoot', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamfill-root-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the package's files from source and from dist/, not another package.json", () => {
    expect(findPackageRoot(join(PACKAGE_ROOT, 'local', 'services'))).toBe(PACKAGE_ROOT);
    const pkg = join(dir, 'node_modules', 'streamfill');
    mkdirSync(join(pkg, 'dist', 'local', 'services'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), '{"name":"my-app"}');
    writeFileSync(join(pkg, 'package.json'), '{"name":"streamfill"}');
    expect(findPackageRoot(join(pkg, 'dist', 'local', 'services'))).toBe(pkg);
    expect(() => findPackageRoot(dir)).toThrow(/no streamfill package.json above/);
  });
});
