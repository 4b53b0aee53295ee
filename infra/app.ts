/**
 * The CDK app (`cdk.json`: `npx tsx infra/app.ts`). Environment-agnostic: it deploys to whatever account and region
 * the CLI's credentials name, and synthesizes offline.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readStackSettings, SettingsError } from './settings.ts';
import { STACK_NAME, TelemetryStack } from './stack.ts';

const app = new App();
let settings;
try {
  settings = readStackSettings((key) => app.node.tryGetContext(key));
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  console.error(error.message);
  process.exit(1);
}
new TelemetryStack(app, STACK_NAME, {
  settings,
  description: 'Game telemetry: HTTP + WebSocket intake, Kinesis hub, Firehose raw archive, Glue Delta Lake job',
});
// The same AWS Solutions checks the tests run: an unacknowledged finding fails synth.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
