import { join } from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { CfnJob, IJob } from 'aws-cdk-lib/aws-glue';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Provider } from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeLambdaBasics, arnRef } from '../nag.ts';
import { LOCK_FILE, REPO_ROOT } from '../paths.ts';

export interface GlueJobStarterProps {
  readonly job: IJob;
}

/**
 * Starts the Glue streaming job after deploy and keeps exactly one run: a custom resource whose properties are the
 * job's definition, so CloudFormation calls it again (restart) only when the script or arguments change.
 */
export class GlueJobStarter extends Construct {
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: GlueJobStarterProps) {
    super(scope, id);
    const { job } = props;
    const logGroup = new LogGroup(this, 'Logs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });
    const fn = new NodejsFunction(this, 'Function', {
      entry: join(REPO_ROOT, 'infra/functions/glue-job-starter.ts'),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: LOCK_FILE,
      description: 'Custom resource: start, restart or stop the Glue Delta streaming job',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      // Stopping a streaming run and waiting for it takes minutes; the handler gives up after 12.
      timeout: Duration.minutes(14),
      logGroup,
      bundling: { format: OutputFormat.CJS, target: 'node22', minify: true, externalModules: [] },
    });
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['glue:GetJobRuns', 'glue:StartJobRun', 'glue:BatchStopJobRun'],
        resources: [job.jobArn],
      }),
    );

    const provider = new Provider(this, 'Provider', {
      onEventHandler: fn,
      logGroup: new LogGroup(this, 'ProviderLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
    });

    const cfnJob = job.node.defaultChild as CfnJob;
    this.resource = new CustomResource(this, 'JobRun', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::GlueJobRun',
      properties: {
        JobName: job.jobName,
        // Any change here is a changed job: the running run is stopped and a new one started.
        Definition: Stack.of(this).toJsonString({
          command: cfnJob.command,
          defaultArguments: cfnJob.defaultArguments,
          glueVersion: cfnJob.glueVersion,
          workerType: cfnJob.workerType,
          numberOfWorkers: cfnJob.numberOfWorkers,
        }),
      },
    });

    acknowledgeLambdaBasics(fn);
    acknowledgeLambdaBasics(provider, 'The Provider framework\'s own function: CDK chooses its runtime and updates it.');
    acknowledge(
      provider,
      'The Provider framework may invoke any version of its own onEvent function.',
      `AwsSolutions-IAM5[Resource::${arnRef(fn)}:*]`,
    );
  }
}
