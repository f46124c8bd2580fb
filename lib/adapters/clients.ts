import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { Client as OpenSearchClient } from '@opensearch-project/opensearch';

export interface Clients {
  dynamodb: DynamoDBClient;
  doc: DynamoDBDocumentClient;
  streams: DynamoDBStreamsClient;
  sqs: SQSClient;
  /** Undefined when no SEARCH_ENDPOINT is configured: search migrations are then off. */
  search: OpenSearchClient | undefined;
}

export interface ClientOptions {
  /** Overrides SEARCH_ENDPOINT. */
  searchEndpoint?: string;
  /** SDK retry attempts; the writer adds its own bounded retries on top for throttling. */
  maxAttempts?: number;
}

/**
 * Endpoints come from the SDK's own AWS_ENDPOINT_URL_* variables (read by the SDK itself),
 * so a local stack and real AWS differ only in environment. Local endpoints need some
 * credentials to sign with; DynamoDB Local keeps one database per access key.
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
  });
  const searchEndpoint = options.searchEndpoint ?? env.SEARCH_ENDPOINT;
  const search = searchEndpoint ? new OpenSearchClient({ node: searchEndpoint }) : undefined;
  return { dynamodb, doc, streams, sqs: new SQSClient(base), search };
}

export function destroyClients(clients: Clients): void {
  clients.dynamodb.destroy();
  clients.streams.destroy();
  clients.sqs.destroy();
  void clients.search?.close();
}
