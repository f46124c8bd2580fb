// The local stack's queues: the backfill work queue and the dead-letter queue it redrives into
// (in AWS the CDK stack creates them with the same settings).
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
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
  await refuseOtherRedrive(sqs, names, dlqArn);
  const work = await createQueue(sqs, names.queueName, {
    VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? WORK_QUEUE_VISIBILITY_SECONDS),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: options.maxReceiveCount ?? WORK_QUEUE_MAX_RECEIVES,
    }),
  });
  return { work, dlq };
}

/** Thrown when an existing work queue redrives into another dead-letter queue. */
export class QueueConflictError extends Error {
  override name = 'QueueConflictError';
}

/**
 * An existing work queue of that name whose redrive policy targets another DLQ would make
 * CreateQueue fail with a bare "Queue already exists": say what differs and what to do.
 */
async function refuseOtherRedrive(
  sqs: SQSClient,
  names: { queueName: string; dlqName: string },
  dlqArn: string,
): Promise<void> {
  let url: string | undefined;
  try {
    url = (await sqs.send(new GetQueueUrlCommand({ QueueName: names.queueName }))).QueueUrl;
  } catch (e) {
    if (/NonExistentQueue|does not exist/i.test(`${(e as Error).name} ${(e as Error).message}`))
      return;
    throw e;
  }
  if (!url) return;
  const res = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }),
  );
  const policy = res.Attributes?.RedrivePolicy;
  const target = policy
    ? (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn
    : undefined;
  if (target === dlqArn) return;
  throw new QueueConflictError(
    `queue ${names.queueName} already exists with ${target ? `its redrive policy pointing at ${target}` : 'no redrive policy'}, ` +
      `not at --dlq-name ${names.dlqName} (${dlqArn}). Use the DLQ it was created with ` +
      `(--dlq-name ${target?.split(':').pop() ?? '<its DLQ>'}), another --queue-name, or delete ` +
      `the queue (\`aws sqs delete-queue --queue-url ${url}\`) once it is drained`,
  );
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
