// The config this bundle runs. The Lambda handlers import it statically (esbuild bundles what
// is imported); today that is the built-in Pika preset. Bundling a user's config replaces this
// one module: nothing else in the handlers names a config.
import { compilePlanner, type Planner } from '../core/config/planner.ts';
import { resolveConfig } from '../core/config/resolve.ts';
import config from '../presets/pika.ts';

let planner: Planner | undefined;

/** The planner of the bundled config, compiled once per process (the config is immutable). */
export function bundledPlanner(): Planner {
  return (planner ??= compilePlanner(resolveConfig(config)));
}
