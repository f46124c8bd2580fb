// The setup every test file of the backfill CLI shares: SDK clients, a temporary directory, and
// the child's environment. The search migration is off (every scanned item is enqueued: the
// scanner has no attribute filter), and no stream consumer runs (a fresh heartbeat stands for
// it), so there is no canary to read.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { destroyClients, makeClients, type Clients } from '../../lib/adapters/clients.ts';
import { runCli, type CliResult } from './cli.ts';

export interface BackfillCliSetup {
  /** Set in beforeAll. */
  clients: Clients;
  /** A temporary directory, removed in afterAll. */
  dir: string;
  /** The CLI child's environment. */
  env: NodeJS.ProcessEnv;
  /** Runs `streamfill …args` in that environment. */
  streamfill: (...args: string[]) => Promise<CliResult>;
}

/** Registers the setup (beforeAll) and its teardown (afterAll); `tmpPrefix` names the directory. */
export function useBackfillCli(tmpPrefix: string): BackfillCliSetup {
  const setup = {
    streamfill: (...args: string[]) => runCli(args, setup.env),
  } as BackfillCliSetup;
  beforeAll(async () => {
    setup.clients = makeClients({ searchEndpoint: undefined });
    setup.dir = await mkdtemp(join(tmpdir(), tmpPrefix));
    setup.env = { ...process.env, CI: '1', STREAMFILL_CANARY: 'off' };
    delete setup.env.SEARCH_ENDPOINT;
  });
  afterAll(async () => {
    destroyClients(setup.clients);
    await rm(setup.dir, { recursive: true, force: true });
  });
  return setup;
}
