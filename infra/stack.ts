import { CfnOutput, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { GlueDeltaJob } from './constructs/glue-delta-job.ts';
import { GlueJobStarter } from './constructs/glue-job-starter.ts';
import { HttpIntake } from './constructs/http-intake.ts';
import { HubStream } from './constructs/hub-stream.ts';
import { Monitoring } from './constructs/monitoring.ts';
import { RawArchive } from './constructs/raw-archive.ts';
import { PREFIXES, StorageBucket } from './constructs/storage-bucket.ts';
import { WebSocketIntake } from './constructs/websocket-intake.ts';
import { GLUE_SCRIPT } from './paths.ts';
import type { StackSettings } from './settings.ts';

/** The original project's stack name, so its docs and scripts still find it. */
export const STACK_NAME = 'DeltaLakeIntegrationBackend';

export interface TelemetryStackProps extends StackProps {
  readonly settings: StackSettings;
  /** The Glue job's script; tests may point at a stand-in. Default glue/delta_lake_job.py. */
  readonly glueScriptPath?: string;
}

/**
 * Game telemetry on AWS: HTTP and WebSocket intake → Lambda (the same handler modules as `npm start`) → the hub
 * Kinesis stream → Firehose raw archive and the Glue Delta job, with alarms and a dashboard.
 */
export class TelemetryStack extends Stack {
  constructor(scope: Construct, id: string, props: TelemetryStackProps) {
    super(scope, id, props);
    const { settings } = props;

    const storage = new StorageBucket(this, 'Storage', {
      rawArchiveInfrequentAccessDays: settings.rawArchiveInfrequentAccessDays,
      rawArchiveExpirationDays: settings.rawArchiveExpirationDays,
    });
    const { stream } = new HubStream(this, 'Hub', { retentionHours: settings.streamRetentionHours });

    const http = new HttpIntake(this, 'HttpIntake', {
      issuerEndpoint: settings.issuerEndpoint,
      stream,
      stageName: settings.stageName,
      throttleRate: settings.httpThrottleRate,
      throttleBurst: settings.httpThrottleBurst,
    });
    const ws = new WebSocketIntake(this, 'WebSocketIntake', {
      issuerEndpoint: settings.issuerEndpoint,
      stream,
      stageName: settings.stageName,
      throttleRate: settings.wsThrottleRate,
      throttleBurst: settings.wsThrottleBurst,
    });

    const archive = new RawArchive(this, 'RawArchive', {
      stream,
      bucket: storage.bucket,
      bufferingSeconds: settings.firehoseBufferingSeconds,
      bufferingMiB: settings.firehoseBufferingMiB,
    });

    const delta = new GlueDeltaJob(this, 'GlueDeltaJob', {
      stream,
      bucket: storage.bucket,
      scriptPath: props.glueScriptPath ?? GLUE_SCRIPT,
      databaseName: settings.glueDatabaseName,
      glueVersion: settings.glueVersion,
      workerType: settings.glueWorkerType,
      workerCount: settings.glueWorkerCount,
      windowSeconds: settings.glueWindowSeconds,
      dedupWindowHours: settings.dedupWindowHours,
    });
    new GlueJobStarter(this, 'GlueJobStarter', { job: delta.job });

    const monitoring = new Monitoring(this, 'Monitoring', {
      httpApi: http.api,
      handlers: [
        { name: 'RestHandler', fn: http.handler },
        { name: 'WsMessageHandler', fn: ws.messageHandler },
      ],
      authorizer: ws.authorizerHandler,
      stream,
      archive,
      archiveBufferingSeconds: settings.firehoseBufferingSeconds,
      job: delta.job,
      alarmEmail: settings.alarmEmail,
    });

    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('IngestionEndpointUrl', `${http.baseUrl}put-record`, 'POST one event here (the original API\'s endpoint)');
    output('IngestionApiBaseUrl', http.baseUrl, 'REST base URL: POST put-record and put-records');
    output('WebSocketEndpointUrl', ws.url, 'Connect with ?auth_token=<JWT>; send {"action":"put-records",...}');
    output('KinesisStreamName', stream.streamName, 'The hub stream');
    output('DeltaTablePath', delta.tablePath, 'The Delta table, for Databricks, Spark, DuckDB, delta-rs');
    output('RawArchivePath', storage.s3Url(PREFIXES.raw), 'Gzip NDJSON archive of every hub record: raw/YYYY/MM/DD/HH/');
    output('GlueJobName', delta.job.jobName, 'The Glue streaming job writing the Delta table');
    output('GlueDatabaseName', settings.glueDatabaseName, 'The Glue Data Catalog database');
    output('DataBucketName', storage.bucket.bucketName, 'The data lake bucket (kept on stack deletion)');
    output('AlarmTopicArn', monitoring.topic.topicArn, 'Subscribe to receive the alarms');
    output('DashboardName', monitoring.dashboard.dashboardName, 'The CloudWatch dashboard of the pipeline');
  }
}
