import { Duration, Stack } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi, HttpMethod, HttpStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { stageAccessLogs } from './access-logs.ts';
import { acknowledge } from '../nag.ts';
import { IntakeFunction } from './intake-function.ts';

export interface HttpIntakeProps {
  readonly issuerEndpoint: string;
  readonly stream: IStream;
  readonly stageName: string;
  readonly throttleRate: number;
  readonly throttleBurst: number;
}

/** The REST intake: an HTTP API (API Gateway v2) with POST /put-record and POST /put-records → the REST handler. */
export class HttpIntake extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly handler: NodejsFunction;

  constructor(scope: Construct, id: string, props: HttpIntakeProps) {
    super(scope, id);
    this.handler = new IntakeFunction(this, 'RestHandler', {
      handler: 'restHandler',
      serviceName: 'telemetry-rest',
      description: 'POST /put-record and /put-records: verify the JWT, validate, write to the hub stream',
      issuerEndpoint: props.issuerEndpoint,
      stream: props.stream,
      // Below the HTTP API's 30 s integration limit, above the sink's retry budget and a cold JWKS fetch (3 s).
      timeout: Duration.seconds(15),
    }).fn;
    props.stream.grantWrite(this.handler);

    this.api = new HttpApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-rest`,
      description: 'Game telemetry REST intake',
      createDefaultStage: false,
      // Browser games post from any origin; the JWT, not the origin, is what authorizes.
      corsPreflight: {
        allowOrigins: ['*'],
        allowMethods: [CorsHttpMethod.POST, CorsHttpMethod.OPTIONS],
        allowHeaders: ['authorization', 'content-type'],
        maxAge: Duration.days(1),
      },
    });
    const integration = new HttpLambdaIntegration('RestIntegration', this.handler);
    this.api.addRoutes({ path: '/put-record', methods: [HttpMethod.POST], integration });
    this.api.addRoutes({ path: '/put-records', methods: [HttpMethod.POST], integration });

    this.stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: props.stageName,
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRate, burstLimit: props.throttleBurst },
      accessLogSettings: stageAccessLogs(this, {
        routeKey: '$context.routeKey',
        status: '$context.status',
        responseLength: '$context.responseLength',
        integrationError: '$context.integrationErrorMessage',
      }),
    });

    acknowledge(
      this.api,
      'The REST handler verifies the JWT itself (aws-jwt-verify, as the local gateway does) so that clients keep the ' +
        'original API\'s 401 "Unauthorized" body and the Authorization header may hold a raw token.',
      'AwsSolutions-APIG4',
    );
  }

  /** `https://…/<stage>/`, with the trailing slash (the stage's own URL has none). */
  get baseUrl(): string {
    return `${this.stage.url}/`;
  }
}
