// CDK app entry (cdk.json: `npx tsx lib/infra/app.ts`). Configuration comes from CDK context:
// cdk.json holds demo defaults that synthesize; real deploys pass their own with -c.
import { App } from 'aws-cdk-lib';
import { LiveMigrationPropsError } from './constructs/live-migration.ts';
import { configFromContext, defaultStackName, StreamfillConfigError } from './context-config.ts';
import { StreamfillStack } from './streamfill-stack.ts';

const app = new App();
try {
  const config = configFromContext(app.node);
  const stackName = config.stackName ?? defaultStackName(config.sessionTable);
  new StreamfillStack(app, stackName, { config, stackName });
  app.synth();
} catch (e) {
  if (!(e instanceof StreamfillConfigError || e instanceof LiveMigrationPropsError)) throw e;
  console.error(e.message);
  process.exitCode = 1;
}
