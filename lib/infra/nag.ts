// The cdk-nag AwsSolutions findings streamfill accepts, each with its reason, recorded on the
// exact construct with CDK's own acknowledgements (no runtime dependency on cdk-nag). Everything
// else the pack reports is fixed, not acknowledged (test/infra/nag.test.ts holds it at zero).
import { Stack, Validations } from 'aws-cdk-lib';
import type { Role } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { LAMBDA_NODE_MAJOR, SEARCH_INDEX } from '../config/defaults.ts';

/** What a streamfill function's role was granted that the pack flags. */
export interface FunctionFindings {
  readonly fn: IFunction;
  /** Reads a DynamoDB stream (dynamodb:ListStreams has no resource-level permission). */
  readonly readsStream?: boolean;
  /** Active X-Ray tracing (xray:PutTraceSegments/PutTelemetryRecords have none either). */
  readonly tracing?: boolean;
  /** An OpenSearch domain ARN: the grant is on the index's HTTP paths, `<domainArn>/<index>/*`. */
  readonly searchDomainArn?: string;
  /** The index of that grant. @default 'session' (SEARCH_INDEX) */
  readonly searchIndex?: string;
}

const acknowledge = (scope: IConstruct, id: string, reason: string): void =>
  Validations.of(scope).acknowledge({ id: `AwsSolutions-${id}`, reason });

/**
 * Acknowledges the findings a streamfill function is expected to raise, on its own resources.
 *
 * @example
 * acknowledgeFunctionFindings({ fn: worker, tracing: true });
 */
export function acknowledgeFunctionFindings(f: FunctionFindings): void {
  acknowledge(
    f.fn,
    'L1',
    `Pinned to Node.js ${LAMBDA_NODE_MAJOR}: the bundle targets it and the bundle tests run the ` +
      'bundle on that very major (test/infra/bundles.test.ts); moving to a newer runtime is a ' +
      'deliberate change of LAMBDA_NODE_MAJOR, tested, not a silent drift.',
  );
  const policy = (f.fn.role as Role | undefined)?.node.tryFindChild('DefaultPolicy');
  if (!policy) return;
  const star: string[] = [];
  if (f.readsStream) star.push('dynamodb:ListStreams (added by the DynamoDB event source)');
  if (f.tracing) star.push('xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing)');
  if (star.length) {
    acknowledge(
      policy,
      'IAM5[Resource::*]',
      `Resource "*" only for ${star.join(' and ')}: these actions support no resource-level ` +
        'permissions. Every other statement names its table, stream, queue or domain.',
    );
  }
  if (f.searchDomainArn !== undefined) {
    const index = f.searchIndex ?? SEARCH_INDEX;
    const resource = Stack.of(f.fn).resolve(`${f.searchDomainArn}/${index}/*`) as unknown;
    acknowledge(
      policy,
      `IAM5[Resource::${typeof resource === 'string' ? resource : '<search domain>/<index>/*'}]`,
      'OpenSearch Service authorizes HTTP paths under the domain ARN: the grant is limited to the ' +
        "one index's paths (_mapping, _bulk, _mget) and to GET/HEAD/POST/PUT (no DELETE). Narrow " +
        "further with the domain's fine-grained access control role mapping.",
    );
  }
}
