// The Lambda runtime's Node major on this machine, for running the deployed bundles as Lambda
// would: the npm registry's `node` package (a real Node binary) installed into the user's cache
// directory (local/cache-dir.ts) by `streamfill services install` (CI's install step) or on first
// use, never into a project's node_modules.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LAMBDA_NODE_MAJOR } from '../lib/config/defaults.ts';
import { cacheDir } from './cache-dir.ts';

/** The npm prefix the binary is installed under: `<cache>/node<major>`. */
export const lambdaNodePrefix = (cache: string = cacheDir()): string =>
  join(cache, `node${LAMBDA_NODE_MAJOR}`);

/** Where the binary lands. */
export const lambdaNodeBin = (cache: string = cacheDir()): string =>
  join(lambdaNodePrefix(cache), 'node_modules', 'node', 'bin', 'node');

/** The npm arguments that install it under `prefix`. */
const installArgs = (prefix: string): string[] => [
  'install',
  '--no-save',
  '--no-audit',
  '--no-fund',
  '--prefix',
  prefix,
  `node@${LAMBDA_NODE_MAJOR}`,
];

/**
 * Installs Node `LAMBDA_NODE_MAJOR` into the cache when missing; returns the binary's path.
 *
 * @example
 * const node = await ensureLambdaNode(); // ~/.cache/streamfill/node22/node_modules/node/bin/node
 */
export async function ensureLambdaNode(cache: string = cacheDir()): Promise<string> {
  const bin = lambdaNodeBin(cache);
  if (!existsSync(bin)) {
    await promisify(execFile)('npm', installArgs(lambdaNodePrefix(cache)), {
      maxBuffer: 16 * 1024 * 1024,
    });
  }
  return bin;
}
