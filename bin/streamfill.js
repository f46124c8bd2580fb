#!/usr/bin/env node
// The `streamfill` command. Installed, it runs the compiled CLI in dist/ on plain node. In a
// checkout (scripts/cli.ts is there) it runs the TypeScript through tsx, so no build step is
// needed and a stale dist/ is never run.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const source = new URL('../scripts/cli.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/scripts/cli.js');
}
