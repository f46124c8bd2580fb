// The AWS and OpenSearch clients, built once per process from the environment (endpoints,
// region, search signing), so a local stack and real AWS differ only in variables.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { exactUnmarshallOptions } from './exact-numbers.ts';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Client as OpenSearchClient } from '@opensearch-project/opensearch';
import { AwsSigv4Signer } from '@opensearch-project/opensearch/aws-v3';
import { ENV } from '../config/defaults.ts';

export interface Clients {
  dynamodb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  streams: DynamoDBStreamsClient;
  sqs: SQSClient;
  /** Undefined when no SEARCH_ENDPOINT is configured: search migrations are then off. */
  search: OpenSearchClient | undefined;
}

export type SearchAuth = 'auto' | 'sigv4' | 'aoss' | 'none';

export interface ClientOptions {
  /** Overrides SEARCH_ENDPOINT. */
  searchEndpoint?: string;
  /** Overrides STREAMFILL_SEARCH_AUTH. @default 'auto' */
  searchAuth?: SearchAuth;
  /**
   * SDK attempts per call (standard retry mode: throttling and transient faults, with backoff).
   * The writer adds no retries of its own: what still fails is failed for the caller to retry.
   * @default 4
   */
  maxAttempts?: number;
}

/**
 * Endpoints come from the SDK's own AWS_ENDPOINT_URL_* variables (read by the SDK itself),
 * so a local stack and real AWS differ only in environment. Local endpoints need some
 * credentials to sign with; DynamoDB Local keeps one database per access key.
 *
 * @example
 * const clients = makeClients({ searchEndpoint: 'http://localhost:9200' });
 * try { … } finally { destroyClients(clients); }
 */
export function makeClients(options: ClientOptions = {}): Clients {
  const env = process.env;
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const local = Boolean(env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL_SQS);
  const credentials =
    local && !env.AWS_ACCESS_KEY_ID
      ? { accessKeyId: 'streamfill', secretAccessKey: 'local' }
      : undefined;
  const base = {
    region,
    maxAttempts: options.maxAttempts ?? 4,
    ...(credentials && { credentials }),
  };
  const dynamodb = new DynamoDBClient(base);
  const streamsEndpoint = env.AWS_ENDPOINT_URL_DYNAMODB_STREAMS ?? env.AWS_ENDPOINT_URL_DYNAMODB;
  const streams = new DynamoDBStreamsClient({
    ...base,
    ...(streamsEndpoint && { endpoint: streamsEndpoint }),
  });
  const doc = DynamoDBDocumentClient.from(dynamodb, {
    marshallOptions: { removeUndefinedValues: true },
    // Numbers a JS number cannot hold exactly are read as their text (ExactNumber), never
    // rounded nor refused (the SDK's default throws past 2^53).
    unmarshallOptions: exactUnmarshallOptions() as never,
  });
  const searchEndpoint = options.searchEndpoint ?? env[ENV.searchEndpoint];
  const auth = options.searchAuth ?? parseSearchAuth(env[ENV.searchAuth]);
  const search = searchEndpoint
    ? searchClient(searchEndpoint, region, auth, credentials)
    : undefined;
  const sqs = new SQSClient(base);
  for (const client of [dynamodb, streams, sqs]) withoutSdkLogging(client);
  return { dynamodb, doc, streams, sqs, search };
}

/**
 * Removes the SDK's logger middleware. With the default no-op logger it still walks every
 * request and response through the schema's sensitive-data filter just to discard the result:
 * a 1,000-record GetRecords page or a conditional write's old image, on every call (about 3% of
 * the worker's CPU in `bench backfill`). streamfill never gives the SDK a logger; its own logs
 * and metrics say what happened. The document client shares the low-level client's stack.
 */
export function withoutSdkLogging(client: {
  middlewareStack: { remove(name: string): boolean };
}): void {
  client.middlewareStack.remove('loggerMiddleware');
}

export function destroyClients(clients: Clients): void {
  clients.dynamodb.destroy();
  clients.streams.destroy();
  clients.sqs.destroy();
  void clients.search?.close();
}

export function parseSearchAuth(value: string | undefined): SearchAuth {
  if (value === undefined || value === '') return 'auto';
  if (value === 'auto' || value === 'sigv4' || value === 'aoss' || value === 'none') return value;
  throw new Error(`${ENV.searchAuth} must be auto, sigv4, aoss or none, got "${value}"`);
}

/** Which signing a search endpoint needs: `auto` signs Amazon OpenSearch hosts only. */
export function searchSigning(endpoint: string, auth: SearchAuth): 'es' | 'aoss' | undefined {
  if (auth === 'none') return undefined;
  if (auth === 'sigv4') return 'es';
  if (auth === 'aoss') return 'aoss';
  const host = new URL(endpoint).hostname;
  if (host.endsWith('.aoss.amazonaws.com')) return 'aoss';
  return host.endsWith('.es.amazonaws.com') ? 'es' : undefined;
}

/**
 * Amazon OpenSearch domains (and Serverless collections) take SigV4-signed requests with the
 * caller's IAM credentials; a local or self-managed cluster takes plain HTTP.
 */
function searchClient(
  endpoint: string,
  region: string,
  auth: SearchAuth,
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined,
): OpenSearchClient {
  const service = searchSigning(endpoint, auth);
  if (!service) return new OpenSearchClient({ node: endpoint });
  const getCredentials = credentials ? async () => credentials : defaultProvider();
  return new OpenSearchClient({
    ...AwsSigv4Signer({ region, service, getCredentials }),
    node: endpoint,
  });
}
