import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  type SQSClient,
} from '@aws-sdk/client-sqs';

export interface QueueUrls {
  work: string;
  dlq: string;
}

/**
 * Creates (idempotently) the dead-letter queue and the work queue that redrives into it
 * after `maxReceiveCount` failed receives. Stream failures are sent to the DLQ directly.
 */
export async function ensureQueues(
  sqs: SQSClient,
  names: { queueName: string; dlqName: string },
  options: { maxReceiveCount?: number; visibilityTimeoutSeconds?: number } = {},
): Promise<QueueUrls> {
  const dlq = await createQueue(sqs, names.dlqName, {
    MessageRetentionPeriod: String(14 * 86_400),
  });
  const dlqArn = await queueArn(sqs, dlq);
  const work = await createQueue(sqs, names.queueName, {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: options.maxReceiveCount ?? 5,
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

/** The queue's URL, or undefined when it does not exist. */
export async function findQueue(sqs: SQSClient, QueueName: string): Promise<string | undefined> {
  try {
    return (await sqs.send(new GetQueueUrlCommand({ QueueName }))).QueueUrl;
  } catch (e) {
    if (
      e instanceof QueueDoesNotExist ||
      (e as Error).name === 'AWS.SimpleQueueService.NonExistentQueue'
    )
      return undefined;
    throw e;
  }
}

/** Visible + in-flight message counts. */
export async function queueDepth(
  sqs: SQSClient,
  QueueUrl: string,
): Promise<{ visible: number; inFlight: number }> {
  const res = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(res.Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(res.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}
