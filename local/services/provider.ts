// In-process local services: which provider runs them (endpoints already in the environment,
// Docker when an engine answers, else Java processes) and starting them for this process.
// STREAMFILL_SERVICES_PROVIDER=java|docker forces one.

import { detectDocker, startDockerServices } from './docker.ts';
import { startJavaServices } from './java.ts';
import type { Log } from './maven-jars.ts';
import { serviceEnvFromProcessEnv, type ServiceEnv } from './service-env.ts';

export type ServicesProvider = 'env' | 'java' | 'docker';
export type ProviderChoice = 'auto' | 'java' | 'docker';

export interface LocalServices {
  env: ServiceEnv;
  provider: ServicesProvider;
  /** Stops what was started (no-op for 'env'); idempotent. */
  stop(): Promise<void>;
}

export interface StartLocalServicesOptions {
  /** @default STREAMFILL_SERVICES_PROVIDER, else 'auto' (Docker if reachable, else Java) */
  provider?: ProviderChoice;
  /** Reuse endpoints already set in process.env. @default true */
  reuseEnv?: boolean;
  /** Readiness deadline per service. @default each provider's own */
  timeoutMs?: number;
  /** Progress lines (first jar download). @default stderr */
  log?: Log;
}

export function providerFromEnv(): ProviderChoice | undefined {
  const v = process.env.STREAMFILL_SERVICES_PROVIDER?.trim().toLowerCase();
  if (!v) return undefined;
  if (v === 'auto' || v === 'java' || v === 'docker') return v;
  throw new Error(`STREAMFILL_SERVICES_PROVIDER must be auto, java or docker (got "${v}")`);
}

export async function chooseProvider(
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
