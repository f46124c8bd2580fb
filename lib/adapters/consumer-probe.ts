// Is the stream consumer running and caught up? Locally from the heartbeat `streamfill run`
// publishes to the state store; on AWS from the Lambda event source mapping on the table's
// stream (state Enabled) and CloudWatch's IteratorAge. `backfill` reads nothing before this holds.
import { GetMetricStatisticsCommand, type CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { ListEventSourceMappingsCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import { formatWait } from '../core/throttle.ts';
import type { BackfillStateStore } from './backfill-state.ts';

export interface ConsumerState {
  /** Running and caught up: the scan may read. */
  ready: boolean;
  /** Why not (or a note when ready), phrased for the progress line. */
  reason?: string;
  /** How far behind the consumer is, when known. */
  lagMs?: number;
}

export type ConsumerProbe = () => Promise<ConsumerState>;

/** Local: the heartbeat of `component` must be fresh and say caught up. */
export function heartbeatProbe(
  store: Pick<BackfillStateStore, 'getHeartbeat'>,
  component: string,
  options: { staleMs: number; now?: () => number },
): ConsumerProbe {
  const now = options.now ?? Date.now;
  return async () => {
    const hb = await store.getHeartbeat(component);
    if (!hb) {
      return {
        ready: false,
        reason: 'waiting for the stream consumer: no heartbeat — start `streamfill run`',
      };
    }
    const age = now() - hb.updatedAtMs;
    if (age > options.staleMs) {
      return {
        ready: false,
        reason: `waiting for the stream consumer: last heartbeat ${formatWait(age)} ago (stale after ${formatWait(options.staleMs)}) — is \`streamfill run\` still running?`,
        lagMs: hb.lagMs,
      };
    }
    if (!hb.caughtUp) {
      return {
        ready: false,
        reason: `waiting for the stream consumer to catch up (lag ${formatWait(hb.lagMs)})`,
        lagMs: hb.lagMs,
      };
    }
    return { ready: true, lagMs: hb.lagMs };
  };
}

const functionNameOf = (arnOrName: string): string =>
  arnOrName.split(':function:').pop()?.split(':')[0] ?? arnOrName;

/**
 * AWS: a mapping from the stream to the consumer function must be Enabled, and its
 * IteratorAge (maximum over the last minutes) within `maxLagMs`.
 */
export function eventSourceMappingProbe(options: {
  lambda: LambdaClient;
  cloudwatch: CloudWatchClient;
  streamArn: string;
  /** The consumer function (name or ARN); without it any mapping on the stream counts. */
  functionName?: string;
  maxLagMs: number;
  now?: () => number;
}): ConsumerProbe {
  const now = options.now ?? Date.now;
  return async () => {
    const r = await options.lambda.send(
      new ListEventSourceMappingsCommand({
        EventSourceArn: options.streamArn,
        ...(options.functionName && { FunctionName: options.functionName }),
      }),
    );
    const mappings = r.EventSourceMappings ?? [];
    if (!mappings.length) {
      return {
        ready: false,
        reason:
          `waiting for the stream consumer: no event source mapping on ${options.streamArn}` +
          `${options.functionName ? ` for ${options.functionName}` : ''} — deploy the stack (or fix --consumer-function)`,
      };
    }
    const enabled = mappings.find((m) => m.State === 'Enabled');
    if (!enabled) {
      const states = mappings
        .map((m) => `${functionNameOf(m.FunctionArn ?? '?')}: ${m.State ?? '?'}`)
        .join(', ');
      return {
        ready: false,
        reason: `waiting for the stream consumer: its event source mapping is not Enabled (${states})`,
      };
    }
    const fn = functionNameOf(enabled.FunctionArn ?? options.functionName ?? '');
    const t = now();
    const stats = await options.cloudwatch.send(
      new GetMetricStatisticsCommand({
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: [{ Name: 'FunctionName', Value: fn }],
        StartTime: new Date(t - 5 * 60_000),
        EndTime: new Date(t),
        Period: 60,
        Statistics: ['Maximum'],
      }),
    );
    const latest = (stats.Datapoints ?? [])
      .filter((d) => d.Timestamp && d.Maximum !== undefined)
      .sort((a, b) => (b.Timestamp as Date).getTime() - (a.Timestamp as Date).getTime())[0];
    if (!latest) {
      // No batch in five minutes: no records waited, so nothing is behind.
      return {
        ready: true,
        reason: `consumer ${fn} Enabled, no IteratorAge in the last 5 min (idle stream)`,
      };
    }
    const lagMs = latest.Maximum as number;
    if (lagMs > options.maxLagMs) {
      return {
        ready: false,
        reason: `waiting for the stream consumer ${fn} to catch up (IteratorAge ${formatWait(lagMs)} > ${formatWait(options.maxLagMs)})`,
        lagMs,
      };
    }
    return { ready: true, lagMs };
  };
}

/** Whether DynamoDB is a local endpoint (DynamoDB Local): then the heartbeat decides. */
export function isLocalDynamo(env: NodeJS.ProcessEnv = process.env): boolean {
  const url = env.AWS_ENDPOINT_URL_DYNAMODB;
  if (!url) return false;
  try {
    const host = new URL(url).hostname;
    return (
      host === 'localhost' ||
      host === '::1' ||
      host === '[::1]' ||
      host.startsWith('127.') ||
      host === '0.0.0.0' ||
      host.endsWith('.localhost')
    );
  } catch {
    return false;
  }
}
