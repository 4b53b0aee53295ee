/**
 * The CDK app: synthesized once (bundling skipped, no AWS credentials), then every property the deployment relies on
 * is asserted on the template, cdk-nag's AWS Solutions checks run on it, and the Glue job starter runs against a
 * fake Glue client.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinModules, createRequire } from 'node:module';
import { BatchStopJobRunCommand, GetJobRunsCommand, StartJobRunCommand } from '@aws-sdk/client-glue';
import type { GlueClient } from '@aws-sdk/client-glue';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { build } from 'esbuild';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { JOB_OBJECT_PATTERNS } from '../infra/constructs/glue-delta-job.ts';
import { RAW_DATA_PREFIX, RAW_ERROR_PREFIX } from '../infra/constructs/raw-archive.ts';
import { WS_TOKEN_SOURCE } from '../infra/constructs/websocket-intake.ts';
import { createGlueJobStarter } from '../infra/functions/glue-job-starter.ts';
import type { GlueRunsClient } from '../infra/functions/glue-job-starter.ts';
import { GLUE_SCRIPT, glueModulesBeside, LAMBDA_ENTRY } from '../infra/paths.ts';
import { DEFAULT_SETTINGS, readStackSettings, SettingsError } from '../infra/settings.ts';
import { STACK_NAME, TelemetryStack } from '../infra/stack.ts';
import { LAMBDA_ENV } from '../runtime/config/lambda-env.ts';
import { WS_ROUTES } from '../runtime/handlers/ws-message-handler.ts';

// Compile-time: the real Glue client fits the starter's structural interface.
const realGlueClientFits: GlueClient extends GlueRunsClient ? true : never = true;
void realGlueClientFits;

const ISSUER = 'https://id.example.com';
const HANDLERS = ['restHandler', 'wsAuthorizerHandler', 'wsMessageHandler'] as const;

/** The Glue script is another issue's work: use it when it exists, a stand-in (with a helper module) until then. */
function glueScript(): string {
  if (existsSync(GLUE_SCRIPT)) return GLUE_SCRIPT;
  const dir = mkdtempSync(join(tmpdir(), 'glue-stand-in-'));
  writeFileSync(join(dir, 'delta_lake_job.py'), 'import delta_lake_transforms\n');
  writeFileSync(join(dir, 'delta_lake_transforms.py'), '"""pure transforms"""\n');
  writeFileSync(join(dir, 'test_delta_lake_transforms.py'), '"""tests are not shipped"""\n');
  return join(dir, 'delta_lake_job.py');
}

/**
 * Runs with the variables the stack sets for the handlers, then restores the environment: other test files share
 * this process, and the local pipeline reads TELEMETRY_ISSUER too.
 */
async function withLambdaEnv<T>(run: () => Promise<T>): Promise<T> {
  const vars: Record<string, string> = {
    [LAMBDA_ENV.issuer]: ISSUER,
    [LAMBDA_ENV.streamName]: 'test-stream',
    POWERTOOLS_METRICS_NAMESPACE: 'DeltaLakeTelemetry',
    POWERTOOLS_SERVICE_NAME: 'telemetry-ws',
  };
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return await run();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}

const contextOf = (values: Record<string, unknown>) => (key: string) => values[key];

// Synthesized once for the whole file: synth is the slow part.
const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
const scriptPath = glueScript();
const stack = new TelemetryStack(app, STACK_NAME, {
  settings: readStackSettings(contextOf({ issuerEndpoint: `${ISSUER}/` })),
  glueScriptPath: scriptPath,
});
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, any> }>;

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

function ofType(type: string): [string, Record<string, any>][] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

function onlyOne(type: string, where: (props: Record<string, any>) => boolean = () => true): [string, Record<string, any>] {
  const found = ofType(type).filter(([, props]) => where(props));
  assert.is(found.length, 1, `exactly one ${type} expected, found ${found.length}`);
  return found[0]!;
}

function logicalIdOf(type: string): string {
  return onlyOne(type)[0];
}

function functionWithHandler(handler: string): Record<string, any> {
  return onlyOne('AWS::Lambda::Function', (p) => p['Handler'] === `index.${handler}`)[1];
}

/** Every statement of the inline policies attached to a role. */
function statementsOfRole(roleId: string): Statement[] {
  return ofType('AWS::IAM::Policy')
    .filter(([, p]) => (p['Roles'] as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId })))
    .flatMap(([, p]) => p['PolicyDocument'].Statement as Statement[]);
}

function roleOfFunction(handler: string): string {
  return functionWithHandler(handler)['Role']['Fn::GetAtt'][0] as string;
}

function actions(statements: Statement[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

const streamArn = { 'Fn::GetAtt': [logicalIdOf('AWS::Kinesis::Stream'), 'Arn'] };
const dataBucketId = onlyOne('AWS::S3::Bucket', (p) => p['LoggingConfiguration'] !== undefined)[0];

// ---------------------------------------------------------------------------------------------------------------
// Settings

test('settings: synth without issuerEndpoint fails with a message naming the flag', () => {
  const error = (() => {
    try {
      readStackSettings(contextOf({}));
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.instance(error, SettingsError);
  assert.match((error as Error).message, '-c issuerEndpoint=https://');
});

test('settings: every problem is reported at once; defaults are the documented ones', () => {
  try {
    readStackSettings(contextOf({ issuerEndpoint: 'http://localhost:3000', streamRetentionHours: '12', deltaMode: 'hourly' }));
    assert.unreachable('should have thrown');
  } catch (error) {
    const message = (error as Error).message;
    assert.match(message, 'issuerEndpoint must be an https:// URL');
    assert.match(message, 'streamRetentionHours must be a whole number from 24');
    assert.match(message, "deltaMode 'hourly' is not available");
  }
  const settings = readStackSettings(contextOf({ issuerEndpoint: `${ISSUER}///`, glueWorkerCount: '4' }));
  assert.is(settings.issuerEndpoint, ISSUER);
  assert.is(settings.glueWorkerCount, 4);
  assert.is(settings.glueWorkerType, 'G.025X');
  assert.is(settings.streamRetentionHours, 24);
  assert.is(settings.deltaMode, 'streaming');
  assert.ok(Object.isFrozen(settings));
});

test('the stack is environment-agnostic and keeps the original name', () => {
  assert.is(stack.stackName, 'DeltaLakeIntegrationBackend');
  assert.is(stack.environment, 'aws://unknown-account/unknown-region');
});

// ---------------------------------------------------------------------------------------------------------------
// The deployed handlers are the local gateway's modules

test('the Lambda entry module exports every handler the stack deploys', async () => {
  // Imported here first, inside the environment (Powertools reads its namespace at import).
  const entry = await withLambdaEnv(() => import('../runtime/handlers/lambda.ts'));
  for (const name of HANDLERS) assert.type(entry[name], 'function', `${name} is exported`);
  const deployed = ofType('AWS::Lambda::Function')
    .map(([, p]) => p['Handler'] as string)
    .filter((h) => h.startsWith('index.') && !h.includes('onEvent') && h !== 'index.handler');
  assert.equal(deployed.sort(), HANDLERS.map((h) => `index.${h}`).sort());
});

test('the Lambda entry wraps the handlers unchanged and emits accepted/rejected counts as EMF metrics', async () => {
  const { restHandler, wsMessageHandler } = await import('../runtime/handlers/lambda.ts');
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    await withLambdaEnv(async () => {
      const unauthorized = await restHandler({ routeKey: 'POST /put-record', headers: {}, body: '{}' } as never);
      assert.is(unauthorized.statusCode, 401);
      assert.is(unauthorized.body, '"Unauthorized"');
      // All events invalid: the handler answers without touching the stream, so no AWS call is made.
      const ack = await wsMessageHandler({
        requestContext: { routeKey: 'put-records', connectionId: 'c1', authorizer: { playerId: 'player-1' } },
        body: JSON.stringify({ action: 'put-records', id: 'b1', events: [{ event_id: '' }, { nope: 1 }] }),
      } as never);
      const reply = JSON.parse(ack.body!);
      assert.is(reply.type, 'ack');
      assert.is(reply.accepted, 0);
      assert.is(reply.rejected.length, 2);
    });
  } finally {
    process.stdout.write = write;
  }
  const emf = lines.map((line) => JSON.parse(line)).find((entry) => entry.RejectedEvents !== undefined);
  assert.ok(emf, 'an EMF line with the counts');
  assert.is(emf.RejectedEvents, 2);
  assert.is(emf.AcceptedEvents, 0);
  assert.equal(emf._aws.CloudWatchMetrics[0].Namespace, 'DeltaLakeTelemetry');
  assert.equal(emf._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name).sort(), ['AcceptedEvents', 'RejectedEvents']);
});

test('esbuild bundles the entry module (with its .ts imports) into one file that exports the handlers', async () => {
  const result = await build({
    entryPoints: [LAMBDA_ENTRY],
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    write: false,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0]!.text;
  const module = { exports: {} as Record<string, unknown> };
  const load = createRequire(import.meta.url);
  // Only Node built-ins may remain as requires: everything else, the AWS SDK included, is in the bundle.
  const builtinsOnly = (id: string): unknown => {
    if (!id.startsWith('node:') && !builtinModules.includes(id)) throw new Error(`the bundle requires ${id}`);
    return load(id);
  };
  new Function('module', 'exports', 'require', code)(module, module.exports, builtinsOnly);
  for (const name of HANDLERS) assert.type(module.exports[name], 'function', `bundle exports ${name}`);
});

test('Lambda functions: Node.js 22 on ARM64, bundled AWS SDK, env names from runtime/config/lambda-env.ts', () => {
  for (const handler of HANDLERS) {
    const fn = functionWithHandler(handler);
    assert.is(fn['Runtime'], 'nodejs22.x');
    assert.equal(fn['Architectures'], ['arm64']);
    assert.is(fn['MemorySize'], 256);
    assert.ok(fn['Timeout'] <= 15, `${handler} times out before API Gateway gives up`);
    const env = fn['Environment'].Variables as Record<string, unknown>;
    assert.is(env[LAMBDA_ENV.issuer], ISSUER);
    assert.equal(env[LAMBDA_ENV.streamArn], streamArn);
    assert.is(env['POWERTOOLS_METRICS_NAMESPACE'], 'DeltaLakeTelemetry');
    assert.type(env['POWERTOOLS_SERVICE_NAME'], 'string');
  }
});

// ---------------------------------------------------------------------------------------------------------------
// HTTP API

test('HTTP API: POST /put-record and /put-records → the REST handler, CORS, a throttled and logged stage', () => {
  const [apiId, api] = onlyOne('AWS::ApiGatewayV2::Api', (p) => p['ProtocolType'] === 'HTTP');
  assert.equal(api['CorsConfiguration'].AllowOrigins, ['*']);
  assert.ok((api['CorsConfiguration'].AllowHeaders as string[]).includes('authorization'));
  const routes = ofType('AWS::ApiGatewayV2::Route').filter(([, p]) => p['ApiId'].Ref === apiId);
  assert.equal(routes.map(([, p]) => p['RouteKey']).sort(), ['POST /put-record', 'POST /put-records']);
  const [, integration] = onlyOne('AWS::ApiGatewayV2::Integration', (p) => p['ApiId'].Ref === apiId);
  assert.is(integration['IntegrationType'], 'AWS_PROXY');
  assert.is(integration['PayloadFormatVersion'], '2.0');
  assert.is(integration['IntegrationUri']['Fn::GetAtt'][0], onlyOne('AWS::Lambda::Function', (p) => p['Handler'] === 'index.restHandler')[0]);
  template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
    ApiId: { Ref: apiId },
    StageName: DEFAULT_SETTINGS.stageName,
    AutoDeploy: true,
    DefaultRouteSettings: { ThrottlingRateLimit: DEFAULT_SETTINGS.httpThrottleRate, ThrottlingBurstLimit: DEFAULT_SETTINGS.httpThrottleBurst },
    AccessLogSettings: Match.objectLike({ DestinationArn: Match.anyValue() }),
  });
});

// ---------------------------------------------------------------------------------------------------------------
// WebSocket API

test('WebSocket API: the handler\'s routes, action selection, $connect authorizer on the auth_token query parameter', () => {
  const [apiId, api] = onlyOne('AWS::ApiGatewayV2::Api', (p) => p['ProtocolType'] === 'WEBSOCKET');
  assert.is(api['RouteSelectionExpression'], '$request.body.action');
  const routes = ofType('AWS::ApiGatewayV2::Route').filter(([, p]) => p['ApiId'].Ref === apiId);
  assert.equal(routes.map(([, p]) => p['RouteKey']).sort(), [...WS_ROUTES].sort());

  const [authorizerId, authorizer] = onlyOne('AWS::ApiGatewayV2::Authorizer');
  assert.is(authorizer['AuthorizerType'], 'REQUEST');
  assert.equal(authorizer['IdentitySource'], [WS_TOKEN_SOURCE]);
  assert.is(WS_TOKEN_SOURCE, 'route.request.querystring.auth_token');
  const authorizerFn = onlyOne('AWS::Lambda::Function', (p) => p['Handler'] === 'index.wsAuthorizerHandler')[0];
  assert.match(JSON.stringify(authorizer['AuthorizerUri']), authorizerFn);

  for (const [, route] of routes) {
    const isConnect = route['RouteKey'] === '$connect';
    assert.is(route['AuthorizationType'], isConnect ? 'CUSTOM' : 'NONE', route['RouteKey']);
    if (isConnect) assert.equal(route['AuthorizerId'], { Ref: authorizerId });
  }
  // Every route goes to the one message handler.
  const [integrationId, integration] = onlyOne('AWS::ApiGatewayV2::Integration', (p) => p['ApiId'].Ref === apiId);
  const messageFn = onlyOne('AWS::Lambda::Function', (p) => p['Handler'] === 'index.wsMessageHandler')[0];
  assert.match(JSON.stringify(integration['IntegrationUri']), messageFn);
  for (const [, route] of routes) assert.match(JSON.stringify(route['Target']), integrationId);
});

test('WebSocket API: put-records, ping and $default are two-way routes (the return value is the reply frame)', () => {
  const apiId = onlyOne('AWS::ApiGatewayV2::Api', (p) => p['ProtocolType'] === 'WEBSOCKET')[0];
  const routes = new Map(
    ofType('AWS::ApiGatewayV2::Route')
      .filter(([, p]) => p['ApiId'].Ref === apiId)
      .map(([id, p]) => [id, p['RouteKey'] as string]),
  );
  const twoWay = ofType('AWS::ApiGatewayV2::RouteResponse').map(([, p]) => {
    assert.is(p['RouteResponseKey'], '$default');
    return routes.get(p['RouteId'].Ref);
  });
  assert.equal(twoWay.sort(), ['$default', 'ping', 'put-records']);
  for (const [id, key] of routes) {
    const expression = resources[id]!.Properties!['RouteResponseSelectionExpression'];
    assert.is(expression, twoWay.includes(key) ? '$default' : undefined, key);
  }
});

test('WebSocket stage: throttled, access-logged without the query string, no PostToConnection permission anywhere', () => {
  const apiId = onlyOne('AWS::ApiGatewayV2::Api', (p) => p['ProtocolType'] === 'WEBSOCKET')[0];
  const [, stage] = onlyOne('AWS::ApiGatewayV2::Stage', (p) => p['ApiId'].Ref === apiId);
  assert.is(stage['StageName'], DEFAULT_SETTINGS.stageName);
  assert.equal(stage['DefaultRouteSettings'], {
    ThrottlingRateLimit: DEFAULT_SETTINGS.wsThrottleRate,
    ThrottlingBurstLimit: DEFAULT_SETTINGS.wsThrottleBurst,
  });
  const format = stage['AccessLogSettings'].Format as string;
  assert.not.match(format, /querystring|requestUri|path/i);
  const all = ofType('AWS::IAM::Policy').flatMap(([, p]) => actions(p['PolicyDocument'].Statement));
  assert.not.ok(all.includes('execute-api:ManageConnections'));
});

// ---------------------------------------------------------------------------------------------------------------
// Stream, archive, bucket

test('Kinesis: on-demand, KMS-encrypted, retention from context, no fixed name', () => {
  const [, stream] = onlyOne('AWS::Kinesis::Stream');
  assert.equal(stream['StreamModeDetails'], { StreamMode: 'ON_DEMAND' });
  assert.is(stream['StreamEncryption'].EncryptionType, 'KMS');
  assert.is(stream['RetentionPeriodHours'], 24);
  assert.is(stream['Name'], undefined);
});

test('Firehose: the stream as source, raw/YYYY/MM/DD/HH/ gzip with an error prefix and buffering from context', () => {
  const [, delivery] = onlyOne('AWS::KinesisFirehose::DeliveryStream');
  assert.is(delivery['DeliveryStreamType'], 'KinesisStreamAsSource');
  assert.equal(delivery['KinesisStreamSourceConfiguration'].KinesisStreamARN, streamArn);
  const s3 = delivery['ExtendedS3DestinationConfiguration'];
  assert.equal(s3.BucketARN, { 'Fn::GetAtt': [dataBucketId, 'Arn'] });
  assert.is(s3.Prefix, 'raw/!{timestamp:yyyy}/!{timestamp:MM}/!{timestamp:dd}/!{timestamp:HH}/');
  assert.is(s3.Prefix, RAW_DATA_PREFIX);
  assert.is(s3.ErrorOutputPrefix, RAW_ERROR_PREFIX);
  assert.match(s3.ErrorOutputPrefix, '!{firehose:error-output-type}');
  assert.is(s3.CompressionFormat, 'GZIP');
  assert.equal(s3.BufferingHints, {
    IntervalInSeconds: DEFAULT_SETTINGS.firehoseBufferingSeconds,
    SizeInMBs: DEFAULT_SETTINGS.firehoseBufferingMiB,
  });
  assert.is(s3.ProcessingConfiguration, undefined, 'records are archived byte for byte');
});

test('S3: public access blocked, encrypted, TLS-only policy, access logs, raw/ lifecycle from context, kept on delete', () => {
  const bucket = resources[dataBucketId]!;
  const props = bucket.Properties!;
  assert.equal(props['PublicAccessBlockConfiguration'], {
    BlockPublicAcls: true,
    BlockPublicPolicy: true,
    IgnorePublicAcls: true,
    RestrictPublicBuckets: true,
  });
  assert.is(props['BucketEncryption'].ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm, 'AES256');
  assert.ok(props['LoggingConfiguration'].DestinationBucketName);
  const raw = (props['LifecycleConfiguration'].Rules as any[]).find((r) => r.Prefix === 'raw/');
  assert.equal(raw.Transitions, [{ StorageClass: 'STANDARD_IA', TransitionInDays: DEFAULT_SETTINGS.rawArchiveInfrequentAccessDays }]);
  assert.is(raw.ExpirationInDays, undefined);
  assert.is((bucket as { DeletionPolicy?: string }).DeletionPolicy, 'Retain');
  for (const [, policy] of ofType('AWS::S3::BucketPolicy')) {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: policy['Bucket'],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  }
  assert.is(ofType('AWS::S3::BucketPolicy').length, 2, 'both buckets enforce TLS');
});

// ---------------------------------------------------------------------------------------------------------------
// Glue

test('Glue: database, streaming job from glue/ with the script\'s exact arguments, G.025X × 2, started after deploy', () => {
  const [, database] = onlyOne('AWS::Glue::Database');
  assert.is(database['DatabaseInput'].Name, 'delta_lake_events_db');
  const [jobId, job] = onlyOne('AWS::Glue::Job');
  assert.is(job['Command'].Name, 'gluestreaming');
  assert.is(job['Command'].PythonVersion, '3');
  assert.match(JSON.stringify(job['Command'].ScriptLocation), /\.py"/);
  assert.is(job['GlueVersion'], '4.0');
  assert.is(job['WorkerType'], 'G.025X');
  assert.is(job['NumberOfWorkers'], 2);
  assert.equal(job['ExecutionProperty'], { MaxConcurrentRuns: 1 });
  assert.is(job['MaintenanceWindow'], 'Sun:3');
  const args = job['DefaultArguments'] as Record<string, unknown>;
  const bucketUrl = (path: string) => ({ 'Fn::Join': ['', ['s3://', { Ref: dataBucketId }, path]] });
  assert.equal(args['--stream_arn'], streamArn);
  assert.equal(args['--table_path'], bucketUrl('/delta_lake_events_db/events'));
  assert.equal(args['--checkpoint_location'], bucketUrl('/glue/checkpoints/delta_lake_job/'));
  assert.equal(args['--quarantine_path'], bucketUrl('/quarantine/'));
  assert.is(args['--window_seconds'], '100');
  assert.is(args['--dedup_window_hours'], '24');
  assert.is(args['--database_name'], 'delta_lake_events_db');
  assert.is(args['--datalake-formats'], 'delta');
  assert.is(args['--enable-metrics'], '');
  assert.is(args['--enable-continuous-cloudwatch-log'], 'true');
  assert.is(args['--job-bookmark-option'], 'job-bookmark-disable');
  assert.is(args['--JOB_NAME'], undefined, 'Glue passes --JOB_NAME itself');
  // The script's sibling modules ship with it, its tests do not.
  const modules = glueModulesBeside(scriptPath);
  assert.ok(modules.length > 0);
  assert.not.ok(modules.some((file) => /(^|\/)test_[^/]*$|_test\.py$/.test(file)), 'no test module is shipped');
  assert.is(JSON.stringify(args['--extra-py-files']).split('.py').length - 1, modules.length);
  const [, starter] = onlyOne('Custom::GlueJobRun');
  assert.equal(starter['JobName'], { Ref: jobId });
  assert.match(JSON.stringify(starter['Definition']), 'scriptLocation');
});

// ---------------------------------------------------------------------------------------------------------------
// Least privilege

test('IAM: the intake handlers may only write to their stream; the authorizer may not touch it', () => {
  for (const handler of ['restHandler', 'wsMessageHandler']) {
    const statements = statementsOfRole(roleOfFunction(handler));
    assert.ok(actions(statements).includes('kinesis:PutRecords'), handler);
    for (const statement of statements) {
      assert.equal(statement.Resource, streamArn, `${handler}: ${JSON.stringify(statement.Action)} is scoped to the stream`);
      for (const action of actions([statement])) assert.match(action, /^kinesis:(PutRecords?|ListShards|DescribeStream\w*)$/);
    }
  }
  const authorizer = statementsOfRole(roleOfFunction('wsAuthorizerHandler'));
  assert.not.ok(actions(authorizer).some((a) => a.startsWith('kinesis:')));
});

test('IAM: the Glue role reads the stream and writes only its own prefixes; Firehose writes only raw/', () => {
  const glueRole = onlyOne('AWS::IAM::Role', (p) => JSON.stringify(p['AssumeRolePolicyDocument']).includes('glue.amazonaws.com'))[0];
  const glue = statementsOfRole(glueRole);
  const kinesis = glue.filter((s) => actions([s]).some((a) => a.startsWith('kinesis:')));
  for (const s of kinesis) {
    assert.equal(s.Resource, streamArn);
    for (const a of actions([s])) assert.not.match(a, /Put/);
  }
  const objectArns = (statements: Statement[]) =>
    statements
      .filter((s) => actions([s]).includes('s3:PutObject'))
      .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
      .map((r) => JSON.stringify(r));
  const bucketPath = (pattern: string) =>
    JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [dataBucketId, 'Arn'] }, `/${pattern}`]] });
  assert.equal(objectArns(glue).sort(), JOB_OBJECT_PATTERNS.map(bucketPath).sort());
  assert.equal(JOB_OBJECT_PATTERNS, ['delta_lake_events_db*', 'glue*', 'quarantine*']);

  const firehoseRole = onlyOne('AWS::IAM::Role', (p) => JSON.stringify(p['AssumeRolePolicyDocument']).includes('firehose.amazonaws.com'))[0];
  const firehose = statementsOfRole(firehoseRole);
  assert.equal(objectArns(firehose).sort(), ['raw-errors/*', 'raw/*'].map(bucketPath).sort());
  assert.not.ok(actions(firehose).some((a) => a.startsWith('s3:Delete')));
});

test('IAM: no statement allows every action, and only PutMetricData (namespace-bound) has Resource "*"', () => {
  for (const [id, policy] of ofType('AWS::IAM::Policy')) {
    for (const statement of policy['PolicyDocument'].Statement as Statement[]) {
      assert.not.ok(actions([statement]).some((a) => a === '*' || a.endsWith(':*')), `${id}: ${JSON.stringify(statement.Action)}`);
      if (statement.Resource === '*') {
        assert.equal(statement.Action, 'cloudwatch:PutMetricData', id);
        assert.equal(statement.Condition, { StringEquals: { 'cloudwatch:namespace': 'Glue' } });
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Monitoring and outputs

test('alarms: Lambda errors and throttles, iterator age, write throttles, archive freshness, Glue job failure', () => {
  const alarms = ofType('AWS::CloudWatch::Alarm').map(([, p]) => p);
  const metrics = alarms.map((a) => `${a['Namespace']}/${a['MetricName']}`);
  const count = (metric: string) => metrics.filter((m) => m === metric).length;
  assert.is(count('AWS/Lambda/Errors'), 2, 'REST and WS message handlers');
  assert.is(count('AWS/Lambda/Throttles'), 3, 'every intake function');
  assert.is(count('AWS/Kinesis/GetRecords.IteratorAgeMilliseconds'), 1);
  assert.is(count('AWS/Kinesis/WriteProvisionedThroughputExceeded'), 1);
  assert.is(count('AWS/Firehose/DeliveryToS3.DataFreshness'), 1);
  assert.is(count('AWS/Events/TriggeredRules'), 1);
  assert.is(count('AWS/ApiGateway/5xx'), 1);
  const topicId = logicalIdOf('AWS::SNS::Topic');
  for (const alarm of alarms) assert.equal(alarm['AlarmActions'], [{ Ref: topicId }]);

  const [, rule] = onlyOne('AWS::Events::Rule');
  assert.equal(rule['EventPattern'].source, ['aws.glue']);
  assert.equal(rule['EventPattern']['detail-type'], ['Glue Job State Change']);
  assert.equal(rule['EventPattern'].detail.jobName, [{ Ref: logicalIdOf('AWS::Glue::Job') }]);
  assert.equal(rule['EventPattern'].detail.state, ['FAILED', 'TIMEOUT', 'ERROR']);
  template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
});

test('outputs: the seven the README documents, in their expected forms', () => {
  const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
  const text = (name: string) => JSON.stringify(outputs[name]?.Value);
  for (const name of [
    'IngestionEndpointUrl',
    'IngestionApiBaseUrl',
    'WebSocketEndpointUrl',
    'KinesisStreamName',
    'DeltaTablePath',
    'RawArchivePath',
    'GlueJobName',
  ]) {
    assert.ok(outputs[name], `output ${name}`);
  }
  assert.match(text('IngestionEndpointUrl'), /"https:\/\/".*\/prod\/put-record"/);
  assert.match(text('IngestionApiBaseUrl'), /\/prod\/"/);
  assert.match(text('WebSocketEndpointUrl'), /"wss:\/\/".*\/prod"/);
  assert.equal(outputs['KinesisStreamName']!.Value, { Ref: logicalIdOf('AWS::Kinesis::Stream') });
  assert.match(text('DeltaTablePath'), '/delta_lake_events_db/events');
  assert.match(text('RawArchivePath'), '/raw/');
  assert.equal(outputs['GlueJobName']!.Value, { Ref: logicalIdOf('AWS::Glue::Job') });
});

// ---------------------------------------------------------------------------------------------------------------
// cdk-nag

test('cdk-nag AwsSolutions: no unacknowledged finding, and every acknowledgement gives its reason', () => {
  const report = new AwsSolutionsChecks().validateScope(stack);
  const findings = report.violations.map(
    (v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
  );
  assert.equal(findings, []);

  // The same checks with acknowledgements ignored: every acknowledgement must still be needed (no stale ones).
  // (isAcknowledged is cdk-nag's own hook for acknowledgements; it is private in its typings.)
  const unacknowledged = new AwsSolutionsChecks();
  Object.assign(unacknowledged, { isAcknowledged: () => false });
  const raised = new Set(unacknowledged.validateScope(stack).violations.map((v) => v.ruleName));
  let acknowledged = 0;
  for (const construct of stack.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) {
        const text = typeof reason === 'string' ? reason : JSON.stringify(reason);
        assert.ok(text.length > 30, `${id} on ${construct.node.path} explains itself`);
        const rule = id.replace(/^annotation::/i, '');
        if (!rule.startsWith('AwsSolutions-')) continue;
        acknowledged++;
        assert.ok(raised.has(rule), `${id} on ${construct.node.path} acknowledges a finding that is not raised`);
      }
    }
  }
  assert.ok(acknowledged > 0);
});

// ---------------------------------------------------------------------------------------------------------------
// The Glue job starter (custom resource), against a fake Glue client

type Run = { Id: string; JobRunState: string };

/** Glue's job runs as a list, newest first; StartJobRun refuses a second active run like the real service. */
class FakeGlue {
  runs: Run[] = [];
  readonly calls: string[] = [];
  /** Runs that a stop request leaves STOPPING for this many more GetJobRuns calls. */
  stoppingFor = 0;
  jobExists = true;

  async send(command: GetJobRunsCommand | StartJobRunCommand | BatchStopJobRunCommand): Promise<any> {
    this.calls.push(command.constructor.name);
    if (!this.jobExists) throw Object.assign(new Error('job not found'), { name: 'EntityNotFoundException' });
    if (command instanceof GetJobRunsCommand) {
      if (this.stoppingFor > 0 && --this.stoppingFor === 0) {
        for (const run of this.runs) if (run.JobRunState === 'STOPPING') run.JobRunState = 'STOPPED';
      }
      return { JobRuns: this.runs.map((r) => ({ ...r })) };
    }
    if (command instanceof StartJobRunCommand) {
      if (this.runs.some((r) => ['STARTING', 'RUNNING', 'STOPPING', 'WAITING'].includes(r.JobRunState))) {
        throw Object.assign(new Error('concurrent runs exceeded'), { name: 'ConcurrentRunsExceededException' });
      }
      const run = { Id: `jr_${this.runs.length + 1}`, JobRunState: 'STARTING' };
      this.runs.unshift(run);
      return { JobRunId: run.Id };
    }
    for (const id of command.input.JobRunIds ?? []) {
      const run = this.runs.find((r) => r.Id === id);
      if (run) run.JobRunState = this.stoppingFor > 0 ? 'STOPPING' : 'STOPPED';
    }
    return { SuccessfulSubmissions: [], Errors: [] };
  }
}

function cfnEvent(
  type: 'Create' | 'Update' | 'Delete',
  jobName = 'job-1',
  physicalId = `glue-job-run:${jobName}`,
): CloudFormationCustomResourceEvent {
  const base = {
    ServiceToken: 'token',
    ResponseURL: 'https://example.com',
    StackId: 'stack',
    RequestId: 'request',
    LogicalResourceId: 'JobRun',
    ResourceType: 'Custom::GlueJobRun',
    ResourceProperties: { ServiceToken: 'token', JobName: jobName, Definition: '{"v":2}' },
  };
  if (type === 'Create') return { ...base, RequestType: 'Create' };
  if (type === 'Update') {
    return { ...base, RequestType: 'Update', PhysicalResourceId: physicalId, OldResourceProperties: { ServiceToken: 'token', JobName: jobName, Definition: '{"v":1}' } };
  }
  return { ...base, RequestType: 'Delete', PhysicalResourceId: physicalId };
}

function starter(glue: FakeGlue) {
  return createGlueJobStarter({ client: glue as unknown as GlueRunsClient, sleep: async () => {}, pollMs: 1, maxWaitMs: 5 });
}

test('starter: Create starts a run, and starts nothing when one is already running', async () => {
  const glue = new FakeGlue();
  const first = await starter(glue)(cfnEvent('Create'));
  assert.equal(first, { PhysicalResourceId: 'glue-job-run:job-1', Data: { JobRunId: 'jr_1' } });
  glue.runs[0]!.JobRunState = 'RUNNING';
  const again = await starter(glue)(cfnEvent('Create'));
  assert.equal(again.Data, { JobRunId: 'jr_1' });
  assert.is(glue.runs.length, 1);
});

test('starter: a run that starts between the look and the call is taken as running', async () => {
  const glue = new FakeGlue();
  const racing = Object.assign(Object.create(glue) as FakeGlue, {
    send: async (command: GetJobRunsCommand | StartJobRunCommand | BatchStopJobRunCommand) => {
      if (command instanceof StartJobRunCommand) glue.runs.unshift({ Id: 'jr_other', JobRunState: 'RUNNING' });
      return glue.send(command);
    },
  });
  const result = await starter(racing)(cfnEvent('Create'));
  assert.equal(result.Data, { JobRunId: 'jr_other' });
});

test('starter: Update (changed definition) stops the active run, waits for it to end, then starts a new one', async () => {
  const glue = new FakeGlue();
  glue.runs = [{ Id: 'jr_1', JobRunState: 'RUNNING' }, { Id: 'jr_0', JobRunState: 'FAILED' }];
  glue.stoppingFor = 3;
  const result = await starter(glue)(cfnEvent('Update'));
  assert.equal(result.Data, { JobRunId: 'jr_3' });
  assert.is(glue.runs.find((r) => r.Id === 'jr_1')!.JobRunState, 'STOPPED');
  assert.ok(glue.calls.indexOf('BatchStopJobRunCommand') < glue.calls.lastIndexOf('StartJobRunCommand'));
});

test('starter: Update gives up with a clear error when the old run will not stop', async () => {
  const glue = new FakeGlue();
  glue.runs = [{ Id: 'jr_1', JobRunState: 'RUNNING' }];
  glue.stoppingFor = 1000;
  try {
    await starter(glue)(cfnEvent('Update'));
    assert.unreachable('should have thrown');
  } catch (error) {
    assert.match((error as Error).message, 'still has run jr_1 in state STOPPING');
  }
});

test('starter: Delete stops active runs so nothing keeps billing, and succeeds when the job is gone', async () => {
  const glue = new FakeGlue();
  glue.runs = [{ Id: 'jr_2', JobRunState: 'RUNNING' }, { Id: 'jr_1', JobRunState: 'STOPPED' }];
  const result = await starter(glue)(cfnEvent('Delete'));
  assert.is(result.PhysicalResourceId, 'glue-job-run:job-1');
  assert.is(glue.runs[0]!.JobRunState, 'STOPPED');
  assert.not.ok(glue.calls.includes('StartJobRunCommand'));

  const gone = new FakeGlue();
  gone.jobExists = false;
  await starter(gone)(cfnEvent('Delete'));
});

test.run();
