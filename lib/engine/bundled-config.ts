// The config this bundle runs. The Pika preset is the default; a Lambda bundle of a user's
// config has a generated entry (written by the CDK construct) that calls registerBundledConfig
// with the user's default export before the handler's first invocation builds its engine.
import type { StreamfillConfig } from '../core/config/define.ts';
import { compilePlanner, type Planner } from '../core/config/planner.ts';
import { resolveConfig } from '../core/config/resolve.ts';
import preset from '../presets/pika.ts';

let registered: StreamfillConfig | undefined;
let planner: Planner | undefined;

/**
 * Makes `config` the one bundledPlanner() compiles. Once per process: a second, different
 * config (or one registered after the planner was compiled) is an error, never a silent switch.
 *
 * @example
 * registerBundledConfig(config); // in a generated entry, before `export { handler } from …`
 */
export function registerBundledConfig(config: StreamfillConfig): void {
  if (registered === config) return;
  if (registered !== undefined)
    throw new Error('registerBundledConfig: a different config is already registered');
  if (planner !== undefined)
    throw new Error(
      'registerBundledConfig: the bundled planner was already compiled from the Pika preset; register the config before any handler runs',
    );
  registered = config;
}

/** The planner of the registered config (default: the Pika preset), compiled once per process. */
export function bundledPlanner(): Planner {
  return (planner ??= compilePlanner(resolveConfig(registered ?? preset)));
}
