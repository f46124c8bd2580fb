// The alarms ContinuousBackfill adds to the live path's (DLQ depth, IteratorAge, consumer
// errors, Failed items): a consumer that stops being invoked while the table is written,
// throttles of either function, worker errors, and a work queue whose oldest message ages.
// Their widgets and the worker's EMF counts join the live path's dashboard.
import { Duration } from 'aws-cdk-lib';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  MathExpression,
  Metric,
  TreatMissingData,
  GraphWidget,
  type Dashboard,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRIC, METRICS_NAMESPACE, SERVICES } from '../../config/defaults.ts';

export interface BackfillAlarmsProps {
  readonly consumer: IFunction;
  readonly worker: IFunction;
  /** A streamed table: written while the consumer is never invoked raises the alarm. */
  readonly streamedTable: ITable;
  readonly workQueue: IQueue;
  /** The live path's dashboard, which gains the backfill's widgets. */
  readonly dashboard: Dashboard;
  /** Oldest work message older than this raises the alarm. */
  readonly oldestWorkMessageAgeThreshold: Duration;
  /** The table written without one consumer invocation for this long raises the alarm. */
  readonly consumerIdlePeriod: Duration;
  readonly alarmTopic?: ITopic;
}

const minute = Duration.minutes(1);
const raise = {
  comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
  threshold: 0,
  evaluationPeriods: 1,
  treatMissingData: TreatMissingData.NOT_BREACHING,
} as const;

/** The worker's Powertools counts (same namespace as the consumer's, its own service). */
const workerEmf = (metricName: string): Metric =>
  new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICES.backfillWorker.service },
    statistic: 'Sum',
    period: minute,
  });

/**
 * @example
 * new BackfillAlarms(this, 'BackfillAlarms', { consumer, worker, streamedTable, workQueue,
 *   dashboard, oldestWorkMessageAgeThreshold: Duration.minutes(30),
 *   consumerIdlePeriod: Duration.minutes(15) });
 */
export class BackfillAlarms extends Construct {
  readonly consumerNotInvokedAlarm: Alarm;
  readonly consumerThrottlesAlarm: Alarm;
  readonly workerErrorsAlarm: Alarm;
  readonly workerThrottlesAlarm: Alarm;
  readonly oldestWorkMessageAlarm: Alarm;
  readonly alarms: readonly Alarm[];

  constructor(scope: Construct, id: string, props: BackfillAlarmsProps) {
    super(scope, id);
    const idle = props.consumerIdlePeriod;
    // Writes without invocations: a disabled or broken mapping, a deleted stream, a stream
    // view change. An idle table raises nothing (both series empty → missing → not breaching).
    const writes = new Metric({
      namespace: 'AWS/DynamoDB',
      metricName: 'ConsumedWriteCapacityUnits',
      dimensionsMap: { TableName: props.streamedTable.tableName },
      statistic: 'Sum',
      period: idle,
    });
    const invocations = props.consumer.metricInvocations({ statistic: 'Sum', period: idle });
    const notInvoked = new MathExpression({
      expression: 'IF(FILL(writes, 0) > 0 AND FILL(invocations, 0) == 0, 1, 0)',
      usingMetrics: { writes, invocations },
      period: idle,
      label: 'table written, consumer not invoked',
    });
    this.consumerNotInvokedAlarm = new Alarm(this, 'ConsumerNotInvoked', {
      ...raise,
      alarmDescription:
        `streamfill: the table was written but the stream consumer was not invoked for ${idle.toMinutes()} min ` +
        '(event source mapping disabled or failing, stream disabled or its view type changed). ' +
        'Check `aws lambda get-event-source-mapping` (State, StateTransitionReason, LastProcessingResult).',
      metric: notInvoked,
    });
    const throttles = (fn: IFunction): Metric =>
      fn.metricThrottles({ statistic: 'Sum', period: minute });
    this.consumerThrottlesAlarm = new Alarm(this, 'ConsumerThrottles', {
      ...raise,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      alarmDescription:
        'streamfill: the stream consumer is throttled (reserved or account concurrency); the ' +
        'stream lag grows. Raise its reserved concurrency or the account limit.',
      metric: throttles(props.consumer),
    });
    this.workerErrorsAlarm = new Alarm(this, 'WorkerErrors', {
      ...raise,
      alarmDescription:
        'streamfill: the backfill worker failed whole batches (timeouts, configuration, a ' +
        'failed user lookup); SQS redelivers them, then moves them to the DLQ.',
      metric: props.worker.metricErrors({ statistic: 'Sum', period: minute }),
    });
    this.workerThrottlesAlarm = new Alarm(this, 'WorkerThrottles', {
      ...raise,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      alarmDescription:
        'streamfill: the backfill worker is throttled: its maxConcurrency exceeds the ' +
        'concurrency left to it. Lower workerMaxConcurrency or raise the reserved concurrency.',
      metric: throttles(props.worker),
    });
    const oldest = props.workQueue.metricApproximateAgeOfOldestMessage({
      statistic: 'Maximum',
      period: minute,
    });
    this.oldestWorkMessageAlarm = new Alarm(this, 'OldestWorkMessage', {
      ...raise,
      evaluationPeriods: 5,
      threshold: props.oldestWorkMessageAgeThreshold.toSeconds(),
      alarmDescription:
        `streamfill: a work message waits longer than ${props.oldestWorkMessageAgeThreshold.toMinutes()} min: ` +
        'the worker is not keeping up (or not running). Check its errors and throttles, ' +
        'lower `backfill --rate`, or raise workerMaxConcurrency.',
      metric: oldest,
    });
    this.alarms = [
      this.consumerNotInvokedAlarm,
      this.consumerThrottlesAlarm,
      this.workerErrorsAlarm,
      this.workerThrottlesAlarm,
      this.oldestWorkMessageAlarm,
    ];
    if (props.alarmTopic) {
      const action = new SnsAction(props.alarmTopic);
      for (const alarm of this.alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }

    props.dashboard.addWidgets(
      new AlarmStatusWidget({
        title: 'streamfill backfill alarms',
        alarms: [...this.alarms],
        width: 24,
        height: 3,
      }),
    );
    props.dashboard.addWidgets(
      new GraphWidget({
        title: 'Backfill worker: migrated / conflicts / failed',
        left: [
          workerEmf(METRIC.migrated).with({ label: 'migrated' }),
          workerEmf(METRIC.unchanged).with({ label: 'unchanged' }),
          workerEmf(METRIC.conflicts).with({ label: 'conflicts (a newer write won)' }),
        ],
        right: [
          workerEmf(METRIC.failed).with({ label: 'failed' }),
          workerEmf(METRIC.parked).with({ label: 'parked' }),
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Work queue: oldest message (s)',
        left: [oldest.with({ label: 'age of oldest message' })],
        leftAnnotations: [
          { value: props.oldestWorkMessageAgeThreshold.toSeconds(), label: 'alarm threshold' },
        ],
        width: 8,
      }),
      new GraphWidget({
        title: 'Functions: invocations, errors, throttles',
        left: [
          props.consumer
            .metricInvocations({ period: minute })
            .with({ label: 'consumer invocations' }),
          props.worker.metricInvocations({ period: minute }).with({ label: 'worker invocations' }),
        ],
        right: [
          props.worker.metricErrors({ period: minute }).with({ label: 'worker errors' }),
          throttles(props.consumer).with({ label: 'consumer throttles' }),
          throttles(props.worker).with({ label: 'worker throttles' }),
        ],
        width: 8,
      }),
    );
  }
}
