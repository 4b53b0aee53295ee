import { ArnFormat, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import type { MetricOptions } from 'aws-cdk-lib/aws-cloudwatch';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { CfnDeliveryStream } from 'aws-cdk-lib/aws-kinesisfirehose';
import { LogGroup, LogStream, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, arnRef } from '../nag.ts';
import { PREFIXES } from './storage-bucket.ts';

/** The archive's layout, the same as the local archiver's: raw/YYYY/MM/DD/HH/<object>.gz (UTC arrival hour). */
export const RAW_DATA_PREFIX = `${PREFIXES.raw}!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/`;
export const RAW_ERROR_PREFIX = `${PREFIXES.rawErrors}!{firehose:error-output-type}/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/`;

export interface RawArchiveProps {
  readonly stream: IStream;
  readonly bucket: IBucket;
  readonly bufferingSeconds: number;
  readonly bufferingMiB: number;
}

/**
 * Every hub record, byte for byte, as gzip NDJSON. Records already end in a newline, so concatenating them is
 * NDJSON: no processor, no dynamic partitioning (both cost extra).
 *
 * L1 on purpose: the stable Firehose L2 grants its role read/write on the whole bucket, which would let the archive
 * overwrite the Delta table; this role may only write under raw/ and raw-errors/.
 */
export class RawArchive extends Construct {
  readonly deliveryStream: CfnDeliveryStream;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: RawArchiveProps) {
    super(scope, id);
    const { bucket, stream } = props;

    const logGroup = new LogGroup(this, 'DeliveryLogs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const logStream = new LogStream(this, 'S3DeliveryLogStream', {
      logGroup,
      logStreamName: 'S3Delivery',
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('firehose.amazonaws.com', {
        conditions: { StringEquals: { 'sts:ExternalId': Stack.of(this).account } },
      }),
      description: 'Firehose: read the hub stream, write the raw archive prefixes',
    });
    stream.grantRead(this.role);
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
        resources: [bucket.bucketArn],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject'],
        resources: [bucket.arnForObjects(`${PREFIXES.raw}*`), bucket.arnForObjects(`${PREFIXES.rawErrors}*`)],
      }),
    );
    this.role.addToPolicy(
      new PolicyStatement({
        actions: ['logs:PutLogEvents'],
        resources: [Stack.of(this).formatArn({
          service: 'logs',
          resource: 'log-group',
          resourceName: `${logGroup.logGroupName}:log-stream:${logStream.logStreamName}`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        })],
      }),
    );

    this.deliveryStream = new CfnDeliveryStream(this, 'DeliveryStream', {
      deliveryStreamType: 'KinesisStreamAsSource',
      kinesisStreamSourceConfiguration: { kinesisStreamArn: stream.streamArn, roleArn: this.role.roleArn },
      extendedS3DestinationConfiguration: {
        bucketArn: bucket.bucketArn,
        roleArn: this.role.roleArn,
        prefix: RAW_DATA_PREFIX,
        errorOutputPrefix: RAW_ERROR_PREFIX,
        compressionFormat: 'GZIP',
        fileExtension: '.gz',
        bufferingHints: { intervalInSeconds: props.bufferingSeconds, sizeInMBs: props.bufferingMiB },
        cloudWatchLoggingOptions: { enabled: true, logGroupName: logGroup.logGroupName, logStreamName: logStream.logStreamName },
      },
    });
    // Firehose checks its role's access when the stream is created: the policy must exist first.
    this.deliveryStream.node.addDependency(this.role);

    acknowledge(
      this.deliveryStream,
      'Firehose takes no server-side encryption settings for a Kinesis-stream source; the source stream is encrypted ' +
        'and the destination bucket encrypts every object.',
      'AwsSolutions-KDF1',
    );
    acknowledge(
      this.role,
      'Object actions are limited to the raw/ and raw-errors/ prefixes; a prefix grant needs a wildcard key.',
      `AwsSolutions-IAM5[Resource::${arnRef(bucket)}/${PREFIXES.raw}*]`,
      `AwsSolutions-IAM5[Resource::${arnRef(bucket)}/${PREFIXES.rawErrors}*]`,
    );
  }

  /** A Firehose metric of this delivery stream, e.g. `DeliveryToS3.DataFreshness`. */
  metric(metricName: string, options: MetricOptions = {}): Metric {
    return new Metric({
      namespace: 'AWS/Firehose',
      metricName,
      dimensionsMap: { DeliveryStreamName: this.deliveryStream.ref },
      ...options,
    });
  }
}
