// Where the harness keeps what it downloads (the services' jars, the Lambda runtime's Node) and
// its run state: the user's cache directory, never the package directory, so a checkout and
// every project that installs streamfill share one download per machine. Also where the
// package's own files (services/maven/pom.xml, docker-compose.yml) are, from source or dist/.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Overrides the cache directory (any path; a relative one is taken from the working directory). */
export const CACHE_DIR_ENV = 'STREAMFILL_CACHE_DIR';

/**
 * The cache directory: `$STREAMFILL_CACHE_DIR`, else `$XDG_CACHE_HOME/streamfill` (an absolute
 * XDG path only, as the XDG spec says), else the platform's user cache: `~/Library/Caches/streamfill`
 * on macOS, `%LOCALAPPDATA%\streamfill\Cache` on Windows, `~/.cache/streamfill` elsewhere.
 *
 * @example
 * cacheDir({ XDG_CACHE_HOME: '/var/cache/me' }); // '/var/cache/me/streamfill'
 */
export function cacheDir(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): string {
  const own = env[CACHE_DIR_ENV]?.trim();
  if (own) return resolve(own);
  const xdg = env.XDG_CACHE_HOME?.trim();
  if (xdg && isAbsolute(xdg)) return join(xdg, 'streamfill');
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'streamfill');
  const local = env.LOCALAPPDATA?.trim();
  if (platform === 'win32' && local) return join(local, 'streamfill', 'Cache');
  return join(home, '.cache', 'streamfill');
}

/**
 * The directory of streamfill's package.json: the checkout's root when running from source, the
 * installed package's root when running from dist/ (one level deeper), found by walking up.
 */
export function findPackageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      const { name } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string };
      if (name === 'streamfill') return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no streamfill package.json above ${from}`);
  }
}

/** streamfill's package root (where services/maven/pom.xml and docker-compose.yml live). */
export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
