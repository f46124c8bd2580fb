// Detached local services for the CLI (`streamfill services up|down|env`): they outlive the
// command and are described by a state file in the cache, one per working directory (two
// checkouts or projects never find, nor stop, each other's); one up/down at a time per file.

import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../cache-dir.ts';
import { composeDown, composeHealthy, composeUp } from './docker.ts';
import { commandLine, isAlive, runTag, taggedPids, terminatePid } from './java-process.ts';
import { startJavaServices, type JavaServiceInfo } from './java.ts';
import { cachePaths, SERVICE_NAMES, type Log, type ServiceName } from './maven-jars.ts';
import { probeDynamoDb, probeOpenSearch, probeSqs } from './probes.ts';
import { chooseProvider, providerFromEnv, type ProviderChoice } from './provider.ts';
import { renderEnvLines, type ServiceEnv } from './service-env.ts';

export interface DetachedOptions {
  /** streamfill's package root (docker-compose.yml, the pom). @default PACKAGE_ROOT */
  root?: string;
  /** Whose services these are. @default process.cwd() */
  cwd?: string;
  /** @default `<cache>/run/detached/<cwd's name>-<hash of cwd>/services.json` */
  stateFile?: string;
}

export interface ServicesUpOptions extends DetachedOptions {
  provider?: ProviderChoice;
  timeoutMs?: number;
  log?: Log;
}

interface JavaState {
  version: 1;
  provider: 'java';
  startedAt: string;
  stateDir: string;
  tag: string;
  services: Record<ServiceName, JavaServiceInfo>;
  env: ServiceEnv;
}

interface DockerState {
  version: 1;
  provider: 'docker';
  startedAt: string;
  env: ServiceEnv;
}

export type ServicesState = JavaState | DockerState;

export interface ServicesUpResult {
  env: ServiceEnv;
  provider: 'java' | 'docker';
  /** True when healthy services were already running: nothing was started. */
  alreadyRunning: boolean;
  stateFile: string;
  state: ServicesState;
}

export interface ServicesDownResult {
  /** False when nothing was running. */
  stopped: boolean;
  provider?: 'java' | 'docker';
  /** Pids whose command line no longer matched ours (left alone). */
  skipped: number[];
}

const NOT_RUNNING = 'services are not running: run `streamfill services up`';

/** The state file of the working directory's detached services (see DetachedOptions). */
export function servicesStateFile(opts: DetachedOptions = {}): string {
  if (opts.stateFile) return opts.stateFile;
  const project = resolve(opts.cwd ?? process.cwd());
  const id = createHash('sha256').update(project).digest('hex').slice(0, 12);
  const key = `${basename(project) || 'root'}-${id}`;
  return join(cachePaths().run, 'detached', key, 'services.json');
}

function detachedDir(opts: DetachedOptions): string {
  return join(dirname(servicesStateFile(opts)), 'detached');
}

export function readServicesState(opts: DetachedOptions = {}): ServicesState | undefined {
  const file = servicesStateFile(opts);
  if (!existsSync(file)) return undefined;
  try {
    const state = JSON.parse(readFileSync(file, 'utf8')) as ServicesState;
    if (state?.version !== 1 || (state.provider !== 'java' && state.provider !== 'docker'))
      return undefined;
    return state;
  } catch {
    return undefined;
  }
}

function javaPidsAlive(state: JavaState): boolean {
  return SERVICE_NAMES.every((name) => {
    const pid = state.services[name]?.pid;
    return pid !== undefined && isAlive(pid) && (commandLine(pid)?.includes(state.tag) ?? false);
  });
}

async function stateHealthy(state: ServicesState): Promise<boolean> {
  if (state.provider === 'docker') return composeHealthy(state.env);
  // Alive processes of ours may just be slow to answer on a busy machine: give them a while
  // rather than restarting (and emptying) healthy services.
  const deadline = Date.now() + 15_000;
  while (javaPidsAlive(state)) {
    const ok = await Promise.all([
      probeDynamoDb(state.env.AWS_ENDPOINT_URL_DYNAMODB),
      probeSqs(state.env.AWS_ENDPOINT_URL_SQS),
      probeOpenSearch(state.env.SEARCH_ENDPOINT),
    ]);
    if (ok.every(Boolean)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/** One `up`/`down` at a time per state file. */
async function withLock<T>(opts: DetachedOptions, fn: () => Promise<T>): Promise<T> {
  const lock = `${servicesStateFile(opts)}.lock`;
  mkdirSync(dirname(lock), { recursive: true });
  let fd: number | undefined;
  for (let i = 0; fd === undefined; i++) {
    try {
      fd = openSync(lock, 'wx');
      writeFileSync(fd, `${process.pid}\n`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const owner = Number(readFileSync(lock, 'utf8').trim() || 'NaN');
      if (!Number.isInteger(owner) || !isAlive(owner)) {
        rmSync(lock, { force: true }); // left by a dead process
        continue;
      }
      if (i > 600)
        throw new Error(`another \`streamfill services\` command (pid ${owner}) holds ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    return await fn();
  } finally {
    closeSync(fd);
    rmSync(lock, { force: true });
  }
}

async function stopDetached(
  state: ServicesState | undefined,
  opts: DetachedOptions,
): Promise<ServicesDownResult> {
  const dir = detachedDir(opts);
  const skipped: number[] = [];
  let stopped = false;
  if (state?.provider === 'docker') {
    await composeDown(opts.root ?? PACKAGE_ROOT);
    stopped = true;
  } else if (state?.provider === 'java') {
    await Promise.all(
      SERVICE_NAMES.map(async (name) => {
        const pid = state.services[name]?.pid;
        if (pid === undefined) return;
        const o = await terminatePid(pid, state.tag);
        if (o === 'stopped') stopped = true;
        if (o === 'not-ours') skipped.push(pid);
      }),
    );
  }
  // JVMs of ours without a (valid) state file, e.g. after the file was deleted by hand.
  const orphans = taggedPids(dir);
  await Promise.all(orphans.map((pid) => terminatePid(pid, runTag(dir), 5_000)));
  if (orphans.length > 0) stopped = true;
  rmSync(servicesStateFile(opts), { force: true });
  if (state?.provider !== 'docker') rmSync(dir, { recursive: true, force: true });
  return { stopped, ...(state ? { provider: state.provider } : {}), skipped };
}

/**
 * Starts detached services (they outlive this process) and records them in the state file.
 * When healthy services are already recorded, starts nothing and reports `alreadyRunning`.
 */
export async function servicesUp(opts: ServicesUpOptions = {}): Promise<ServicesUpResult> {
  const stateFile = servicesStateFile(opts);
  return withLock(opts, async () => {
    const existing = readServicesState(opts);
    if (existing && (await stateHealthy(existing))) {
      return {
        env: existing.env,
        provider: existing.provider,
        alreadyRunning: true,
        stateFile,
        state: existing,
      };
    }
    await stopDetached(existing, opts); // stale leftovers, if any

    const { provider } = await chooseProvider(opts.provider ?? providerFromEnv() ?? 'auto');
    let state: ServicesState;
    if (provider === 'docker') {
      const env = await composeUp(opts.root ?? PACKAGE_ROOT, opts.timeoutMs);
      state = { version: 1, provider, startedAt: new Date().toISOString(), env };
    } else {
      const s = await startJavaServices({
        detached: true,
        stateDir: detachedDir(opts),
        ...(opts.root ? { root: opts.root } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...(opts.log ? { log: opts.log } : {}),
      });
      state = {
        version: 1,
        provider,
        startedAt: new Date().toISOString(),
        stateDir: s.stateDir,
        tag: s.tag,
        services: s.services,
        env: s.env,
      };
    }
    writeFileSync(stateFile, `${JSON.stringify(state, null, 2)}\n`);
    return { env: state.env, provider, alreadyRunning: false, stateFile, state };
  });
}

/** Stops the detached services recorded in the state file (verifying each pid is ours). */
export async function servicesDown(opts: DetachedOptions = {}): Promise<ServicesDownResult> {
  return withLock(opts, () => stopDetached(readServicesState(opts), opts));
}

/**
 * `export NAME=value` lines for a shell (`eval "$(streamfill services env)"`). Region and
 * credentials keep any value already set in that shell. Throws when nothing is running.
 */
export function servicesEnvLines(opts: DetachedOptions = {}): string[] {
  const state = readServicesState(opts);
  if (!state) throw new Error(NOT_RUNNING);
  if (state.provider === 'java' && !javaPidsAlive(state)) {
    throw new Error(
      'services are not running (the recorded processes are gone): run `streamfill services up`',
    );
  }
  return renderEnvLines(state.env);
}
