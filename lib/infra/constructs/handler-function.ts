// How every streamfill Lambda function is built: a handler in handlers/ bundled by the local
// esbuild (no Docker) into one ESM file for Node 22 on arm64. One definition for the stream
// consumer and the backfill worker, so both run exactly what the tests ran. From a checkout the
// entry is the handler's .ts source; from the installed package, the compiled .js in dist/.
import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { OutputFormat, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { FUNCTION_TIMEOUT_SECONDS, LAMBDA_NODE_MAJOR } from '../../config/defaults.ts';

/** `.ts` when this module runs from source, `.js` from dist/: the handlers are compiled alike. */
const OWN_EXTENSION = extname(fileURLToPath(import.meta.url));

/** The package root: lib/infra/constructs/ is three levels down, four under dist/. */
export const PACKAGE_ROOT = fileURLToPath(
  new URL(OWN_EXTENSION === '.ts' ? '../../../' : '../../../../', import.meta.url),
);

/**
 * The absolute path of a Lambda entry in handlers/, named by its source (`stream-consumer.ts`):
 * that file from a checkout, the compiled `stream-consumer.js` beside this module from dist/.
 */
export const handlerEntry = (file: string): string =>
  fileURLToPath(
    new URL(`../../../handlers/${file.replace(/\.ts$/, OWN_EXTENSION)}`, import.meta.url),
  );

/** The absolute path of a module under lib/ (`engine/bundled-config.ts`), .ts or .js alike. */
export const libModule = (file: string): string =>
  fileURLToPath(new URL(`../../${file.replace(/\.ts$/, OWN_EXTENSION)}`, import.meta.url));

/**
 * A checkout bundles from its own root with its own lock file. npm never publishes a package's
 * lock file, so an installed streamfill leaves both to CDK: the app's lock file, found from the
 * working directory, and its directory as the project root (the entry in node_modules is under it).
 */
const CHECKOUT_LOCK = join(PACKAGE_ROOT, 'package-lock.json');
const projectRootProps = (): Pick<NodejsFunctionProps, 'projectRoot' | 'depsLockFilePath'> =>
  existsSync(CHECKOUT_LOCK) ? { projectRoot: PACKAGE_ROOT, depsLockFilePath: CHECKOUT_LOCK } : {};

/** Where generated entries go: the checkout's root, else the CDK app's (CDK's own default). */
export const projectRoot = (): string => (existsSync(CHECKOUT_LOCK) ? PACKAGE_ROOT : process.cwd());

/**
 * ESM output that still runs CommonJS dependencies: esbuild's ESM bundles have no `require`,
 * so one is made from the module URL before anything else runs.
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __streamfillCreateRequire } from 'node:module';" +
  'const require = __streamfillCreateRequire(import.meta.url);';

/** The Lambda runtime: LAMBDA_NODE_MAJOR's (the CLI imports that from config, not from CDK). */
export const LAMBDA_RUNTIME = Runtime.NODEJS_22_X;
if (LAMBDA_RUNTIME.name !== `nodejs${LAMBDA_NODE_MAJOR}.x`)
  throw new Error(
    `LAMBDA_RUNTIME ${LAMBDA_RUNTIME.name} and LAMBDA_NODE_MAJOR ${LAMBDA_NODE_MAJOR} disagree`,
  );

/**
 * Runtime, architecture, timeout and bundling of a streamfill function whose entry is
 * `handlers/<file>` (or `entry`, a generated one wrapping it); the caller adds its description, environment, log group and limits.
 *
 * @example
 * new NodejsFunction(this, 'Worker', { ...handlerFunctionProps('backfill-worker.ts'), environment });
 */
export function handlerFunctionProps(file: string, entry?: string): NodejsFunctionProps {
  return {
    // A generated entry (a user's config registered, then this handler) when given.
    entry: entry ?? handlerEntry(file),
    handler: 'handler',
    ...projectRootProps(),
    runtime: LAMBDA_RUNTIME,
    architecture: Architecture.ARM_64,
    memorySize: 512,
    timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
    bundling: {
      // Local esbuild only: no Docker engine is needed (nor wanted) to synthesize.
      forceDockerBundling: false,
      format: OutputFormat.ESM,
      mainFields: ['module', 'main'],
      banner: ESM_REQUIRE_BANNER,
      target: `node${LAMBDA_NODE_MAJOR}`,
      minify: true,
      sourceMap: true,
      sourcesContent: false,
      // Bundle the pinned AWS SDK too: the code that runs is the code that was tested,
      // not whichever SDK version the runtime happens to ship.
      externalModules: [],
    },
  };
}

/**
 * The function's role: it may write to its own log group and nothing else until granted more
 * (instead of AWSLambdaBasicExecutionRole, which allows every log group of the account).
 *
 * @example
 * const role = handlerRole(this, 'WorkerRole', logGroup);
 */
export function handlerRole(scope: Construct, id: string, logGroup: ILogGroup): Role {
  const role = new Role(scope, id, {
    assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
    description: 'streamfill function: its own log group, plus the grants its construct adds',
  });
  role.addToPolicy(
    new PolicyStatement({
      sid: 'WriteOwnLogs',
      // The log group exists (the construct creates it), so CreateLogGroup is not needed.
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resources: [logGroup.logGroupArn],
    }),
  );
  return role;
}
