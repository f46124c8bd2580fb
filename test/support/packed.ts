// The package as a user installs it: `npm pack` (prepack builds dist/), then `npm install
// <tarball>` into `dir` beside aws-cdk-lib, constructs and esbuild at the versions this
// repository pins (so --prefer-offline finds them in npm's cache).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const devDependencies = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  }
).devDependencies;

/** Packs and installs into `dir` (an ESM app named `name`); returns the tarball's file list. */
export function installPacked(dir: string, name: string): string[] {
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', dir], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  ) as { filename: string; files: { path: string }[] }[];
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  const started = Date.now();
  execFileSync(
    'npm',
    [
      'install',
      '--prefer-offline',
      '--no-audit',
      '--no-fund',
      join(dir, packed[0]!.filename),
      ...['aws-cdk-lib', 'constructs', 'esbuild'].map((p) => `${p}@${devDependencies[p]}`),
    ],
    { cwd: dir, stdio: 'ignore' },
  );
  console.log(`npm install of the tarball: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return packed[0]!.files.map((f) => f.path);
}
