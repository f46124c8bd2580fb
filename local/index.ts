// The `streamfill/local` entry point: what a user's own tests need to run streamfill locally —
// start/stop the local services (in-process, or detached like `streamfill services up`) and read
// their endpoints, the local runner (the deployed handlers fed by emulated event source
// mappings), the clients and engine dependencies it takes, seeding, and the cache directory.
export {
  applyServiceEnv,
  chooseProvider,
  readServicesState,
  renderEnvLines,
  SERVICE_ENV_KEYS,
  serviceEnvFromProcessEnv,
  servicesDown,
  servicesEnvLines,
  servicesStateFile,
  servicesUp,
  startLocalServices,
} from './services/index.ts';
export type {
  DetachedOptions,
  LocalServices,
  ProviderChoice,
  ServiceEnv,
  ServicesDownResult,
  ServicesProvider,
  ServicesState,
  ServicesUpOptions,
  ServicesUpResult,
  StartLocalServicesOptions,
} from './services/index.ts';
export { CACHE_DIR_ENV, cacheDir } from './cache-dir.ts';
export { startLocalRunner } from './runner.ts';
export type { LocalRunner, LocalRunnerOptions, RunnerCounts } from './runner.ts';
export { seed } from './seed.ts';
export type { SeedOptions, SeedResult, SeedTargets } from './seed.ts';
export { putItems } from './pika-tables.ts';
export { destroyClients, makeClients } from '../lib/adapters/clients.ts';
export type { ClientOptions, Clients } from '../lib/adapters/clients.ts';
export { engineDeps } from '../lib/engine/deps.ts';
export type { EngineDepsOptions } from '../lib/engine/deps.ts';
