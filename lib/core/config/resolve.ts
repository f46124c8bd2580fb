// A config as the engine uses it: validated once, with every problem named, before any side
// effect. The CLI, the local runner and the Lambda handlers all go through resolveConfig.
import type {
  AnyMigrationDef,
  CopyDef,
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
  /** Every migration name, in planning order. */
  readonly allMigrations: readonly string[];
}

export function isItemMigration(m: AnyMigrationDef): m is MigrationDef {
  return m.kind === 'streamfill.migration';
}

export function isSearchMigration(m: AnyMigrationDef): m is SearchDef {
  return m.kind === 'streamfill.search';
}

export function isCopy(m: AnyMigrationDef): m is CopyDef {
  return m.kind === 'streamfill.copy';
}

/** The table whose items (and stream) drive a migration, search or copy. */
export function sourceTableOf(m: AnyMigrationDef): TableDef {
  return isCopy(m) ? m.from : m.table;
}

/** Attributes the engine keeps on copied items: a copy's derive may neither read nor return them. */
export const BOOKKEEPING_PREFIX = 'streamfill_';

/** A value as shown in an issue: short, and never `[object Object]`. */
export function show(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (value === undefined) return 'undefined';
  if (typeof value === 'symbol' || typeof value === 'bigint') return String(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const isName = (v: unknown): v is string => typeof v === 'string' && v.trim() !== '';

/** Issues of a list of attribute names (`what` names the declaration and the field). */
function nameListIssues(what: string, value: unknown, nonEmpty: boolean): string[] {
  if (!Array.isArray(value))
    return [`${what}: expected a list of attribute names, got ${show(value)}`];
  const issues: string[] = [];
  if (nonEmpty && value.length === 0) issues.push(`${what}: must name at least one attribute`);
  for (const v of value) if (!isName(v)) issues.push(`${what}: ${show(v)} is not a non-empty name`);
  const dup = value.filter((v, i) => value.indexOf(v) !== i);
  for (const d of new Set(dup)) issues.push(`${what}: ${show(d)} is listed twice`);
  return issues;
}

function optionalIssues(what: string, d: { optIn?: unknown; description?: unknown }): string[] {
  const issues: string[] = [];
  if (d.optIn !== undefined && typeof d.optIn !== 'boolean')
    issues.push(`${what}: optIn must be true or false, got ${show(d.optIn)}`);
  if (d.description !== undefined && typeof d.description !== 'string')
    issues.push(`${what}: description must be a string, got ${show(d.description)}`);
  return issues;
}

function tableIssues(t: TableDef): string[] {
  const what = `table "${t.name}"`;
  const issues: string[] = [];
  const key: unknown = t.key;
  if (
    !Array.isArray(key) ||
    (key.length !== 1 && key.length !== 2) ||
    !key.every(isName) ||
    new Set(key).size !== key.length
  ) {
    issues.push(
      `${what}: key must be 1 or 2 distinct non-empty attribute names (partition key first), got ${show(key)}`,
    );
  }
  if (t.ttl !== undefined) {
    if (!isName(t.ttl)) issues.push(`${what}: ttl must be a non-empty name, got ${show(t.ttl)}`);
    else if (Array.isArray(key) && key.includes(t.ttl))
      issues.push(`${what}: ttl ${show(t.ttl)} is a key attribute`);
  }
  if (t.localName !== undefined && !isName(t.localName))
    issues.push(`${what}: localName must be a non-empty name, got ${show(t.localName)}`);
  return issues;
}

/** The declared table a migration or lookup refers to, or an issue. */
function tableRefIssues(
  what: string,
  table: TableDef | undefined,
  tables: ReadonlyMap<string, TableDef>,
): string[] {
  const declared = tables.get(table?.name as string);
  if (!declared) return [`${what}: table ${show(table?.name)} is not in tables`];
  if (declared !== table && show(declared.key) !== show(table?.key))
    return [
      `${what}: table "${declared.name}" has key ${show(table?.key)}, but tables declares ${show(declared.key)}`,
    ];
  return [];
}

function lookupIssues(l: LookupDef, tables: ReadonlyMap<string, TableDef>): string[] {
  const what = `lookup "${l.name}"`;
  return [
    ...tableRefIssues(what, l.table, tables),
    ...(typeof l.key === 'function' ? [] : [`${what}: key must be a function, got ${show(l.key)}`]),
    ...nameListIssues(`${what}: attributes`, l.attributes, true),
  ];
}

function itemMigrationIssues(m: MigrationDef, tables: ReadonlyMap<string, TableDef>): string[] {
  const what = `migration "${m.name}"`;
  const issues = [
    ...tableRefIssues(what, m.table, tables),
    ...nameListIssues(`${what}: inputs`, m.inputs, false),
    ...nameListIssues(`${what}: writes`, m.writes, true),
    ...optionalIssues(what, m),
  ];
  const table = tables.get(m.table?.name);
  if (table && Array.isArray(m.writes)) {
    for (const w of m.writes) {
      if (Array.isArray(table.key) && (table.key as readonly string[]).includes(w))
        issues.push(`${what}: writes ${show(w)}, a key attribute of table "${table.name}"`);
      if (w === table.ttl)
        issues.push(`${what}: writes ${show(w)}, the ttl attribute of table "${table.name}"`);
    }
  }
  if (typeof m.derive !== 'function')
    issues.push(`${what}: derive must be a function, got ${show(m.derive)}`);
  issues.push(...lookupListIssues(what, m.lookups));
  return issues;
}

function searchIssues(s: SearchDef, tables: ReadonlyMap<string, TableDef>): string[] {
  const what = `search "${s.name}"`;
  const issues = [...tableRefIssues(what, s.table, tables), ...optionalIssues(what, s)];
  if (!isName(s.index))
    issues.push(`${what}: index must be a non-empty name, got ${show(s.index)}`);
  if (!isName(s.version))
    issues.push(`${what}: version must be a non-empty attribute name, got ${show(s.version)}`);
  if (typeof s.id !== 'function') issues.push(`${what}: id must be a function, got ${show(s.id)}`);
  const fields: unknown = s.fields;
  if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) {
    issues.push(`${what}: fields must map index fields to attributes, got ${show(fields)}`);
  } else {
    const entries = Object.entries(fields);
    if (entries.length === 0) issues.push(`${what}: fields must declare at least one field`);
    for (const [field, attribute] of entries) {
      if (!isName(field)) issues.push(`${what}: fields: ${show(field)} is not a field name`);
      if (!isName(attribute))
        issues.push(`${what}: field "${field}" must name an attribute, got ${show(attribute)}`);
    }
  }
  return issues;
}

function lookupListIssues(what: string, lookups: unknown): string[] {
  if (lookups === undefined) return [];
  if (!Array.isArray(lookups))
    return [`${what}: lookups must be a list of defineLookup(…), got ${show(lookups)}`];
  return lookups.flatMap((l) =>
    (l as { kind?: unknown } | undefined)?.kind === 'streamfill.lookup'
      ? []
      : [`${what}: lookups: ${show(l)} is not a defineLookup(…)`],
  );
}

function copyIssues(c: CopyDef, tables: ReadonlyMap<string, TableDef>): string[] {
  const what = `copy "${c.name}"`;
  const issues = [
    ...tableRefIssues(`${what}: from`, c.from, tables),
    ...nameListIssues(`${what}: inputs`, c.inputs, false),
    ...optionalIssues(what, c),
    ...lookupListIssues(what, c.lookups),
  ];
  if (!Array.isArray(c.to) || c.to.length === 0) {
    issues.push(`${what}: to must list at least one defineTable(…), got ${show(c.to)}`);
  } else {
    for (const t of c.to) {
      issues.push(...tableRefIssues(`${what}: to`, t, tables));
      // Its own targets would come back through the source's stream as new sources.
      if (t?.name === c.from?.name)
        issues.push(`${what}: to lists the source table "${t.name}" (a copy writes other tables)`);
    }
  }
  for (const i of Array.isArray(c.inputs) ? c.inputs : []) {
    if (typeof i === 'string' && i.startsWith(BOOKKEEPING_PREFIX))
      issues.push(`${what}: input ${show(i)} uses the reserved prefix "${BOOKKEEPING_PREFIX}"`);
  }
  if (typeof c.derive !== 'function')
    issues.push(`${what}: derive must be a function, got ${show(c.derive)}`);
  return issues;
}

/** Issues that span declarations: shared attributes, fields and versions. */
function crossIssues(migrations: readonly AnyMigrationDef[]): string[] {
  const issues: string[] = [];
  const writers = new Map<string, string>(); // table \0 attribute → migration
  const fieldOwners = new Map<string, string>(); // index \0 field → search
  const versions = new Map<string, SearchDef>(); // table \0 index → first search
  for (const m of migrations) {
    if (isItemMigration(m)) {
      for (const w of Array.isArray(m.writes) ? m.writes : []) {
        const id = `${m.table?.name}\0${w}`;
        const other = writers.get(id);
        if (other && other !== m.name)
          issues.push(
            `migration "${m.name}": writes ${show(w)}, already written by migration "${other}" of table "${m.table?.name}"`,
          );
        else writers.set(id, m.name);
      }
    } else if (isSearchMigration(m) && typeof m.fields === 'object' && m.fields !== null) {
      for (const field of Object.keys(m.fields)) {
        const id = `${m.index}\0${field}`;
        const other = fieldOwners.get(id);
        if (other)
          issues.push(
            `search "${m.name}": field ${show(field)} of index ${show(m.index)} is already declared by search "${other}"`,
          );
        else fieldOwners.set(id, m.name);
      }
      const first = versions.get(`${m.table?.name}\0${m.index}`);
      if (!first) versions.set(`${m.table?.name}\0${m.index}`, m);
      else if (first.version !== m.version)
        // One guarded update per document: one version attribute orders it.
        issues.push(
          `search "${m.name}": version ${show(m.version)} differs from ${show(first.version)} of search "${first.name}" on the same index ${show(m.index)}`,
        );
    }
  }
  return issues;
}

/** Validates `config` (any value: it comes from a user's file) or throws ConfigError. */
export function resolveConfig(config: unknown): ResolvedConfig {
  const issues: string[] = [];
  const c = config as Partial<StreamfillConfig> | null | undefined;
  if (!c || typeof c !== 'object')
    throw new ConfigError([`the config is not an object, got ${show(config)}`]);
  if (!Array.isArray(c.tables))
    issues.push(`tables: expected a list of defineTable(…), got ${show(c.tables)}`);
  if (!Array.isArray(c.migrations))
    issues.push(
      `migrations: expected a list of defineMigration(…) / defineSearch(…) / defineCopy(…), got ${show(c.migrations)}`,
    );
  if (issues.length) throw new ConfigError(issues);

  const tables = new Map<string, TableDef>();
  for (const t of c.tables as readonly TableDef[]) {
    if (t?.kind !== 'streamfill.table') {
      issues.push(`tables: ${show(t)} is not a defineTable(…)`);
      continue;
    }
    if (!isName(t.name)) {
      issues.push(`tables: a table's name must be a non-empty name, got ${show(t.name)}`);
      continue;
    }
    if (tables.has(t.name)) issues.push(`table "${t.name}" is declared twice`);
    else tables.set(t.name, t);
    issues.push(...tableIssues(t));
  }

  const byName = new Map<string, AnyMigrationDef>();
  const lookups = new Map<string, LookupDef>();
  const migrations: AnyMigrationDef[] = [];
  for (const m of c.migrations as readonly AnyMigrationDef[]) {
    if (
      m?.kind !== 'streamfill.migration' &&
      m?.kind !== 'streamfill.search' &&
      m?.kind !== 'streamfill.copy'
    ) {
      issues.push(
        `migrations: ${show(m)} is not a defineMigration(…), defineSearch(…) or defineCopy(…)`,
      );
      continue;
    }
    if (!isName(m.name)) {
      issues.push(`migrations: a migration's name must be a non-empty name, got ${show(m.name)}`);
      continue;
    }
    if (byName.has(m.name)) {
      issues.push(`migration "${m.name}" is declared twice`);
      continue;
    }
    byName.set(m.name, m);
    migrations.push(m);
    if (isSearchMigration(m)) {
      issues.push(...searchIssues(m, tables));
      continue;
    }
    issues.push(...(isCopy(m) ? copyIssues(m, tables) : itemMigrationIssues(m, tables)));
    for (const l of Array.isArray(m.lookups) ? m.lookups : []) {
      if (l?.kind !== 'streamfill.lookup') continue;
      if (!isName(l.name)) {
        issues.push(
          `migration "${m.name}": a lookup's name must be a non-empty name, got ${show(l.name)}`,
        );
        continue;
      }
      const known = lookups.get(l.name);
      if (known === l) continue;
      if (known) issues.push(`lookup "${l.name}" is declared twice (two different defineLookup)`);
      else {
        lookups.set(l.name, l);
        issues.push(...lookupIssues(l, tables));
      }
    }
  }
  issues.push(...crossIssues(migrations));
  if (issues.length) throw new ConfigError(issues);
  return {
    config: c as StreamfillConfig,
    tables,
    migrations,
    byName,
    lookups,
    migratedTables: [...new Set(migrations.map((m) => sourceTableOf(m).name))],
    defaultMigrations: migrations.filter((m) => !m.optIn).map((m) => m.name),
    allMigrations: migrations.map((m) => m.name),
  };
}
