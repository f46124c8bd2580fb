// A config as the engine uses it: validated once, with every problem named, before any side
// effect. The CLI, the local runner and the Lambda handlers all go through resolveConfig.
import type {
  AnyMigrationDef,
  LookupDef,
  MigrationDef,
  SearchDef,
  StreamfillConfig,
  TableDef,
} from './define.ts';

/** Every problem of a config at once, each naming the declaration it is about. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`invalid streamfill config:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.issues = issues;
  }
}

export interface ResolvedConfig {
  readonly config: StreamfillConfig;
  /** Declared tables by declared name. */
  readonly tables: ReadonlyMap<string, TableDef>;
  /** Every migration in planning order. */
  readonly migrations: readonly AnyMigrationDef[];
  /** Migrations by name. */
  readonly byName: ReadonlyMap<string, AnyMigrationDef>;
  /** Every lookup some migration declares, by name. */
  readonly lookups: ReadonlyMap<string, LookupDef>;
  /** Declared names of the tables some migration drives, in config order. */
  readonly migratedTables: readonly string[];
  /** The migrations on by default: all but the opt-in ones. */
  readonly defaultMigrations: readonly string[];
}

export function isItemMigration(m: AnyMigrationDef): m is MigrationDef {
  return m.kind === 'streamfill.migration';
}

export function isSearchMigration(m: AnyMigrationDef): m is SearchDef {
  return m.kind === 'streamfill.search';
}

/** Validates `config` (any value: it comes from a user's file) or throws ConfigError. */
export function resolveConfig(config: unknown): ResolvedConfig {
  const issues: string[] = [];
  const c = config as Partial<StreamfillConfig> | null | undefined;
  if (!c || typeof c !== 'object') throw new ConfigError(['the config is not an object']);
  if (!Array.isArray(c.tables)) issues.push('tables: expected a list of defineTable(…)');
  if (!Array.isArray(c.migrations))
    issues.push('migrations: expected a list of defineMigration(…) / defineSearch(…)');
  if (issues.length) throw new ConfigError(issues);
  const tables = new Map<string, TableDef>();
  for (const t of c.tables as readonly TableDef[]) {
    if (t?.kind !== 'streamfill.table')
      issues.push(`tables: ${JSON.stringify(t)} is not a defineTable(…)`);
    else if (tables.has(t.name)) issues.push(`table "${t.name}" is declared twice`);
    else tables.set(t.name, t);
  }
  const byName = new Map<string, AnyMigrationDef>();
  const lookups = new Map<string, LookupDef>();
  for (const m of c.migrations as readonly AnyMigrationDef[]) {
    if (m?.kind !== 'streamfill.migration' && m?.kind !== 'streamfill.search') {
      issues.push(
        `migrations: ${JSON.stringify(m)} is not a defineMigration(…) or defineSearch(…)`,
      );
      continue;
    }
    if (byName.has(m.name)) issues.push(`migration "${m.name}" is declared twice`);
    byName.set(m.name, m);
    if (!tables.has(m.table?.name)) {
      issues.push(`migration "${m.name}": table "${m.table?.name}" is not in tables`);
    }
    if (isItemMigration(m)) for (const l of m.lookups ?? []) lookups.set(l.name, l);
  }
  if (issues.length) throw new ConfigError(issues);
  const migrations = [...byName.values()];
  return {
    config: c as StreamfillConfig,
    tables,
    migrations,
    byName,
    lookups,
    migratedTables: [...new Set(migrations.map((m) => m.table.name))],
    defaultMigrations: migrations.filter((m) => !m.optIn).map((m) => m.name),
  };
}
