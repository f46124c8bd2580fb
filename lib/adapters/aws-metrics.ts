// AWS-only observations for `status`: CloudWatch maxima (queue age, stream IteratorAge) and the
// stream consumer's event source mapping state, from the same region/credentials as the SDK.
import { CloudWatchClient, GetMetricStatisticsCommand } from '@aws-sdk/client-cloudwatch';
import { LambdaClient, ListEventSourceMappingsCommand } from '@aws-sdk/client-lambda';

export interface AwsObserver {
  cloudwatch: CloudWatchClient;
  lambda: LambdaClient;
  close(): void;
}

export function makeAwsObserver(): AwsObserver {
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const cloudwatch = new CloudWatchClient({ region });
  const lambda = new LambdaClient({ region });
  return {
    cloudwatch,
    lambda,
    close: () => {
      cloudwatch.destroy();
      lambda.destroy();
    },
  };
}

/** The Maximum of a metric over the last `windowMs` (1-minute periods); undefined without data. */
export async function metricMax(
  cloudwatch: CloudWatchClient,
  metric: { namespace: string; name: string; dimensions: Record<string, string> },
  options: { windowMs?: number; nowMs?: number } = {},
): Promise<number | undefined> {
  const now = options.nowMs ?? Date.now();
  const res = await cloudwatch.send(
    new GetMetricStatisticsCommand({
      Namespace: metric.namespace,
      MetricName: metric.name,
      Dimensions: Object.entries(metric.dimensions).map(([Name, Value]) => ({ Name, Value })),
      StartTime: new Date(now - (options.windowMs ?? 5 * 60_000)),
      EndTime: new Date(now),
      Period: 60,
      Statistics: ['Maximum'],
    }),
  );
  const values = (res.Datapoints ?? []).flatMap((d) =>
    d.Maximum === undefined ? [] : [d.Maximum],
  );
  return values.length ? Math.max(...values) : undefined;
}

/** The SQS queue's oldest message age (s), max over the last 5 minutes. */
export const oldestMessageAgeSeconds = (cloudwatch: CloudWatchClient, queueName: string) =>
  metricMax(cloudwatch, {
    namespace: 'AWS/SQS',
    name: 'ApproximateAgeOfOldestMessage',
    dimensions: { QueueName: queueName },
  });

/** The stream consumer's IteratorAge (ms), max over the last 5 minutes. */
export const iteratorAgeMs = (cloudwatch: CloudWatchClient, functionName: string) =>
  metricMax(cloudwatch, {
    namespace: 'AWS/Lambda',
    name: 'IteratorAge',
    dimensions: { FunctionName: functionName },
  });

/** State of `functionName`'s mapping on `streamArn` (`Enabled`, `Disabled`, …); undefined if none. */
export async function eventSourceMappingState(
  lambda: LambdaClient,
  functionName: string,
  streamArn: string | undefined,
): Promise<string | undefined> {
  const res = await lambda.send(
    new ListEventSourceMappingsCommand({
      FunctionName: functionName,
      ...(streamArn && { EventSourceArn: streamArn }),
    }),
  );
  return res.EventSourceMappings?.[0]?.State;
}
