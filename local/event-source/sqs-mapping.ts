// Local emulation of a Lambda event source mapping on an SQS queue: long-polling pollers hand
// batches to the deployed handler function; successes are deleted, failures stay on the queue
// and come back after their visibility timeout, and the queue's own RedrivePolicy moves a
// message that keeps failing to its dead-letter queue — exactly as on AWS. Like AWS, it refuses
// a queue whose visibility timeout is shorter than the function timeout. With `redelivery`, a
// processed message is now and then left undeleted and comes back (AWS: "duplicate processing
// of records can occur").

import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type {
  Context,
  SQSBatchResponse,
  SQSEvent,
  SQSMessageAttributes,
  SQSRecord,
  SQSRecordAttributes,
} from 'aws-lambda';
import { readItemFailures } from './batch-response.ts';
import {
  DEFAULT_FUNCTION_TIMEOUT_MS,
  LOCAL_ACCOUNT_ID,
  createLambdaContext,
  defaultLogger,
  invokeHandler,
  sleep,
  toError,
  type EventSourceLogger,
} from './lambda-context.ts';
import { MappingLifecycle } from './mapping-lifecycle.ts';
import { redeliveryDice, type RedeliveryOptions } from './redelivery.ts';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface SqsMappingOptions {
  queueUrl: string;
  handler: SqsHandler;
  sqs: SQSClient;
  /** Messages per invocation. Above 10 needs a batching window, as in Lambda. @default 10 */
  batchSize?: number;
  /** Gather messages across receives until the batch is full or the window passes. @default 0 */
  maximumBatchingWindowMs?: number;
  /** Long-poll wait per ReceiveMessage (short, so stop() is quick). @default 1 */
  waitTimeSeconds?: number;
  /**
   * VisibilityTimeout of received messages; must not be shorter than the function timeout
   * (`start()` refuses it, as AWS refuses the mapping). @default the queue's own
   */
  visibilityTimeoutSeconds?: number;
  /**
   * Visibility given to failed messages so local retries come quickly (ChangeMessageVisibility).
   * @default leave them invisible for the rest of their visibility timeout, as Lambda does
   */
  retryDelaySeconds?: number;
  /**
   * The mapping's maximum concurrency (ScalingConfig.MaximumConcurrency): batches in flight at
   * most, reached by scaling up from `initialConcurrency`. @default 2
   */
  maxConcurrency?: number;
  /**
   * Batches in flight when messages first arrive; more are added one every `scaleUpIntervalMs`
   * while messages keep coming, up to `maxConcurrency`, and removed when receives come back
   * empty. AWS starts with five and adds up to 300 per minute. @default 5 (at most maxConcurrency)
   */
  initialConcurrency?: number;
  /** @default 200 (300 per minute) */
  scaleUpIntervalMs?: number;
  /**
   * The function's own concurrency limit (reserved concurrency). The mapping does not know it,
   * as on AWS: a batch received while that many invocations run is throttled — not invoked, left
   * to come back after its visibility timeout, its receive counted toward maxReceiveCount.
   * @default unlimited
   */
  functionConcurrency?: number;
  /** Honour `{ batchItemFailures }` responses. @default true */
  reportBatchItemFailures?: boolean;
  /** Name in the Lambda context. @default 'streamfill-worker' */
  functionName?: string;
  /** Invocations running longer count as failed. @default 60000 */
  functionTimeoutMs?: number;
  /** `awsRegion` of records and of the queue ARN. @default the client's region */
  awsRegion?: string;
  /** @default quiet about routine work, warnings and errors on stderr */
  logger?: EventSourceLogger;
  /**
   * At-least-once delivery (redelivery.ts): the delete of a processed message is skipped now and
   * then, so it comes back. `visibilitySeconds`: when it comes back (ChangeMessageVisibility);
   * default the rest of its visibility timeout, as on AWS. @default off
   */
  redelivery?: RedeliveryOptions & { visibilitySeconds?: number };
}

export interface SqsMappingStats {
  queueUrl: string;
  eventSourceARN?: string;
  running: boolean;
  /** Messages received (a redelivered message counts again). */
  received: number;
  /** Received messages that had been received before (ApproximateReceiveCount > 1). */
  redeliveries: number;
  batches: number;
  /** Messages the handler acknowledged (and that were deleted). */
  recordsProcessed: number;
  /** Messages left on the queue for a retry (their batch failed or they were reported). */
  recordsFailed: number;
  handlerErrors: number;
  deleteFailures: number;
  /** Messages being handled right now. */
  inFlight: number;
  /** Processed messages whose delete was skipped on purpose (emulated at-least-once). */
  duplicatesScheduled: number;
  /** Received messages not invoked because the function was at its concurrency limit. */
  throttled: number;
  /** Batches the mapping may have in flight now (scaled between initial and maximum). */
  concurrency: number;
}

// ---------------------------------------------------------------------------------------
// Pure parts (unit-tested)

/** `http(s)://host/<account>/<name>` -> `arn:aws:sqs:<region>:<account>:<name>`. */
export function queueArnFromUrl(queueUrl: string, region: string): string {
  const parts = new URL(queueUrl).pathname.split('/').filter(Boolean);
  const name = parts[parts.length - 1];
  if (!name) throw new Error(`not a queue URL: ${queueUrl}`);
  const account =
    parts.length >= 2 && /^\d{12}$/.test(parts[parts.length - 2]!)
      ? parts[parts.length - 2]!
      : LOCAL_ACCOUNT_ID;
  return `arn:aws:sqs:${region}:${account}:${name}`;
}

const SYSTEM_ATTRIBUTE_ORDER = [
  'ApproximateReceiveCount',
  'SentTimestamp',
  'SenderId',
  'ApproximateFirstReceiveTimestamp',
] as const;

/** An SDK `Message` (received with all attributes) -> the Lambda `SQSRecord`. */
export function toLambdaSqsRecord(
  message: Message,
  options: { eventSourceARN: string; awsRegion: string },
): SQSRecord {
  const sys = message.Attributes ?? {};
  const attributes: Record<string, string> = {};
  for (const name of SYSTEM_ATTRIBUTE_ORDER) attributes[name] = sys[name] ?? '';
  for (const [name, value] of Object.entries(sys))
    if (!(name in attributes) && value !== undefined) attributes[name] = value;

  const messageAttributes: SQSMessageAttributes = {};
  for (const [name, v] of Object.entries(message.MessageAttributes ?? {})) {
    const attr: SQSMessageAttributes[string] = { dataType: v.DataType ?? 'String' };
    if (v.StringValue !== undefined) attr.stringValue = v.StringValue;
    if (v.BinaryValue !== undefined)
      attr.binaryValue = Buffer.from(v.BinaryValue).toString('base64');
    attr.stringListValues = [...(v.StringListValues ?? [])];
    attr.binaryListValues = (v.BinaryListValues ?? []).map((b) =>
      Buffer.from(b).toString('base64'),
    );
    // Lambda's key order: value first, then the (reserved) lists, then dataType.
    const { dataType, ...rest } = attr;
    messageAttributes[name] = { ...rest, dataType };
  }

  const record: SQSRecord = {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: attributes as unknown as SQSRecordAttributes,
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: options.eventSourceARN,
    awsRegion: options.awsRegion,
  };
  if (message.MD5OfMessageAttributes) {
    // Lambda places it right after messageAttributes.
    const { md5OfBody, eventSource, eventSourceARN, awsRegion, ...head } = record;
    return {
      ...head,
      md5OfMessageAttributes: message.MD5OfMessageAttributes,
      md5OfBody,
      eventSource,
      eventSourceARN,
      awsRegion,
    };
  }
  return record;
}

export type SqsBatchOutcome =
  | { kind: 'success' }
  | { kind: 'partial'; failedMessageIds: Set<string>; reason: string }
  | { kind: 'failure'; reason: string };

/**
 * How Lambda reads an SQS handler's return value: no response or no/empty `batchItemFailures`
 * = all succeeded; an itemIdentifier that is missing, empty or not a message of the batch =
 * the whole batch failed; otherwise exactly the listed messages failed.
 */
export function interpretSqsBatchResponse(
  records: readonly SQSRecord[],
  response: unknown,
  reportBatchItemFailures: boolean,
): SqsBatchOutcome {
  const ids = new Set(records.map((r) => r.messageId));
  const read = readItemFailures(response, reportBatchItemFailures, ids);
  if (read.kind !== 'ids') return read;
  const failed = new Set(read.ids);
  if (failed.size === ids.size)
    return { kind: 'failure', reason: `handler reported all ${failed.size} message(s) as failed` };
  return {
    kind: 'partial',
    failedMessageIds: failed,
    reason: `handler reported ${failed.size} failed message(s)`,
  };
}

/**
 * FIFO queues keep order per message group: once a message of a group fails, the later
 * messages of that group in the batch must not be acknowledged either.
 */
export function extendFifoFailures(
  records: readonly SQSRecord[],
  failed: ReadonlySet<string>,
): Set<string> {
  const out = new Set(failed);
  const blocked = new Set<string>();
  for (const r of records) {
    const group = r.attributes.MessageGroupId ?? '';
    if (blocked.has(group)) out.add(r.messageId);
    else if (out.has(r.messageId)) blocked.add(group);
  }
  return out;
}

/**
 * AWS refuses an SQS event source whose queue hides a message for less time than the function
 * may run (a message would come back while still being processed). Same wording as its error.
 */
export function checkVisibilityTimeout(
  visibilityTimeoutSeconds: number,
  functionTimeoutMs: number,
): void {
  const functionSeconds = Math.ceil(functionTimeoutMs / 1000);
  if (visibilityTimeoutSeconds < functionSeconds)
    throw new Error(
      `Queue visibility timeout: ${visibilityTimeoutSeconds} seconds is less than Function timeout: ${functionSeconds} seconds ` +
        `(give the queue a VisibilityTimeout of at least ${functionSeconds} s; AWS recommends 6 × the function timeout, ${6 * functionSeconds} s)`,
    );
}

// ---------------------------------------------------------------------------------------

export class SqsMapping {
  private readonly opts: Required<
    Pick<
      SqsMappingOptions,
      | 'batchSize'
      | 'maximumBatchingWindowMs'
      | 'waitTimeSeconds'
      | 'maxConcurrency'
      | 'initialConcurrency'
      | 'scaleUpIntervalMs'
      | 'reportBatchItemFailures'
      | 'functionName'
      | 'functionTimeoutMs'
    >
  >;
  private readonly log: EventSourceLogger;
  private readonly lifecycle: MappingLifecycle;
  private readonly fifo: boolean;
  private pollers: Promise<void>[] = [];
  private region = 'us-east-1';
  private arn?: string;
  private readonly counters = {
    received: 0,
    redeliveries: 0,
    batches: 0,
    recordsProcessed: 0,
    recordsFailed: 0,
    handlerErrors: 0,
    deleteFailures: 0,
    inFlight: 0,
    duplicatesScheduled: 0,
    throttled: 0,
  };
  /** Pollers allowed to receive now: scaled between the initial and the maximum concurrency. */
  private active = 1;
  private lastScaleAt = 0;
  private invocations = 0;
  private readonly redeliver: (() => boolean) | undefined;

  constructor(private readonly options: SqsMappingOptions) {
    const batchSize = options.batchSize ?? 10;
    const window = options.maximumBatchingWindowMs ?? 0;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000)
      throw new Error(`batchSize must be 1..10000, got ${batchSize}`);
    if (batchSize > 10 && window <= 0)
      throw new Error('batchSize above 10 needs maximumBatchingWindowMs > 0 (as in Lambda)');
    this.opts = {
      batchSize,
      maximumBatchingWindowMs: window,
      waitTimeSeconds: options.waitTimeSeconds ?? 1,
      maxConcurrency: Math.max(1, options.maxConcurrency ?? 2),
      initialConcurrency: Math.max(1, options.initialConcurrency ?? 5),
      scaleUpIntervalMs: options.scaleUpIntervalMs ?? 200,
      reportBatchItemFailures: options.reportBatchItemFailures ?? true,
      functionName: options.functionName ?? 'streamfill-worker',
      functionTimeoutMs: options.functionTimeoutMs ?? DEFAULT_FUNCTION_TIMEOUT_MS,
    };
    this.fifo = options.queueUrl.endsWith('.fifo');
    this.redeliver = redeliveryDice(options.redelivery);
    this.log = options.logger ?? defaultLogger;
    this.lifecycle = new MappingLifecycle('SqsMapping', this.log);
  }

  get eventSourceARN(): string | undefined {
    return this.arn;
  }

  /** Checks the queue's visibility timeout against the function timeout, then starts polling. */
  async start(): Promise<void> {
    await this.lifecycle.start(async () => {
      this.region = this.options.awsRegion ?? (await this.options.sqs.config.region());
      this.arn = queueArnFromUrl(this.options.queueUrl, this.region);
      checkVisibilityTimeout(await this.visibilityTimeoutSeconds(), this.opts.functionTimeoutMs);
    });
    this.active = Math.min(this.opts.initialConcurrency, this.opts.maxConcurrency);
    this.lastScaleAt = performance.now();
    this.pollers = Array.from({ length: this.opts.maxConcurrency }, (_, i) => this.runPoller(i));
    this.log.info('sqs mapping started', {
      queueUrl: this.options.queueUrl,
      pollers: this.opts.maxConcurrency,
    });
  }

  /** Graceful: running batches finish (and are deleted); pollers end after their current long poll. */
  async stop(): Promise<void> {
    await this.lifecycle.stop(async () => void (await Promise.allSettled(this.pollers)), {
      queueUrl: this.options.queueUrl,
      ...this.counters,
    });
  }

  /**
   * Resolves when the queue holds nothing — visible, in flight (not visible) or delayed — and no
   * batch is running. Messages waiting out a failed attempt's visibility timeout count as work.
   */
  async waitForIdle(timeoutMs = 30_000): Promise<void> {
    let depth: Record<string, string> = {};
    await this.lifecycle.untilIdle(
      timeoutMs,
      50,
      async () => {
        const res = await this.options.sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: this.options.queueUrl,
            AttributeNames: [
              'ApproximateNumberOfMessages',
              'ApproximateNumberOfMessagesNotVisible',
              'ApproximateNumberOfMessagesDelayed',
            ],
          }),
        );
        depth = res.Attributes ?? {};
        const total =
          Number(depth.ApproximateNumberOfMessages ?? 0) +
          Number(depth.ApproximateNumberOfMessagesNotVisible ?? 0) +
          Number(depth.ApproximateNumberOfMessagesDelayed ?? 0);
        return total === 0 && this.counters.inFlight === 0;
      },
      () => JSON.stringify({ ...depth, inFlight: this.counters.inFlight }),
    );
  }

  stats(): SqsMappingStats {
    return {
      queueUrl: this.options.queueUrl,
      eventSourceARN: this.arn,
      running: this.lifecycle.running,
      ...this.counters,
      concurrency: this.active,
    };
  }

  // -------------------------------------------------------------------------------------

  private get stopping(): boolean {
    return this.lifecycle.stopping;
  }

  private async visibleMessages(): Promise<number> {
    const res = await this.options.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.options.queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    return Number(res.Attributes?.ApproximateNumberOfMessages ?? 0);
  }

  /** The visibility timeout received messages get: the option, else the queue's own. */
  private async visibilityTimeoutSeconds(): Promise<number> {
    if (this.options.visibilityTimeoutSeconds !== undefined)
      return this.options.visibilityTimeoutSeconds;
    const res = await this.options.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.options.queueUrl,
        AttributeNames: ['VisibilityTimeout'],
      }),
    );
    return Number(res.Attributes?.VisibilityTimeout ?? 30);
  }

  private runPoller(index: number): Promise<void> {
    return this.lifecycle.pollLoop({
      step: async () => {
        if (index >= this.active) {
          // Not scaled up to this poller (yet). The next one up watches the backlog: the busy
          // pollers may all be invoking, and scaling follows the queue, not their receives.
          await sleep(this.opts.scaleUpIntervalMs, this.lifecycle.signal);
          if (index === this.active && (await this.visibleMessages()) > 0) this.scale(true);
          return;
        }
        const messages = await this.receiveBatch();
        this.scale(messages.length > 0);
        if (messages.length === 0) return;
        if (this.stopping) {
          // Received while stopping: give them back at once instead of hiding them for a timeout.
          await this.changeVisibility(messages, 0);
          return 'done';
        }
        await this.processMessages(messages);
      },
      errorMessage: 'sqs poller error',
      errorDetails: () => ({ poller: index }),
    });
  }

  private async receive(max: number, waitTimeSeconds: number): Promise<Message[]> {
    const res = await this.options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: this.options.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: waitTimeSeconds,
        VisibilityTimeout: this.options.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    return res.Messages ?? [];
  }

  /** One long-polling receive; with a batching window, more receives until full or the window passes. */
  private async receiveBatch(): Promise<Message[]> {
    const messages = await this.receive(this.opts.batchSize, this.opts.waitTimeSeconds);
    if (messages.length === 0 || this.opts.maximumBatchingWindowMs <= 0) return messages;
    const windowEnd = performance.now() + this.opts.maximumBatchingWindowMs;
    while (messages.length < this.opts.batchSize && !this.stopping) {
      const remaining = windowEnd - performance.now();
      if (remaining <= 0) break;
      const wait = Math.min(this.opts.waitTimeSeconds, Math.floor(remaining / 1000));
      const more = await this.receive(this.opts.batchSize - messages.length, wait);
      messages.push(...more);
      if (more.length === 0 && wait === 0) await sleep(Math.min(50, remaining));
    }
    return messages;
  }

  /**
   * AWS ("Configuring scaling behavior for SQS event source mappings"): five batches at a time
   * at first, up to 300 more per minute while messages are available, back towards five when
   * traffic is low; never above the maximum concurrency.
   */
  private scale(gotMessages: boolean): void {
    const now = performance.now();
    if (now - this.lastScaleAt < this.opts.scaleUpIntervalMs) return;
    const floor = Math.min(this.opts.initialConcurrency, this.opts.maxConcurrency);
    if (gotMessages && this.active < this.opts.maxConcurrency) this.active++;
    else if (!gotMessages && this.active > floor) this.active--;
    else return;
    this.lastScaleAt = now;
  }

  private async processMessages(messages: Message[]): Promise<void> {
    const limit = this.options.functionConcurrency;
    if (limit !== undefined && this.invocations >= limit) {
      // Throttled: received but not invoked. Like AWS we leave them be: they come back after
      // their visibility timeout, and this receive counts toward maxReceiveCount.
      this.counters.throttled += messages.length;
      this.log.warn('function throttled: the batch returns after its visibility timeout', {
        messages: messages.length,
        functionConcurrency: limit,
      });
      return;
    }
    this.invocations++;
    this.counters.inFlight += messages.length;
    try {
      this.counters.received += messages.length;
      this.counters.redeliveries += messages.filter(
        (m) => Number(m.Attributes?.ApproximateReceiveCount ?? 1) > 1,
      ).length;
      this.counters.batches++;
      const records = messages.map((m) =>
        toLambdaSqsRecord(m, { eventSourceARN: this.arn!, awsRegion: this.region }),
      );
      const context = createLambdaContext({
        functionName: this.opts.functionName,
        timeoutMs: this.opts.functionTimeoutMs,
        region: this.region,
      });
      const outcome = await invokeHandler(
        this.options.handler,
        structuredClone({ Records: records }),
        context,
        this.opts.functionTimeoutMs,
      );

      let failed: Set<string>;
      if (!outcome.ok) {
        this.counters.handlerErrors++;
        this.log.warn('handler error: the batch stays on the queue', {
          requestId: context.awsRequestId,
          error: outcome.error.message,
        });
        failed = new Set(records.map((r) => r.messageId));
      } else {
        const verdict = interpretSqsBatchResponse(
          records,
          outcome.result,
          this.opts.reportBatchItemFailures,
        );
        if (verdict.kind === 'success') failed = new Set();
        else if (verdict.kind === 'partial') failed = verdict.failedMessageIds;
        else {
          this.log.warn('batch failed: the batch stays on the queue', {
            requestId: context.awsRequestId,
            reason: verdict.reason,
          });
          failed = new Set(records.map((r) => r.messageId));
        }
      }
      if (this.fifo && failed.size > 0) failed = extendFifoFailures(records, failed);

      const succeeded = messages.filter((m) => !failed.has(m.MessageId ?? ''));
      const retry = messages.filter((m) => failed.has(m.MessageId ?? ''));
      const duplicates = this.pickDuplicates(succeeded);
      await this.deleteMessages(succeeded.filter((m) => !duplicates.includes(m)));
      if (duplicates.length > 0) {
        this.counters.duplicatesScheduled += duplicates.length;
        const seconds = this.options.redelivery?.visibilitySeconds;
        if (seconds !== undefined) await this.changeVisibility(duplicates, seconds);
      }
      this.counters.recordsProcessed += succeeded.length;
      this.counters.recordsFailed += retry.length;
      if (retry.length > 0 && this.options.retryDelaySeconds !== undefined)
        await this.changeVisibility(retry, this.options.retryDelaySeconds);
    } finally {
      this.counters.inFlight -= messages.length;
      this.invocations--;
    }
  }

  /**
   * At least once: processed messages whose delete is skipped, so that SQS delivers them again.
   * Only at their first receive: an emulated duplicate never brings a message to the DLQ on its
   * own (a second receive is far from any maxReceiveCount, and FIFO order is not at stake).
   */
  private pickDuplicates(succeeded: Message[]): Message[] {
    if (!this.redeliver || this.fifo) return [];
    return succeeded.filter(
      (m) => Number(m.Attributes?.ApproximateReceiveCount ?? 1) === 1 && this.redeliver!(),
    );
  }

  private async deleteMessages(messages: Message[]): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      let chunk = messages.slice(i, i + 10);
      for (let attempt = 1; chunk.length > 0; attempt++) {
        const res = await this.options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
          }),
        );
        const failedIds = new Set((res.Failed ?? []).map((f) => f.Id));
        if (failedIds.size === 0) break;
        const failedChunk = chunk.filter((_, j) => failedIds.has(String(j)));
        if (attempt >= 3) {
          // The message will come back after its visibility timeout: processed twice, never lost.
          this.counters.deleteFailures += failedChunk.length;
          this.log.error('DeleteMessageBatch failed: the messages will be redelivered', {
            failed: res.Failed?.map((f) => `${f.Code}: ${f.Message}`),
          });
          break;
        }
        chunk = failedChunk;
      }
    }
  }

  private async changeVisibility(messages: Message[], seconds: number): Promise<void> {
    for (let i = 0; i < messages.length; i += 10) {
      const chunk = messages.slice(i, i + 10);
      try {
        await this.options.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.options.queueUrl,
            Entries: chunk.map((m, j) => ({
              Id: String(j),
              ReceiptHandle: m.ReceiptHandle,
              VisibilityTimeout: seconds,
            })),
          }),
        );
      } catch (err) {
        this.log.warn(
          'ChangeMessageVisibilityBatch failed: the messages come back after their visibility timeout',
          {
            error: toError(err).message,
          },
        );
      }
    }
  }
}
