// CDK app entry (cdk.json: `npx tsx lib/infra/app.ts`). Configuration comes from CDK context:
// cdk.json holds demo values that synthesize offline; real deploys pass their own with -c.
// Two modes: attach to existing tables (default), or `-c sandbox=true` for a stack with its own
// Pika-shaped tables to try streamfill on.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { ContinuousBackfillPropsError } from './constructs/continuous-backfill.ts';
import { LiveMigrationPropsError } from './constructs/live-migration.ts';
import { configFromContext, defaultStackName, StreamfillConfigError } from './context-config.ts';
import { SandboxStack } from './sandbox-stack.ts';
import { StreamfillStack } from './streamfill-stack.ts';

/** The default sandbox stack name (`-c stackName=…` overrides it). */
export const SANDBOX_STACK_NAME = 'streamfill-sandbox';

/** Builds the app's one stack from its context; throws the configuration errors. */
export function buildApp(app: App): SandboxStack | StreamfillStack {
  const sandbox = String(app.node.tryGetContext('sandbox')) === 'true';
  // Before the table check: a sandbox with table names is a mode mix-up, not a half-given set.
  const given = ['sessionTable', 'sessionStreamArn', 'userTable', 'tagTable'].filter(
    (k) => app.node.tryGetContext(k) !== undefined,
  );
  if (sandbox && given.length) {
    throw new StreamfillConfigError(
      `streamfill configuration:\n  - sandbox=true creates its own tables; drop ${given.join(', ')} ` +
        '(or drop sandbox to attach to existing tables)',
    );
  }
  const config = configFromContext(app.node);
  if (config.sandbox) {
    const stackName = config.stackName ?? SANDBOX_STACK_NAME;
    return new SandboxStack(app, stackName, {
      config,
      stackName,
      env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
    });
  }
  const stackName = config.stackName ?? defaultStackName(config.sessionTable);
  return new StreamfillStack(app, stackName, { config, stackName });
}

// Run as the CDK app (not when a test imports buildApp).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const app = new App();
  try {
    buildApp(app);
    app.synth();
  } catch (e) {
    const known =
      e instanceof StreamfillConfigError ||
      e instanceof LiveMigrationPropsError ||
      e instanceof ContinuousBackfillPropsError ||
      // IndexMigration's refusals say which phase to deploy first.
      (e instanceof Error && e.message.startsWith('IndexMigration'));
    if (!known) throw e;
    console.error(e.message);
    process.exitCode = 1;
  }
}
