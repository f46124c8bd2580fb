// Which streamfill config a command uses, loaded and validated before any side effect:
// `--config <file>` > STREAMFILL_CONFIG > ./streamfill.config.ts > the built-in preset.
// TypeScript loads without a build step through tsx's `tsImport` (a runtime dependency), which
// works the same from a checkout and from the installed package run by plain node.
import { stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Command } from 'commander';
import { compilePlanner, type Planner } from '../lib/core/config/planner.ts';
import { ConfigError, resolveConfig, type ResolvedConfig } from '../lib/core/config/resolve.ts';
import {
  resolveTableNames,
  TABLE_NAME_ENV,
  TABLE_NAME_FLAG,
  type PhysicalTableName,
} from '../lib/core/config/table-names.ts';

export const CONFIG_ENV = 'STREAMFILL_CONFIG';
export const CONFIG_FLAG = '--config';
export const DEFAULT_CONFIG_FILE = 'streamfill.config.ts';

/** Where the config came from: a file named by the flag, the variable or the default, or the preset. */
export type ConfigSource =
  | { readonly kind: 'flag' | 'env' | 'default'; readonly path: string }
  | { readonly kind: 'preset' };

export interface LoadedConfig {
  readonly resolved: ResolvedConfig;
  readonly source: ConfigSource;
}

/** A config that cannot be used: the message names the file and what named it. */
export class ConfigLoadError extends Error {
  override readonly name = 'ConfigLoadError';
  /** The resolveConfig issues when the file loaded but is not a valid config. */
  readonly issues: readonly string[];
  constructor(message: string, issues: readonly string[] = []) {
    super(message);
    this.issues = issues;
  }
}

export interface LoadConfigOptions {
  /** The `--config` value. */
  readonly flag?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** The built-in config's default export, used when no file is named and no default exists. */
  readonly preset: () => Promise<unknown>;
}

/** The built-in presets a command can name (`seed --preset`); the first is the default config. */
export const PRESETS = ['pika', 'bedrock-chat-v3'] as const;
export type PresetName = (typeof PRESETS)[number];

// A built-in preset, by URL so this module does not need it to type-check or load; with this
// module's own extension: `.ts` in a checkout, `.js` in dist/ (the URL is not rewritten).
const presetUrl = (name: PresetName) =>
  new URL(`../lib/presets/${name}${extname(new URL(import.meta.url).pathname)}`, import.meta.url);

/**
 * The built-in preset's config (its default export, or a named `config`). Without one, says how
 * to name a config instead.
 */
export async function builtInPreset(name: PresetName = 'pika'): Promise<unknown> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(presetUrl(name).href)) as Record<string, unknown>;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw e;
    throw new ConfigLoadError(
      `no config: pass ${CONFIG_FLAG} FILE, set ${CONFIG_ENV}, or add ${DEFAULT_CONFIG_FILE} to the working directory (this build has no built-in preset)`,
    );
  }
  return exportOf(mod);
}

/**
 * The planner of the config a command runs: `--config` > STREAMFILL_CONFIG >
 * ./streamfill.config.ts > the built-in preset, compiled once. Throws ConfigLoadError.
 */
export async function loadPlanner(
  opts: { config?: string | undefined; preset?: PresetName | undefined },
  where: Pick<LoadConfigOptions, 'env' | 'cwd'> = {},
): Promise<Planner> {
  if (opts.preset !== undefined) {
    // A named preset is the config: no file is looked for (and naming one too is ambiguous).
    if (opts.config !== undefined)
      throw new ConfigLoadError(`${CONFIG_FLAG} and --preset name two configs: pass one`);
    return compilePlanner(resolveConfig(await builtInPreset(opts.preset)));
  }
  const loaded = await loadConfig({ flag: opts.config, preset: builtInPreset, ...where });
  return compilePlanner(loaded.resolved);
}

/** `--config <file>` and the repeatable `--table-name <name=physical>` of a command. */
export function withConfigOptions(cmd: Command): Command {
  return cmd
    .option(
      `${CONFIG_FLAG} <file>`,
      `the config file (env: ${CONFIG_ENV}; default: ./${DEFAULT_CONFIG_FILE}, else the built-in preset)`,
    )
    .option(
      `${TABLE_NAME_FLAG} <name=physical>`,
      `the physical table of a declared table, repeatable (env: ${TABLE_NAME_ENV}, a JSON object)`,
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    );
}

/**
 * The physical name of every table of a loaded config: `--table-name` values, then
 * STREAMFILL_TABLES, then the stack's outputs (declared name → physical name). Throws
 * TableNameError naming each bad value.
 */
export function tableNamesFor(
  resolved: ResolvedConfig,
  opts: { tableName?: readonly string[] },
  env: NodeJS.ProcessEnv = process.env,
  stack?: Readonly<Record<string, string>>,
): ReadonlyMap<string, PhysicalTableName> {
  return resolveTableNames(resolved.tables.values(), {
    flags: opts.tableName ?? [],
    env: env[TABLE_NAME_ENV],
    ...(stack && { stack }),
  });
}

/** `--config FILE` / `STREAMFILL_CONFIG`, for an error or the target line. */
export function describeSource(source: ConfigSource): string {
  switch (source.kind) {
    case 'flag':
      return `${shortPath(source.path)} (from ${CONFIG_FLAG})`;
    case 'env':
      return `${shortPath(source.path)} (from ${CONFIG_ENV})`;
    case 'default':
      return `${shortPath(source.path)} (the default ${DEFAULT_CONFIG_FILE} in the working directory)`;
    case 'preset':
      return 'the built-in preset';
  }
}

/** The source a command uses; a file named explicitly must exist (the default need not). */
export async function findConfig(
  options: Omit<LoadConfigOptions, 'preset'>,
): Promise<ConfigSource> {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const named: ConfigSource | undefined =
    options.flag !== undefined
      ? { kind: 'flag', path: resolve(cwd, options.flag) }
      : env[CONFIG_ENV]
        ? { kind: 'env', path: resolve(cwd, env[CONFIG_ENV]) }
        : undefined;
  if (named) {
    if (options.flag !== undefined && options.flag.trim() === '')
      throw new ConfigLoadError(`${CONFIG_FLAG} is empty: give the path of a config file`);
    if (!(await isFile(named.path)))
      throw new ConfigLoadError(`config file not found: ${describeSource(named)}`);
    return named;
  }
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE);
  return (await isFile(fallback)) ? { kind: 'default', path: fallback } : { kind: 'preset' };
}

/** Finds, imports and validates the config; throws ConfigLoadError, never acts. */
export async function loadConfig(options: LoadConfigOptions): Promise<LoadedConfig> {
  const source = await findConfig(options);
  const where = describeSource(source);
  const exported = source.kind === 'preset' ? await options.preset() : await importConfig(source);
  try {
    return { resolved: resolveConfig(exported), source };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new ConfigLoadError(`${where} is not a valid streamfill config:\n${bullets(e.issues)}`, [
      ...e.issues,
    ]);
  }
}

/** The default export (or a named `config`) of a config file. */
async function importConfig(source: Exclude<ConfigSource, { kind: 'preset' }>): Promise<unknown> {
  const where = describeSource(source);
  let mod: Record<string, unknown>;
  try {
    const { tsImport } = await import('tsx/esm/api');
    mod = (await tsImport(pathToFileURL(source.path).href, import.meta.url)) as Record<
      string,
      unknown
    >;
  } catch (e) {
    throw new ConfigLoadError(`${where} failed to load: ${loadFailure(e, source.path)}`);
  }
  const exported = exportOf(mod);
  if (exported === undefined) {
    const names = Object.keys(mod).filter((k) => k !== 'default');
    throw new ConfigLoadError(
      `${where} has no default export (nor a named "config"): end it with \`export default defineConfig({ … })\`` +
        (names.length ? `; it exports ${names.join(', ')}` : ''),
    );
  }
  return exported;
}

/**
 * `default`, else `config`. A file tsx compiles as CommonJS (its package.json has no
 * `"type": "module"`) arrives as `{ default: module.exports }`: its exports are one level down.
 */
function exportOf(mod: Record<string, unknown>): unknown {
  const inner = mod.default as Record<string, unknown> | undefined;
  const exports = inner && typeof inner === 'object' && '__esModule' in inner ? inner : mod;
  return exports.default ?? exports.config;
}

/**
 * What went wrong while importing, with the location in the config file: esbuild's syntax
 * error already says `file:line:col`; a throw while the file runs gets the first stack frame
 * inside the file (tsx maps it back to the TypeScript source).
 */
function loadFailure(e: unknown, path: string): string {
  if (!(e instanceof Error)) return String(e);
  const syntax = /Transform failed with \d+ errors?:\n([^\n]+)/.exec(e.message);
  if (syntax) return `syntax error at ${shortPath(syntax[1]!)}`;
  if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return e.message;
  // A frame is `/path/file.ts:L:C` or, from tsx's namespace, `file:///path/file.ts?tsx-…:L:C`.
  const names = [path, pathToFileURL(path).pathname].map(escape).join('|');
  const frame = new RegExp(`(?:file://)?(?:${names})(?:\\?[^:\\s)]*)?:(\\d+):(\\d+)`);
  const at = e.stack
    ?.split('\n')
    .map((line) => frame.exec(line))
    .find(Boolean);
  const location = at ? ` (at ${shortPath(path)}:${at[1]}:${at[2]})` : '';
  return `${e.name}: ${e.message}${location}`;
}

/** Paths under the working directory, relative: the operator's own view of the file. */
function shortPath(text: string): string {
  return text.split(`${process.cwd()}${sep}`).join('');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function bullets(issues: readonly string[]): string {
  return issues.map((i) => `  - ${i}`).join('\n');
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
