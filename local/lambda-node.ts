// The Lambda runtime's Node major on this machine, for running the deployed bundles as Lambda
// would: the npm registry's `node` package (a real Node binary) installed under .cache/ by
// `streamfill services install` (CI's install step), never into the project's node_modules.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { LAMBDA_NODE_MAJOR } from '../lib/config/defaults.ts';

const PREFIX = fileURLToPath(new URL(`../.cache/node${LAMBDA_NODE_MAJOR}`, import.meta.url));

/** Where the binary lands. */
export const LAMBDA_NODE_BIN = `${PREFIX}/node_modules/node/bin/node`;

/** The command that installs it (from the repository root). */
export const LAMBDA_NODE_INSTALL = `npm install --no-save --no-audit --no-fund --prefix .cache/node${LAMBDA_NODE_MAJOR} node@${LAMBDA_NODE_MAJOR}`;

/**
 * Installs Node `LAMBDA_NODE_MAJOR` under .cache/ when missing; returns the binary's path.
 *
 * @example
 * const node = await ensureLambdaNode(); // …/.cache/node22/node_modules/node/bin/node
 */
export async function ensureLambdaNode(): Promise<string> {
  if (!existsSync(LAMBDA_NODE_BIN)) {
    const [cmd, ...args] = LAMBDA_NODE_INSTALL.replace(
      `.cache/node${LAMBDA_NODE_MAJOR}`,
      PREFIX,
    ).split(' ') as [string, ...string[]];
    await promisify(execFile)(cmd, args, { maxBuffer: 16 * 1024 * 1024 });
  }
  return LAMBDA_NODE_BIN;
}
