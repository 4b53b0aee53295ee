import { existsSync } from 'node:fs';
import { ArnFormat, BOOTSTRAP_QUALIFIER_CONTEXT, DefaultStackSynthesizer, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Code, Database, PySparkStreamingJob } from 'aws-cdk-lib/aws-glue';
import type { CfnJob, GlueVersion, WorkerType } from 'aws-cdk-lib/aws-glue';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, arnRef } from '../nag.ts';
import { glueModulesBeside } from '../paths.ts';
import { PREFIXES } from './storage-bucket.ts';

export interface GlueDeltaJobProps {
  readonly stream: IStream;
  readonly bucket: IBucket;
  /** The PySpark script; its sibling `.py` modules ship as `--extra-py-files`. */
  readonly scriptPath: string;
  readonly databaseName: string;
  readonly glueVersion: string;
  readonly workerType: string;
  readonly workerCount: number;
  readonly windowSeconds: number;
  readonly dedupWindowHours: number;
}

/**
 * The object keys the job may touch: the database folder (table), glue/ (checkpoints, temp) and quarantine/. No
 * trailing slash, because EMRFS writes `<dir>_$folder$` markers beside the directories it creates.
 */
export const JOB_OBJECT_PATTERNS = [
  `${PREFIXES.deltaTable.split('/')[0]}*`,
  `${PREFIXES.checkpoints.split('/')[0]}*`,
  `${PREFIXES.quarantine.replace(/\/$/, '')}*`,
];

/** Where the job's state lives; the table path is the contract's. */
function jobPaths(bucket: IBucket) {
  const url = (prefix: string) => `s3://${bucket.bucketName}/${prefix}`;
  return {
    tablePath: url(PREFIXES.deltaTable.replace(/\/$/, '')),
    checkpointLocation: url(`${PREFIXES.checkpoints}delta_lake_job/`),
    quarantinePath: url(PREFIXES.quarantine),
    tempDir: url(PREFIXES.glueTemp),
  };
}

/**
 * The Glue streaming job that turns the hub stream into the Delta table (the AWS twin of the local Delta writer),
 * its catalog database, and a role that reads the stream and writes only the job's own prefixes.
 */
export class GlueDeltaJob extends Construct {
  readonly job: PySparkStreamingJob;
  readonly database: Database;
  readonly role: Role;
  readonly tablePath: string;

  constructor(scope: Construct, id: string, props: GlueDeltaJobProps) {
    super(scope, id);
    const { bucket, stream } = props;
    const stack = Stack.of(this);
    if (!existsSync(props.scriptPath)) {
      throw new Error(`the Glue job's script ${props.scriptPath} does not exist: it comes from glue/ (see glue/README.md)`);
    }
    const paths = jobPaths(bucket);
    this.tablePath = paths.tablePath;

    this.database = new Database(this, 'Database', {
      databaseName: props.databaseName,
      description: 'Game telemetry: the Delta table written by the Glue streaming job',
      locationUri: `s3://${bucket.bucketName}/${PREFIXES.deltaTable.split('/')[0]}/`,
      // Catalog metadata only; the data stays in the retained bucket.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('glue.amazonaws.com'),
      description: 'Glue Delta job: read the hub stream, write the table, checkpoint, quarantine and temp prefixes',
    });
    stream.grantRead(this.role);
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket', 's3:GetBucketLocation'],
        resources: [bucket.bucketArn],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        // Delta commits, compaction and vacuum, and Spark's checkpoint cleanup, delete as well as write.
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
        resources: JOB_OBJECT_PATTERNS.map((pattern) => bucket.arnForObjects(pattern)),
      }),
    );
    const catalogArn = stack.formatArn({ service: 'glue', resource: 'catalog' });
    const databaseArn = stack.formatArn({ service: 'glue', resource: 'database', resourceName: props.databaseName });
    const tablesArn = stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${props.databaseName}/*` });
    this.role.addToPolicy(
      new PolicyStatement({
        // Registering and updating the table in the catalog, so Athena and Spark find it by name.
        actions: [
          'glue:GetDatabase',
          'glue:GetTable',
          'glue:GetTables',
          'glue:CreateTable',
          'glue:UpdateTable',
          'glue:GetPartition',
          'glue:GetPartitions',
          'glue:BatchGetPartition',
        ],
        resources: [catalogArn, databaseArn, tablesArn],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        // Glue's own driver and executor log groups (/aws-glue/jobs/output, /error, /logs-v2).
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [
          stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '/aws-glue/*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['cloudwatch:PutMetricData'],
        resources: ['*'],
        conditions: { StringEquals: { 'cloudwatch:namespace': 'Glue' } },
      }),
    );

    this.job = new PySparkStreamingJob(this, 'Job', {
      description: 'Hub stream → Delta table delta_lake_events_db/events (dedup, quarantine)',
      script: Code.fromAsset(props.scriptPath),
      extraPythonFiles: glueModulesBeside(props.scriptPath).map((file) => Code.fromAsset(file)),
      role: this.role,
      glueVersion: props.glueVersion as GlueVersion,
      // Set explicitly: the L2 default is G.1X × 10, about $3,200 a month when left running.
      workerConfiguration: { workerType: props.workerType as WorkerType, numberOfWorkers: props.workerCount },
      // One writer per table: the Delta commits and the checkpoint assume it.
      maxConcurrentRuns: 1,
      // A failed run resumes from its checkpoint; more retries than this means something needs a person.
      maxRetries: 2,
      enableMetrics: true,
      continuousLogging: { enabled: true },
      defaultArguments: {
        '--stream_arn': stream.streamArn,
        '--table_path': paths.tablePath,
        '--checkpoint_location': paths.checkpointLocation,
        '--quarantine_path': paths.quarantinePath,
        '--window_seconds': String(props.windowSeconds),
        '--dedup_window_hours': String(props.dedupWindowHours),
        '--database_name': props.databaseName,
        '--datalake-formats': 'delta',
        '--conf':
          'spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension ' +
          '--conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog',
        '--enable-glue-datacatalog': 'true',
        // Streaming jobs keep their position in Spark checkpoints, not bookmarks.
        '--job-bookmark-option': 'job-bookmark-disable',
        '--TempDir': paths.tempDir,
      },
    });
    // Glue restarts a streaming job every 7 days for patching; pin when (Sunday 03:00 UTC, a quiet hour for most games).
    (this.job.node.defaultChild as CfnJob).maintenanceWindow = 'Sun:3';
    this.job.node.addDependency(this.database);

    acknowledge(
      this.role,
      'Object access is limited to the job\'s own prefixes; a prefix grant needs a wildcard key.',
      ...JOB_OBJECT_PATTERNS.map((pattern) => `AwsSolutions-IAM5[Resource::${arnRef(bucket)}/${pattern}]`),
    );
    acknowledge(
      this.role,
      'The tables of the job\'s own database: the job creates and updates its table by name.',
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/${props.databaseName}/*]`,
    );
    acknowledge(
      this.role,
      'Glue writes driver and executor logs to log groups and streams it names itself under /aws-glue/.',
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/*]',
    );
    acknowledge(
      this.role,
      'PutMetricData has no resource type; the statement is limited to the Glue namespace by condition.',
      'AwsSolutions-IAM5[Resource::*]',
    );
    // The asset bucket's name follows the bootstrap qualifier (`cdk bootstrap --qualifier`).
    const qualifier = (this.node.tryGetContext(BOOTSTRAP_QUALIFIER_CONTEXT) as string | undefined) ?? DefaultStackSynthesizer.DEFAULT_QUALIFIER;
    acknowledge(
      this.role,
      'The read grant CDK adds for the job\'s script and modules in the CDK asset bucket.',
      'AwsSolutions-IAM5[Action::s3:GetObject*]',
      'AwsSolutions-IAM5[Action::s3:GetBucket*]',
      'AwsSolutions-IAM5[Action::s3:List*]',
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-${qualifier}-assets-<AWS::AccountId>-<AWS::Region>/*]`,
    );
    acknowledge(
      this.job,
      'Job logs carry no player data beyond what the bucket holds; a KMS security configuration (a customer key with a ' +
        'CloudWatch Logs key policy) is left to studios whose policy requires it.',
      'AwsSolutions-GL1',
      // The same finding, raised by the Glue L2 itself.
      'Annotation::@aws-cdk/aws-glue-alpha:unencryptedContinuousLogging',
    );
    acknowledge(
      this.job,
      'Job bookmarks are disabled: a streaming job keeps its position in Spark checkpoints in the encrypted bucket.',
      'AwsSolutions-GL3',
    );
  }
}
