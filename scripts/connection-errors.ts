// A connection that failed, said as the operator can act on it: which service, at which
// endpoint, and what to do — not a bare `connect ECONNREFUSED 127.0.0.1:4566`.
import { ENV } from '../lib/config/defaults.ts';
import { isLoopbackUrl } from '../lib/core/endpoints.ts';

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'refused the connection',
  ECONNRESET: 'closed the connection',
  ETIMEDOUT: 'did not answer in time',
  EHOSTUNREACH: 'is unreachable',
  ENETUNREACH: 'is unreachable',
  ENOTFOUND: 'has a host name that does not resolve',
  EAI_AGAIN: 'has a host name that does not resolve (DNS failed)',
};

/** The services whose endpoint a variable sets, in the order a port is matched. */
const SERVICES: readonly [string, string][] = [
  ['AWS_ENDPOINT_URL_DYNAMODB', 'DynamoDB'],
  ['AWS_ENDPOINT_URL_DYNAMODB_STREAMS', 'DynamoDB Streams'],
  ['AWS_ENDPOINT_URL_SQS', 'SQS'],
  [ENV.searchEndpoint, 'OpenSearch'],
];

interface NetFacts {
  code: string;
  address?: string;
  port?: number;
  hostname?: string;
  /** The OpenSearch client names the node it tried. */
  url?: string;
}

/** The first network error in `e`, its cause chain or its aggregated errors. */
function netFacts(e: unknown, depth = 0): NetFacts | undefined {
  if (!e || typeof e !== 'object' || depth > 4) return undefined;
  const x = e as Record<string, unknown>;
  const url = (x.meta as { meta?: { connection?: { url?: URL } } } | undefined)?.meta?.connection
    ?.url;
  const code = typeof x.code === 'string' ? x.code : undefined;
  const fromMessage = /\b(E[A-Z_]+)\b/.exec(String(x.message ?? ''))?.[1];
  const found = code ?? fromMessage;
  if (found && found in NETWORK_CODES) {
    return {
      code: found,
      ...(typeof x.address === 'string' && { address: x.address }),
      ...(typeof x.port === 'number' && { port: x.port }),
      ...(typeof x.hostname === 'string' && { hostname: x.hostname }),
      ...(url && { url: String(url) }),
    };
  }
  for (const inner of [x.cause, ...(Array.isArray(x.errors) ? x.errors : [])]) {
    const f = netFacts(inner, depth + 1);
    if (f) return { ...f, ...(url && !f.url && { url: String(url) }) };
  }
  return undefined;
}

/** Which configured service the failed address belongs to. */
function serviceOf(
  f: NetFacts,
  env: NodeJS.ProcessEnv,
): { name: string; endpoint: string } | undefined {
  const target = f.url ? new URL(f.url) : undefined;
  for (const [variable, name] of SERVICES) {
    const endpoint = env[variable];
    if (!endpoint) continue;
    let u: URL;
    try {
      u = new URL(endpoint);
    } catch {
      continue;
    }
    const port = Number(u.port || (u.protocol === 'https:' ? 443 : 80));
    if (target && target.host === u.host) return { name, endpoint };
    if (f.port === port && (!f.hostname || f.hostname === u.hostname)) return { name, endpoint };
    if (!f.port && f.hostname === u.hostname) return { name, endpoint };
  }
  if (target) return { name: 'OpenSearch', endpoint: target.origin };
  return undefined;
}

/**
 * The operator's message for a failed connection, or undefined when `e` is not one.
 *
 * @example
 * describeConnectionError(econnrefused, { AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:4566' })
 * // 'DynamoDB at http://127.0.0.1:4566 refused the connection — is `streamfill services up` running? …'
 */
export function describeConnectionError(e: unknown, env: NodeJS.ProcessEnv): string | undefined {
  const f = netFacts(e);
  if (!f) return undefined;
  const what = NETWORK_CODES[f.code];
  const service = serviceOf(f, env);
  const raw = `(${f.code} ${f.hostname ?? f.address ?? ''}${f.port ? `:${f.port}` : ''})`.replace(
    ' )',
    ')',
  );
  if (service) {
    const fix = isLoopbackUrl(service.endpoint)
      ? 'is `streamfill services up` running? (`eval "$(npx streamfill services env)"` sets the endpoints of running ones)'
      : 'check the endpoint and the network';
    return `${service.name} at ${service.endpoint} ${what} — ${fix} ${raw}`;
  }
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return `AWS (region ${region}) ${what} ${raw} — check the network, AWS_REGION, or set AWS_ENDPOINT_URL_* for local services`;
}
