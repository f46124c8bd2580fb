// vitest globalSetup of the `integration` project: one set of real local services for the whole
// run (reused from the environment when its endpoints are already exported, e.g. after
// `eval "$(streamfill services env)"`). Test files isolate themselves: see ./env.ts.

import type { TestProject } from 'vitest/node';
import { startLocalServices, type ServiceEnv } from '../../local/services/index.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    serviceEnv: ServiceEnv;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const services = await startLocalServices();
  if (services.provider !== 'env') {
    process.stderr.write(
      `[services] ${services.provider} services ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  }
  project.provide('serviceEnv', services.env);
  return async () => {
    await services.stop();
  };
}
