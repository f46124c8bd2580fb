// Local DynamoDB (+ Streams), SQS (ElasticMQ) and OpenSearch for tests and the local runner.
//
// Providers, in order: endpoints already in the environment ('env', nothing started), Docker
// when an engine answers ('docker', testcontainers), else Java processes ('java', jars from
// Maven Central). STREAMFILL_SERVICES_PROVIDER=java|docker forces one.
//
// In-process (`startLocalServices`) the services die with the caller. Detached
// (`servicesUp`/`servicesDown`/`servicesEnvLines`, behind `streamfill services up|down|env`)
// they outlive the CLI and are described by .cache/run/services.json.

import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import {
  composeDown,
  composeHealthy,
  composeUp,
  detectDocker,
  startDockerServices,
} from './docker.ts';
import { commandLine, isAlive, runTag, taggedPids, terminatePid } from './java-process.ts';
import { startJavaServices, type JavaServiceInfo } from './java.ts';
import { cachePaths, REPO_ROOT, SERVICE_NAMES, type Log, type ServiceName } from './maven-jars.ts';
import { probeDynamoDb, probeOpenSearch, probeSqs } from './probes.ts';

export interface ServiceEnv {
  AWS_ENDPOINT_URL_DYNAMODB: string;
  AWS_ENDPOINT_URL_DYNAMODB_STREAMS: string;
  AWS_ENDPOINT_URL_SQS: string;
  SEARCH_ENDPOINT: string;
}

export const SERVICE_ENV_KEYS = [
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ENDPOINT_URL_DYNAMODB_STREAMS',
  'AWS_ENDPOINT_URL_SQS',
  'SEARCH_ENDPOINT',
] as const satisfies readonly (keyof ServiceEnv)[];

export type ServicesProvider = 'env' | 'java' | 'docker';
export type ProviderChoice = 'auto' | 'java' | 'docker';

export interface LocalServices {
  env: ServiceEnv;
  provider: ServicesProvider;
  /** Stops what was started (no-op for 'env'); idempotent. */
  stop(): Promise<void>;
}

export interface StartLocalServicesOptions {
  /** Default: STREAMFILL_SERVICES_PROVIDER, else 'auto' (Docker if reachable, else Java). */
  provider?: ProviderChoice;
  /** Reuse endpoints already set in process.env (default true). */
  reuseEnv?: boolean;
  /** Readiness deadline per service. */
  timeoutMs?: number;
  /** Progress lines (first jar download); default stderr. */
  log?: Log;
}

/** The endpoints set in `source`, when the three mandatory ones are all there. */
export function serviceEnvFromProcessEnv(
  source: NodeJS.ProcessEnv = process.env,
): ServiceEnv | undefined {
  const ddb = source.AWS_ENDPOINT_URL_DYNAMODB;
  const sqs = source.AWS_ENDPOINT_URL_SQS;
  const search = source.SEARCH_ENDPOINT;
  if (!ddb || !sqs || !search) return undefined;
  return {
    AWS_ENDPOINT_URL_DYNAMODB: ddb,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: source.AWS_ENDPOINT_URL_DYNAMODB_STREAMS || ddb,
    AWS_ENDPOINT_URL_SQS: sqs,
    SEARCH_ENDPOINT: search,
  };
}

/**
 * Points the AWS SDK (and SEARCH_ENDPOINT readers) at `env`: sets the endpoint variables,
 * AWS_REGION (us-east-1 unless set) and dummy credentials unless an access key is set.
 */
export function applyServiceEnv(env: ServiceEnv, target: NodeJS.ProcessEnv = process.env): void {
  for (const key of SERVICE_ENV_KEYS) target[key] = env[key];
  target.AWS_REGION ||= 'us-east-1';
  if (!target.AWS_ACCESS_KEY_ID) {
    target.AWS_ACCESS_KEY_ID = 'local';
    target.AWS_SECRET_ACCESS_KEY = 'local';
  }
}

function providerFromEnv(): ProviderChoice | undefined {
  const v = process.env.STREAMFILL_SERVICES_PROVIDER?.trim().toLowerCase();
  if (!v) return undefined;
  if (v === 'auto' || v === 'java' || v === 'docker') return v;
  throw new Error(`STREAMFILL_SERVICES_PROVIDER must be auto, java or docker (got "${v}")`);
}

async function chooseProvider(
  choice: ProviderChoice,
): Promise<{ provider: 'java' | 'docker'; endpoint?: string }> {
  if (choice === 'java') return { provider: 'java' };
  const docker = await detectDocker();
  if (docker.available)
    return { provider: 'docker', ...(docker.endpoint ? { endpoint: docker.endpoint } : {}) };
  if (choice === 'docker')
    throw new Error(`Docker was requested but is not reachable: ${docker.reason}`);
  return { provider: 'java' };
}

/**
 * Real local services for this process: reused from the environment when
 * AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS and SEARCH_ENDPOINT are set, else started
 * (Docker if reachable, else Java) and stopped by `stop()` or when this process exits.
 */
export async function startLocalServices(
  opts: StartLocalServicesOptions = {},
): Promise<LocalServices> {
  if (opts.reuseEnv !== false) {
    const env = serviceEnvFromProcessEnv();
    if (env) return { env, provider: 'env', stop: async () => {} };
  }
  const { provider, endpoint } = await chooseProvider(opts.provider ?? providerFromEnv() ?? 'auto');
  if (provider === 'docker') {
    const s = await startDockerServices({
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(endpoint ? { endpoint } : {}),
    });
    return { env: s.env, provider, stop: s.stop };
  }
  const s = await startJavaServices({
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.log ? { log: opts.log } : {}),
  });
  return { env: s.env, provider, stop: s.stop };
}

// ---------------------------------------------------------------------------------------------
// Detached services for the CLI

export interface DetachedOptions {
  root?: string;
  /** Default `<root>/.cache/run/services.json`. */
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

export function servicesStateFile(opts: DetachedOptions = {}): string {
  return opts.stateFile ?? join(cachePaths(opts.root ?? REPO_ROOT).run, 'services.json');
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
    await composeDown(opts.root ?? REPO_ROOT);
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
      const env = await composeUp(opts.root ?? REPO_ROOT, opts.timeoutMs);
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

export function renderEnvLines(env: ServiceEnv): string[] {
  return [
    ...SERVICE_ENV_KEYS.map((key) => `export ${key}=${env[key]}`),
    'export AWS_REGION="${AWS_REGION:-us-east-1}"',
    'export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"',
    'export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"',
  ];
}
