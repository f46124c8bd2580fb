// The middy wrapping every batch entry point shares: a Powertools logger (with the Lambda
// context) and metrics (flushed after each batch) named after the entry point, handed to the
// engine's batch function as its BatchPolicy.
import middy from '@middy/core';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { METRICS_NAMESPACE, SERVICES } from '../config/defaults.ts';
import type { BatchPolicy } from './batch-policy.ts';

type Service = (typeof SERVICES)[keyof typeof SERVICES];

/**
 * A Lambda handler running `process` on each batch with the entry point's logger and metrics
 * (defaults: a Logger named `service.logger`, Metrics in namespace `streamfill`).
 *
 * @example
 * const handler = batchHandler(SERVICES.backfillWorker, options, processWorkBatch);
 */
export function batchHandler<E, R, O extends { logger?: Logger; metrics?: Metrics }>(
  service: Service,
  options: O,
  process: (event: E, options: O & BatchPolicy) => Promise<R>,
): (event: E, context: Context) => Promise<R> {
  const logger = options.logger ?? new Logger({ serviceName: service.logger });
  const metrics =
    options.metrics ?? new Metrics({ namespace: METRICS_NAMESPACE, serviceName: service.service });
  const policy = { ...options, logger, metrics, source: service.service };
  return middy((event: E) => process(event, policy))
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics)) as unknown as (event: E, context: Context) => Promise<R>;
}
