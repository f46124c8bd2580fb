// The local stack's queues: the backfill work queue and the dead-letter queue it redrives into
// (in AWS the CDK stack creates them with the same settings).
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import {
  DLQ_RETENTION_DAYS,
  WORK_QUEUE_MAX_RECEIVES,
  WORK_QUEUE_VISIBILITY_SECONDS,
} from '../config/defaults.ts';

export interface QueueUrls {
  work: string;
  dlq: string;
}

/**
 * Creates (idempotently) the dead-letter queue and the work queue that redrives into it
 * after `maxReceiveCount` failed receives. Stream failures are sent to the DLQ directly.
 *
 * @param options.maxReceiveCount @default 5 (WORK_QUEUE_MAX_RECEIVES)
 * @param options.visibilityTimeoutSeconds @default 360 (WORK_QUEUE_VISIBILITY_SECONDS: 6 × the function timeout)
 * @example
 * const { work, dlq } = await ensureQueues(sqs, { queueName: 'streamfill-work', dlqName: 'streamfill-dlq' });
 */
export async function ensureQueues(
  sqs: SQSClient,
  names: { queueName: string; dlqName: string },
  options: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {},
): Promise<QueueUrls> {
  const dlq = await createQueue(sqs, names.dlqName, {
    MessageRetentionPeriod: String(DLQ_RETENTION_DAYS * 86_400),
  });
  const dlqArn = await queueArn(sqs, dlq);
  const work = await createQueue(sqs, names.queueName, {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? WORK_QUEUE_VISIBILITY_SECONDS),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: options.maxReceiveCount ?? WORK_QUEUE_MAX_RECEIVES,
    }),
  });
  return { work, dlq };
}

async function createQueue(
  sqs: SQSClient,
  QueueName: string,
  Attributes: Record<string, string>,
): Promise<string> {
  const res = await sqs.send(new CreateQueueCommand({ QueueName, Attributes }));
  if (!res.QueueUrl) throw new Error(`CreateQueue ${QueueName} returned no URL`);
  return res.QueueUrl;
}

export async function queueArn(sqs: SQSClient, QueueUrl: string): Promise<string> {
  const res = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }),
  );
  const arn = res.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${QueueUrl} has no ARN`);
  return arn;
}
