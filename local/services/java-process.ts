// Supervises the services' JVMs: spawning them (attached ones die with this process), stopping
// them, and the run directories under <cache>/run/ that hold their logs and state.
//
// Every JVM carries `-Dstreamfill.run=<state dir>` on its command line: that tag is how a
// later process proves a pid is one of ours before signalling it, and how orphans of a dead
// run are found.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { isMainThread } from 'node:worker_threads';
import { PACKAGE_ROOT } from '../cache-dir.ts';
import { cachePaths } from './maven-jars.ts';

const RUN_TAG = '-Dstreamfill.run=';
const STOP_GRACE_MS = 10_000;
// C1 only: services answer in about a third of the time on small machines (JIT threads no
// longer compete with startup); override with STREAMFILL_JAVA_OPTS=-XX:TieredStopAtLevel=4.
const DEFAULT_JVM_OPTS = ['-XX:TieredStopAtLevel=1'];

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function readTail(file: string, maxBytes = 64 * 1024): string {
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

export function readHead(file: string, maxBytes = 16 * 1024): string {
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
// Processes

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

export function hasExited(child: ChildProcess): boolean {
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

export function spawnJava(spec: SpawnSpec): ChildProcess {
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

export async function terminateChild(child: ChildProcess, graceMs = STOP_GRACE_MS): Promise<void> {
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
export function pruneRunDirs(root: string = PACKAGE_ROOT, keep: string[] = []): void {
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

export function newRunDir(root: string): string {
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
