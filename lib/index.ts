// The `streamfill` entry point: what a config file imports. Light on purpose (no AWS SDK, no
// CDK): the same file is imported by the CLI, by CDK synth and by the Lambda bundle.
export {
  defineConfig,
  defineCopy,
  defineLookup,
  defineMigration,
  defineSearch,
  defineTable,
  isMalformedDerivation,
  malformed,
  MalformedDerivation,
} from './core/config/define.ts';
export type {
  AnyMigrationDef,
  CopyDef,
  CopyTarget,
  DeriveContext,
  DeriveItem,
  Derived,
  LookupDef,
  LookupIndex,
  LookupResult,
  MigrationDef,
  SearchDef,
  StreamfillConfig,
  TableDef,
  TableKey,
} from './core/config/define.ts';
export { ConfigError, resolveConfig } from './core/config/resolve.ts';
export type { ResolvedConfig } from './core/config/resolve.ts';
