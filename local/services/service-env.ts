// The endpoints of the local services as environment variables: reading, applying, printing.

export interface ServiceEnv {
  AWS_ENDPOINT_URL_DYNAMODB: string;
  AWS_ENDPOINT_URL_DYNAMODB_STREAMS: string;
  AWS_ENDPOINT_URL_SQS: string;
  SEARCH_ENDPOINT: string;
}

export const SERVICE_ENV_KEYS = [
  'AWS_ENDPOINT_URL_DYNAMODB',
  'AWS_ENDPOINT_URL_DYNAMODB_STREAMS',
  'AWS_ENDPOINT_URL_SQS',
  'SEARCH_ENDPOINT',
] as const satisfies readonly (keyof ServiceEnv)[];

/** The endpoints set in `source`, when the three mandatory ones are all there. */
export function serviceEnvFromProcessEnv(
  source: NodeJS.ProcessEnv = process.env,
): ServiceEnv | undefined {
  const ddb = source.AWS_ENDPOINT_URL_DYNAMODB;
  const sqs = source.AWS_ENDPOINT_URL_SQS;
  const search = source.SEARCH_ENDPOINT;
  if (!ddb || !sqs || !search) return undefined;
  return {
    AWS_ENDPOINT_URL_DYNAMODB: ddb,
    AWS_ENDPOINT_URL_DYNAMODB_STREAMS: source.AWS_ENDPOINT_URL_DYNAMODB_STREAMS || ddb,
    AWS_ENDPOINT_URL_SQS: sqs,
    SEARCH_ENDPOINT: search,
  };
}

/**
 * Points the AWS SDK (and SEARCH_ENDPOINT readers) at `env`: sets the endpoint variables,
 * AWS_REGION (us-east-1 unless set) and dummy credentials unless an access key is set.
 */
export function applyServiceEnv(env: ServiceEnv, target: NodeJS.ProcessEnv = process.env): void {
  for (const key of SERVICE_ENV_KEYS) target[key] = env[key];
  target.AWS_REGION ||= 'us-east-1';
  if (!target.AWS_ACCESS_KEY_ID) {
    target.AWS_ACCESS_KEY_ID = 'local';
    target.AWS_SECRET_ACCESS_KEY = 'local';
  }
}

export function renderEnvLines(env: ServiceEnv): string[] {
  return [
    ...SERVICE_ENV_KEYS.map((key) => `export ${key}=${env[key]}`),
    'export AWS_REGION="${AWS_REGION:-us-east-1}"',
    'export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"',
    'export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"',
  ];
}
