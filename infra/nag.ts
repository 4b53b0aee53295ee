/** cdk-nag findings the stack accepts, each with its reason (CDK's Validations acknowledgements). */
import { Stack, Validations } from 'aws-cdk-lib';
import type { CfnElement } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Acknowledges rule ids (or `Rule[finding]` ids) on a construct and everything under it. */
export function acknowledge(scope: IConstruct, reason: string, ...ids: string[]): void {
  for (const id of ids) Validations.of(scope).acknowledge({ id, reason });
}

/** How cdk-nag names a resource's ARN in an IAM finding: `<LogicalId.Arn>`. */
export function arnRef(resource: IConstruct): string {
  const element = (resource.node.defaultChild ?? resource) as CfnElement;
  return `<${Stack.of(resource).getLogicalId(element)}.Arn>`;
}

/** The findings every function of this stack shares. */
export function acknowledgeLambdaBasics(
  fn: IConstruct,
  runtimeReason = 'Pinned to Node.js 22, the runtime the handlers are tested on; moving to a newer one is a reviewed change.',
): void {
  acknowledge(
    fn,
    'AWSLambdaBasicExecutionRole only allows writing the function\'s own CloudWatch logs.',
    'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
  );
  acknowledge(fn, runtimeReason, 'AwsSolutions-L1');
}
