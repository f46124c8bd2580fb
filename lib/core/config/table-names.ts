// Declared table name → physical DynamoDB table name. The config names tables once (`orders`);
// each environment says where they live. Pure: the caller reads the flags, the variable and the
// stack's outputs and passes them in; every problem is collected and named with its source.
import type { TableDef } from './define.ts';

/** Where a physical name came from, in order of precedence. */
export type TableNameSource = 'flag' | 'env' | 'stack' | 'localName' | 'declared';

export interface PhysicalTableName {
  readonly name: string;
  readonly from: TableNameSource;
}

export interface TableNameInputs {
  /** Every `--table-name declared=physical` value, in the order given. */
  readonly flags?: readonly string[];
  /** The raw `STREAMFILL_TABLES` value: a JSON object, declared name → physical name. */
  readonly env?: string | undefined;
  /**
   * Physical names read from a deployed stack's outputs, by declared name. Names the config
   * does not declare are ignored: one stack may serve several configs.
   */
  readonly stack?: Readonly<Record<string, string>>;
}

export const TABLE_NAME_FLAG = '--table-name';
export const TABLE_NAME_ENV = 'STREAMFILL_TABLES';

/** Every problem of the table-name settings at once, each naming its flag or variable and value. */
export class TableNameError extends Error {
  override readonly name = 'TableNameError';
  readonly issues: readonly string[];
  constructor(issues: readonly string[]) {
    super(`invalid table names:\n${issues.map((i) => `  - ${i}`).join('\n')}`);
    this.issues = issues;
  }
}

// DynamoDB's own rule, checked here so a typo fails before any request.
const PHYSICAL = /^[A-Za-z0-9_.-]{3,255}$/;
const PHYSICAL_RULE = '3 to 255 characters of A-Z, a-z, 0-9, "_", "-", "."';

/**
 * The physical name of every declared table: `--table-name` > `STREAMFILL_TABLES` > the stack's
 * outputs > the table's `localName` > its declared name. Throws TableNameError naming every
 * bad value, unknown declared name and two tables sharing one physical name.
 */
export function resolveTableNames(
  tables: Iterable<TableDef>,
  inputs: TableNameInputs = {},
): ReadonlyMap<string, PhysicalTableName> {
  const declared = new Map([...tables].map((t) => [t.name, t]));
  const known = [...declared.keys()].join(', ') || 'none';
  const issues: string[] = [];
  const checkName = (where: string, table: string, physical: unknown): physical is string => {
    if (!declared.has(table)) {
      issues.push(`${where}: no table "${table}" is declared (declared: ${known})`);
      return false;
    }
    if (typeof physical !== 'string' || !PHYSICAL.test(physical)) {
      issues.push(`${where}: the physical name must be ${PHYSICAL_RULE}`);
      return false;
    }
    return true;
  };

  const fromFlags = new Map<string, string>();
  for (const value of inputs.flags ?? []) {
    const where = `${TABLE_NAME_FLAG} ${JSON.stringify(value)}`;
    const eq = value.indexOf('=');
    const table = value.slice(0, eq).trim();
    const physical = value.slice(eq + 1).trim();
    if (eq < 0 || !table || !physical) {
      issues.push(`${where}: expected <declared name>=<physical name>, e.g. orders=orders-prod`);
    } else if (checkName(where, table, physical)) {
      const before = fromFlags.get(table);
      if (before !== undefined && before !== physical)
        issues.push(`${where}: "${table}" is already mapped to "${before}" by ${TABLE_NAME_FLAG}`);
      else fromFlags.set(table, physical);
    }
  }

  const fromEnv = new Map<string, string>();
  if (inputs.env !== undefined && inputs.env.trim() !== '') {
    const where = `${TABLE_NAME_ENV}=${inputs.env}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(inputs.env);
    } catch (e) {
      issues.push(`${where}: not JSON (${(e as Error).message})`);
    }
    if (parsed !== undefined && (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))) {
      issues.push(`${where}: expected a JSON object, declared name → physical name`);
    } else if (parsed !== undefined) {
      for (const [table, physical] of Object.entries(parsed as Record<string, unknown>)) {
        const at = `${TABLE_NAME_ENV} "${table}": ${JSON.stringify(physical)}`;
        if (typeof physical !== 'string') {
          if (declared.has(table)) issues.push(`${at}: the physical name must be a string`);
          else checkName(at, table, physical);
        } else if (checkName(at, table, physical)) fromEnv.set(table, physical);
      }
    }
  }

  const names = new Map<string, PhysicalTableName>();
  for (const [table, def] of declared) {
    const stack = inputs.stack?.[table];
    const chosen: PhysicalTableName = fromFlags.has(table)
      ? { name: fromFlags.get(table)!, from: 'flag' }
      : fromEnv.has(table)
        ? { name: fromEnv.get(table)!, from: 'env' }
        : stack
          ? { name: stack, from: 'stack' }
          : def.localName
            ? { name: def.localName, from: 'localName' }
            : { name: table, from: 'declared' };
    names.set(table, chosen);
  }

  // Two declared tables on one physical table would have each migration read the other's items.
  const byPhysical = new Map<string, string[]>();
  for (const [table, { name }] of names)
    byPhysical.set(name, [...(byPhysical.get(name) ?? []), table]);
  for (const [physical, shared] of byPhysical) {
    if (shared.length > 1) {
      const each = shared.map((t) => `"${t}" (${describeTableNameSource(names.get(t)!.from)})`);
      issues.push(
        `tables ${each.join(' and ')} are both mapped to the physical table "${physical}"`,
      );
    }
  }
  if (issues.length) throw new TableNameError(issues);
  return names;
}

/** How the CLI names where a physical name came from. */
export function describeTableNameSource(from: TableNameSource): string {
  switch (from) {
    case 'flag':
      return TABLE_NAME_FLAG;
    case 'env':
      return TABLE_NAME_ENV;
    case 'stack':
      return 'stack output';
    case 'localName':
      return 'localName';
    case 'declared':
      return 'declared name';
  }
}

/** The physical name of a declared table; throws naming it when the map has none. */
export function physicalTable(tables: Readonly<Record<string, string>>, table: string): string {
  const name = tables[table];
  if (name === undefined) throw new Error(`no physical table name for declared table "${table}"`);
  return name;
}
