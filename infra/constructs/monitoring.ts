import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  Metric,
  TreatMissingData,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Rule } from 'aws-cdk-lib/aws-events';
import { SnsTopic } from 'aws-cdk-lib/aws-events-targets';
import type { IJob } from 'aws-cdk-lib/aws-glue';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from './intake-function.ts';
import type { RawArchive } from './raw-archive.ts';

export interface MonitoringProps {
  readonly httpApi: HttpApi;
  /** Functions whose errors mean a bug or an outage (the authorizer's errors are mostly bad tokens). */
  readonly handlers: readonly { readonly name: string; readonly fn: IFunction }[];
  readonly authorizer: IFunction;
  readonly stream: IStream;
  readonly archive: RawArchive;
  readonly archiveBufferingSeconds: number;
  readonly job: IJob;
  readonly alarmEmail: string | undefined;
}

const FIVE_MINUTES = Duration.minutes(5);

/** Glue's terminal states that mean the streaming job stopped on its own. */
export const GLUE_FAILURE_STATES = ['FAILED', 'TIMEOUT', 'ERROR'];

/**
 * Alarms on everything that silently loses or delays data — failing or throttled handlers, a stream consumer falling
 * behind, write throttling, a stale archive, a dead Glue job — into one SNS topic, and a dashboard of the pipeline.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.topic = new Topic(this, 'AlarmTopic', { displayName: 'Game telemetry alarms', enforceSSL: true });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    const action = new SnsAction(this.topic);
    const alarm = (id: string, metric: IMetric, threshold: number, description: string, evaluationPeriods = 1): Alarm => {
      const created = new Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      created.addAlarmAction(action);
      this.alarms.push(created);
      return created;
    };

    for (const { name, fn } of props.handlers) {
      alarm(`${name}Errors`, fn.metricErrors({ period: FIVE_MINUTES }), 5, `${name}: Lambda errors (crashes or timeouts)`);
    }
    for (const { name, fn } of [...props.handlers, { name: 'WsAuthorizer', fn: props.authorizer }]) {
      alarm(`${name}Throttles`, fn.metricThrottles({ period: FIVE_MINUTES }), 1, `${name}: Lambda throttled (concurrency limit)`);
    }
    alarm(
      'HttpApi5xx',
      props.httpApi.metricServerError({ period: FIVE_MINUTES }),
      5,
      'REST intake answered 5xx: the hub stream refused records or the handler failed',
    );
    alarm(
      'StreamIteratorAge',
      props.stream.metricGetRecordsIteratorAgeMilliseconds({ period: FIVE_MINUTES, statistic: 'Maximum' }),
      Duration.minutes(15).toMilliseconds(),
      'A hub stream consumer (Firehose or the Glue job) is more than 15 minutes behind; records expire at retention',
      3,
    );
    alarm(
      'StreamWriteThrottles',
      props.stream.metricWriteProvisionedThroughputExceeded({ period: FIVE_MINUTES, statistic: 'Sum' }),
      1,
      'Writes to the hub stream are throttled: clients get stream_unavailable and retry',
    );
    alarm(
      'ArchiveFreshness',
      props.archive.metric('DeliveryToS3.DataFreshness', { period: FIVE_MINUTES, statistic: 'Maximum' }),
      props.archiveBufferingSeconds + Duration.minutes(15).toSeconds(),
      'The raw archive is behind: Firehose has not delivered to S3 within its buffer time plus 15 minutes',
      2,
    );

    const jobFailed = new Rule(this, 'GlueJobFailedRule', {
      description: 'The Glue Delta job stopped on its own',
      eventPattern: {
        source: ['aws.glue'],
        detailType: ['Glue Job State Change'],
        detail: { jobName: [props.job.jobName], state: GLUE_FAILURE_STATES },
      },
      targets: [new SnsTopic(this.topic)],
    });
    const jobFailures = new Metric({
      namespace: 'AWS/Events',
      metricName: 'TriggeredRules',
      dimensionsMap: { RuleName: jobFailed.ruleName },
      statistic: 'Sum',
      period: FIVE_MINUTES,
    });
    alarm('GlueJobFailed', jobFailures, 1, 'The Glue Delta job failed, timed out or errored: the table stops growing');

    const events = (metricName: string, service: string) =>
      new Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service }, statistic: 'Sum', label: `${metricName} (${service})` });
    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(3) });
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 4 }));
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Events accepted / rejected',
        left: ['telemetry-rest', 'telemetry-ws'].flatMap((service) => [events('AcceptedEvents', service), events('RejectedEvents', service)]),
        width: 12,
      }),
      new GraphWidget({
        title: 'REST intake',
        left: [props.httpApi.metricCount(), props.httpApi.metricClientError(), props.httpApi.metricServerError()],
        right: [props.httpApi.metricLatency({ statistic: 'p99' })],
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Handlers: invocations and errors',
        left: [...props.handlers, { name: 'WsAuthorizer', fn: props.authorizer }].map(({ name, fn }) =>
          fn.metricInvocations({ label: `${name} invocations` }),
        ),
        right: [...props.handlers, { name: 'WsAuthorizer', fn: props.authorizer }].map(({ name, fn }) =>
          fn.metricErrors({ label: `${name} errors` }),
        ),
        width: 12,
      }),
      new GraphWidget({
        title: 'Handlers: p99 duration',
        left: props.handlers.map(({ name, fn }) => fn.metricDuration({ statistic: 'p99', label: name })),
        width: 12,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Hub stream: records and bytes in',
        left: [props.stream.metricIncomingRecords({ statistic: 'Sum' })],
        right: [props.stream.metricIncomingBytes({ statistic: 'Sum' })],
        width: 8,
      }),
      new GraphWidget({
        title: 'Hub stream: consumer lag (ms) and write throttles',
        left: [props.stream.metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum' })],
        right: [props.stream.metricWriteProvisionedThroughputExceeded({ statistic: 'Sum' })],
        width: 8,
      }),
      new GraphWidget({
        title: 'Raw archive: freshness (s) and bytes delivered',
        left: [props.archive.metric('DeliveryToS3.DataFreshness', { statistic: 'Maximum' })],
        right: [props.archive.metric('DeliveryToS3.Bytes', { statistic: 'Sum' })],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Glue Delta job: records per micro-batch and failures',
        left: [
          new Metric({
            namespace: 'Glue',
            metricName: 'glue.driver.streaming.numRecords',
            dimensionsMap: { JobName: props.job.jobName, JobRunId: 'ALL', Type: 'count' },
            statistic: 'Sum',
          }),
        ],
        right: [jobFailures],
        width: 24,
      }),
    );
  }
}
