// The same three services as containers (testcontainers in-process; `docker compose` for the
// detached `streamfill services up`). Docker is detected up front in milliseconds by talking to
// its socket, and testcontainers is imported only when Docker answers: without Docker, merely
// importing it costs time and may probe for a runtime.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ServiceEnv } from './service-env.ts';
import { freePort, renderElasticMqConf } from './java.ts';
import { PACKAGE_ROOT } from '../cache-dir.ts';
import { probeDynamoDb, probeOpenSearch, probeSqs } from './probes.ts';

/** Pinned to the same versions as the jars in services/maven/pom.xml. */
export const DOCKER_IMAGES = {
  dynamodb: 'amazon/dynamodb-local:2.6.1',
  elasticmq: 'softwaremill/elasticmq-native:1.6.16',
  opensearch: 'opensearchproject/opensearch:2.19.1',
} as const;

export const OPENSEARCH_CONTAINER_ENV = {
  'discovery.type': 'single-node',
  DISABLE_SECURITY_PLUGIN: 'true',
  DISABLE_INSTALL_DEMO_CONFIG: 'true',
  OPENSEARCH_JAVA_OPTS: '-Xms512m -Xmx512m',
} as const;

export interface DockerDetection {
  available: boolean;
  /** `unix:///path` or `tcp://host:port` when found. */
  endpoint?: string;
  reason: string;
}

function socketCandidates(): string[] {
  const home = homedir();
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const xdg = process.env.XDG_RUNTIME_DIR;
  return [
    '/var/run/docker.sock',
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
    ...(xdg ? [join(xdg, 'docker.sock'), join(xdg, '.docker', 'run', 'docker.sock')] : []),
    ...(uid !== undefined ? [`/run/user/${uid}/docker.sock`] : []),
    join(home, '.colima', 'default', 'docker.sock'),
    join(home, '.rd', 'docker.sock'),
  ];
}

/** Connects and, for a Unix socket, asks the engine for `GET /_ping`. Never throws. */
function ping(
  target: { path: string } | { host: string; port: number },
  timeoutMs: number,
): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    let socket: Socket | undefined;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket?.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    try {
      socket = connect(target);
    } catch {
      done(false);
      return;
    }
    socket.once('error', () => done(false));
    socket.once('connect', () => {
      // A TCP daemon may speak TLS: a successful connect is all we can cheaply check.
      if (!('path' in target)) return done(true);
      socket?.write('GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n');
    });
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      if (head.includes('\r\n')) done(/^HTTP\/1\.[01] 200/.test(head));
    });
    socket.once('end', () => done(/^HTTP\/1\.[01] 200/.test(head)));
  });
}

/**
 * Is a Docker engine reachable? Checks DOCKER_HOST, else the usual socket paths; a missing
 * socket file answers in microseconds, a dead one within `timeoutMs`.
 */
export async function detectDocker(timeoutMs = 300): Promise<DockerDetection> {
  const host = process.env.DOCKER_HOST?.trim();
  if (host) {
    if (host.startsWith('unix://')) {
      const path = host.slice('unix://'.length);
      if (!existsSync(path))
        return { available: false, reason: `DOCKER_HOST socket ${path} does not exist` };
      return (await ping({ path }, timeoutMs))
        ? { available: true, endpoint: host, reason: `engine answered on ${host}` }
        : { available: false, reason: `no engine answered on ${host}` };
    }
    if (host.startsWith('tcp://')) {
      const url = new URL(host.replace(/^tcp:/, 'http:'));
      const port = Number(url.port || 2375);
      return (await ping({ host: url.hostname, port }, timeoutMs))
        ? { available: true, endpoint: host, reason: `engine reachable at ${host}` }
        : { available: false, reason: `nothing listens at ${host}` };
    }
    // npipe://, ssh://: cannot be probed cheaply; trust the explicit setting.
    return { available: true, endpoint: host, reason: `DOCKER_HOST=${host} (not probed)` };
  }
  for (const path of socketCandidates()) {
    if (!existsSync(path)) continue;
    if (await ping({ path }, timeoutMs)) {
      return { available: true, endpoint: `unix://${path}`, reason: `engine answered on ${path}` };
    }
  }
  return { available: false, reason: 'no Docker engine socket answered (DOCKER_HOST unset)' };
}

export interface DockerServicesOptions {
  timeoutMs?: number;
  /** From detectDocker(): exported as DOCKER_HOST for testcontainers when it is not standard. */
  endpoint?: string;
}

export interface StartedDockerServices {
  env: ServiceEnv;
  stop(): Promise<void>;
}

const loopback = (host: string) => (host === 'localhost' ? '127.0.0.1' : host);

/** Starts the three containers in parallel with testcontainers (Ryuk removes them if we die). */
export async function startDockerServices(
  opts: DockerServicesOptions = {},
): Promise<StartedDockerServices> {
  const timeoutMs = opts.timeoutMs ?? 180_000; // includes image pulls on a fresh machine
  if (
    !process.env.DOCKER_HOST &&
    opts.endpoint &&
    opts.endpoint !== 'unix:///var/run/docker.sock'
  ) {
    process.env.DOCKER_HOST = opts.endpoint;
  }
  const { GenericContainer, Wait } = await import('testcontainers');

  // ElasticMQ writes its public address into queue URLs, and the SQS SDK calls those URLs:
  // publish the container on a host port chosen now so the config can name it.
  const sqsHostPort = await freePort();
  const results = await Promise.allSettled([
    new GenericContainer(DOCKER_IMAGES.dynamodb)
      .withCommand(['-jar', 'DynamoDBLocal.jar', '-inMemory', '-disableTelemetry'])
      .withExposedPorts(8000)
      .withWaitStrategy(Wait.forListeningPorts())
      .withStartupTimeout(timeoutMs)
      .start(),
    new GenericContainer(DOCKER_IMAGES.elasticmq)
      .withCopyContentToContainer([
        {
          content: renderElasticMqConf({
            bindPort: 9324,
            bindHost: '0.0.0.0',
            publicHost: '127.0.0.1',
            publicPort: sqsHostPort,
          }),
          target: '/opt/elasticmq.conf',
        },
      ])
      .withExposedPorts({ container: 9324, host: sqsHostPort })
      .withWaitStrategy(Wait.forHttp('/?Action=ListQueues', 9324).forStatusCode(200))
      .withStartupTimeout(timeoutMs)
      .start(),
    new GenericContainer(DOCKER_IMAGES.opensearch)
      .withEnvironment({ ...OPENSEARCH_CONTAINER_ENV })
      .withExposedPorts(9200)
      .withWaitStrategy(
        Wait.forHttp('/_cluster/health?wait_for_status=yellow&timeout=1s', 9200).forStatusCode(200),
      )
      .withStartupTimeout(timeoutMs)
      .start(),
  ]);
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.flatMap((r, i) =>
    r.status === 'rejected'
      ? [
          `${['dynamodb', 'elasticmq', 'opensearch'][i]}: ${String((r.reason as Error)?.message ?? r.reason)}`,
        ]
      : [],
  );
  if (failed.length > 0) {
    await Promise.allSettled(started.map((c) => c.stop()));
    throw new Error(`Docker services did not start:\n${failed.join('\n')}`);
  }
  const [ddb, mq, os] = started as [(typeof started)[0], (typeof started)[0], (typeof started)[0]];
  const ddbUrl = `http://${loopback(ddb.getHost())}:${ddb.getMappedPort(8000)}`;
  const env: ServiceEnv = {
    AWS_ENDPOINT_URL_DYNAMODB: ddbUrl,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: ddbUrl,
    AWS_ENDPOINT_URL_SQS: `http://${loopback(mq.getHost())}:${mq.getMappedPort(9324)}`,
    SEARCH_ENDPOINT: `http://${loopback(os.getHost())}:${os.getMappedPort(9200)}`,
  };
  let stopping: Promise<void> | undefined;
  return {
    env,
    stop() {
      stopping ??= Promise.allSettled([ddb.stop(), mq.stop(), os.stop()]).then(() => undefined);
      return stopping;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Detached (`streamfill services up` with Docker): docker compose with the repo's compose file.

export const COMPOSE_PROJECT = 'streamfill';
export const COMPOSE_ENV: ServiceEnv = {
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000',
  AWS_ENDPOINT_URL_DYNAMODB_STREAMS: 'http://127.0.0.1:8000',
  AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:9324',
  SEARCH_ENDPOINT: 'http://127.0.0.1:9200',
};

function compose(args: string[], root: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    let output = '';
    const child = spawn(
      'docker',
      ['compose', '-f', join(root, 'docker-compose.yml'), '-p', COMPOSE_PROJECT, ...args],
      {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (e) => resolve({ code: null, output: `${output}${e.message}` }));
    child.once('close', (code) => resolve({ code, output }));
  });
}

export async function composeHealthy(env: ServiceEnv = COMPOSE_ENV): Promise<boolean> {
  const r = await Promise.all([
    probeDynamoDb(env.AWS_ENDPOINT_URL_DYNAMODB),
    probeSqs(env.AWS_ENDPOINT_URL_SQS),
    probeOpenSearch(env.SEARCH_ENDPOINT),
  ]);
  return r.every(Boolean);
}

export async function composeUp(
  root: string = PACKAGE_ROOT,
  timeoutMs = 180_000,
): Promise<ServiceEnv> {
  const r = await compose(['up', '-d'], root);
  if (r.code !== 0)
    throw new Error(`docker compose up failed (exit ${r.code}):\n${r.output.trim()}`);
  const deadline = Date.now() + timeoutMs;
  while (!(await composeHealthy())) {
    if (Date.now() > deadline) {
      throw new Error(
        `docker compose services did not answer within ${Math.round(timeoutMs / 1000)} s (see: docker compose -p ${COMPOSE_PROJECT} logs)`,
      );
    }
    await new Promise((res) => setTimeout(res, 500));
  }
  return COMPOSE_ENV;
}

export async function composeDown(root: string = PACKAGE_ROOT): Promise<void> {
  const r = await compose(['down', '--remove-orphans'], root);
  if (r.code !== 0)
    throw new Error(`docker compose down failed (exit ${r.code}):\n${r.output.trim()}`);
}
