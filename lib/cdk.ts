// The `streamfill/cdk` entry point: the constructs a CDK app deploys, their props and the alarms'
// public types. A separate entry from `streamfill` because it needs aws-cdk-lib and constructs
// (the app's own copies: peer dependencies, so `instanceof` checks see one aws-cdk-lib).
export {
  ContinuousBackfill,
  ContinuousBackfillPropsError,
} from './infra/constructs/continuous-backfill.ts';
export type { ContinuousBackfillProps } from './infra/constructs/continuous-backfill.ts';
export { SynthConfigError } from './infra/constructs/user-config.ts';
export { LiveMigration, LiveMigrationPropsError } from './infra/constructs/live-migration.ts';
export type {
  DeclaredTables,
  ImportedTable,
  LiveMigrationProps,
} from './infra/constructs/live-migration.ts';
export { INDEX_MIGRATION_PHASES, IndexMigration } from './infra/constructs/index-migration.ts';
export type {
  IndexChange,
  IndexDefinition,
  IndexMigrationPhase,
  IndexMigrationProps,
} from './infra/constructs/index-migration.ts';
export { LiveMigrationAlarms, STREAM_CONSUMER_METRICS } from './infra/constructs/alarms.ts';
export type { LiveMigrationAlarmsProps } from './infra/constructs/alarms.ts';
export { BackfillAlarms } from './infra/constructs/backfill-alarms.ts';
export type { BackfillAlarmsProps } from './infra/constructs/backfill-alarms.ts';
export type { SearchAccessProps } from './infra/constructs/search-access.ts';
