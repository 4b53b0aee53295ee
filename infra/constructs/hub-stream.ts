import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Stream, StreamEncryption, StreamMode } from 'aws-cdk-lib/aws-kinesis';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';

export interface HubStreamProps {
  readonly retentionHours: number;
}

/**
 * The hub Kinesis stream both intakes write and both consumers (Firehose, Glue) read. On-demand, so no shard
 * planning; no fixed name, so several deployments fit in one account.
 */
export class HubStream extends Construct {
  readonly stream: IStream;

  constructor(scope: Construct, id: string, props: HubStreamProps) {
    super(scope, id);
    this.stream = new Stream(this, 'Stream', {
      streamMode: StreamMode.ON_DEMAND,
      // The AWS-managed key needs no key policy or grants for the two consumers.
      encryption: StreamEncryption.MANAGED,
      retentionPeriod: Duration.hours(props.retentionHours),
      // A transit buffer: what the consumers have read is in raw/ and in the table, which outlive the stack.
      removalPolicy: RemovalPolicy.DESTROY,
    });
  }
}
