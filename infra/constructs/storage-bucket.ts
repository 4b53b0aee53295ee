import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership, StorageClass } from 'aws-cdk-lib/aws-s3';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/** The bucket's layout: one prefix per writer, so each role can be granted exactly its own. */
export const PREFIXES = Object.freeze({
  /** Firehose's gzip NDJSON archive: raw/YYYY/MM/DD/HH/. */
  raw: 'raw/',
  /** Records Firehose could not deliver. */
  rawErrors: 'raw-errors/',
  /** The Delta table (the contract's path, whatever the catalog database is called). */
  deltaTable: 'delta_lake_events_db/events/',
  /** Rows the Glue job rejected, with their reason. */
  quarantine: 'quarantine/',
  /** Spark checkpoints of the streaming job. */
  checkpoints: 'glue/checkpoints/',
  /** Glue's scratch space (--TempDir). */
  glueTemp: 'glue/temp/',
});

export interface StorageBucketProps {
  readonly rawArchiveInfrequentAccessDays: number;
  /** 0 keeps raw objects for ever. */
  readonly rawArchiveExpirationDays: number;
}

/**
 * The data lake bucket: raw archive, Delta table, Glue state. Private, TLS only, encrypted, access-logged, and
 * kept when the stack is deleted (it holds the only copy of the data).
 */
export class StorageBucket extends Construct {
  readonly bucket: IBucket;
  readonly accessLogs: IBucket;

  constructor(scope: Construct, id: string, props: StorageBucketProps) {
    super(scope, id);

    const accessLogs = new Bucket(this, 'AccessLogs', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
      removalPolicy: RemovalPolicy.RETAIN,
    });

    const rawTransitions = [
      { storageClass: StorageClass.INFREQUENT_ACCESS, transitionAfter: Duration.days(props.rawArchiveInfrequentAccessDays) },
    ];
    this.bucket = new Bucket(this, 'Data', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Delta files are immutable and VACUUM deletes on purpose; versioning would keep every deleted file.
      versioned: false,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'data-bucket/',
      lifecycleRules: [
        {
          id: 'raw-archive',
          prefix: PREFIXES.raw,
          transitions: rawTransitions,
          ...(props.rawArchiveExpirationDays > 0 ? { expiration: Duration.days(props.rawArchiveExpirationDays) } : {}),
        },
        { id: 'glue-temp', prefix: PREFIXES.glueTemp, expiration: Duration.days(7) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.accessLogs = accessLogs;
  }

  /** `s3://bucket/prefix`, the form Spark, Glue and the engines take. */
  s3Url(prefix: string): string {
    return `s3://${this.bucket.bucketName}/${prefix}`;
  }
}
