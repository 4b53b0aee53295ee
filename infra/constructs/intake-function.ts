import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import { Construct } from 'constructs';
import { LAMBDA_ENV } from '../../runtime/config/lambda-env.ts';
import { acknowledgeLambdaBasics } from '../nag.ts';
import { LAMBDA_ENTRY, LOCK_FILE, REPO_ROOT } from '../paths.ts';

/** The exports of runtime/handlers/lambda.ts that the stack deploys. */
export type IntakeHandlerName = 'restHandler' | 'wsAuthorizerHandler' | 'wsMessageHandler';

/** Powertools' own variable names. */
export const POWERTOOLS_ENV = Object.freeze({
  serviceName: 'POWERTOOLS_SERVICE_NAME',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
  logLevel: 'POWERTOOLS_LOG_LEVEL',
});

/** The namespace of the handlers' EMF metrics (AcceptedEvents, RejectedEvents, ColdStart). */
export const METRICS_NAMESPACE = 'DeltaLakeTelemetry';

export interface IntakeFunctionProps {
  readonly handler: IntakeHandlerName;
  /** Powertools service name: the dimension the handler's metrics carry. */
  readonly serviceName: string;
  readonly description: string;
  readonly issuerEndpoint: string;
  readonly stream: IStream;
  readonly timeout: Duration;
}

/**
 * One handler of runtime/handlers/lambda.ts as a Lambda function: bundled by esbuild from the same modules the
 * local gateway runs, Node.js 22 on ARM64 (20% cheaper per GB-second than x86 for this I/O-bound code).
 */
export class IntakeFunction extends Construct {
  readonly fn: NodejsFunction;

  constructor(scope: Construct, id: string, props: IntakeFunctionProps) {
    super(scope, id);
    const logGroup = new LogGroup(this, 'Logs', {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.fn = new NodejsFunction(this, 'Function', {
      entry: LAMBDA_ENTRY,
      handler: props.handler,
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      // The work is one JSON parse and one PutRecords call; 256 MB gives enough CPU to parse a 1 MiB batch in a few
      // milliseconds and is what the cost model assumes.
      memorySize: 256,
      timeout: props.timeout,
      logGroup,
      environment: {
        [LAMBDA_ENV.issuer]: props.issuerEndpoint,
        [LAMBDA_ENV.streamArn]: props.stream.streamArn,
        [POWERTOOLS_ENV.serviceName]: props.serviceName,
        [POWERTOOLS_ENV.metricsNamespace]: METRICS_NAMESPACE,
        // Only failures are logged by the handlers; every extra line per request is billed log ingestion.
        [POWERTOOLS_ENV.logLevel]: 'WARN',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: OutputFormat.CJS,
        target: 'node22',
        minify: true,
        sourceMap: true,
        // Line mapping is what stack traces need; embedding the sources would quadruple the package.
        sourcesContent: false,
        // Bundle the AWS SDK too: the version we test is the version that runs, and cold starts load one file.
        externalModules: [],
      },
    });
    acknowledgeLambdaBasics(this.fn);
  }
}
