import { Duration, Stack } from 'aws-cdk-lib';
import { WebSocketApi, WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IStream } from 'aws-cdk-lib/aws-kinesis';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { stageAccessLogs } from './access-logs.ts';
import { acknowledge } from '../nag.ts';
import { IntakeFunction } from './intake-function.ts';

/** Where the `$connect` authorizer finds the player's token: `wss://…/<stage>?auth_token=<JWT>`. */
export const WS_TOKEN_SOURCE = 'route.request.querystring.auth_token';

/** Client actions whose handler reply is sent back as a frame (two-way routes). */
export const WS_TWO_WAY_ROUTES = ['put-records', 'ping'] as const;

export interface WebSocketIntakeProps {
  readonly issuerEndpoint: string;
  readonly stream: IStream;
  readonly stageName: string;
  readonly throttleRate: number;
  readonly throttleBurst: number;
}

/**
 * The WebSocket intake. The `$connect` REQUEST authorizer verifies the token once per connection; every other route
 * goes to the message handler. `put-records`, `ping` and `$default` are two-way routes: the handler's return value
 * is the ack or error frame, so no PostToConnection call (nor its IAM permission) is needed.
 */
export class WebSocketIntake extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly authorizerHandler: NodejsFunction;
  readonly messageHandler: NodejsFunction;

  constructor(scope: Construct, id: string, props: WebSocketIntakeProps) {
    super(scope, id);
    this.authorizerHandler = new IntakeFunction(this, 'AuthorizerHandler', {
      handler: 'wsAuthorizerHandler',
      serviceName: 'telemetry-ws-authorizer',
      description: 'WebSocket $connect authorizer: verify the auth_token query parameter',
      issuerEndpoint: props.issuerEndpoint,
      // The shared config reads the stream variable; this function is not granted any access to it.
      stream: props.stream,
      // A cold JWKS fetch is bounded at 3 s with one retry.
      timeout: Duration.seconds(10),
    }).fn;
    this.messageHandler = new IntakeFunction(this, 'MessageHandler', {
      handler: 'wsMessageHandler',
      serviceName: 'telemetry-ws',
      description: 'WebSocket routes: put-records (ack after the hub stream has the events), ping, errors',
      issuerEndpoint: props.issuerEndpoint,
      stream: props.stream,
      // Below API Gateway's 29 s integration limit, above the sink's retry budget.
      timeout: Duration.seconds(15),
    }).fn;
    props.stream.grantWrite(this.messageHandler);

    const integration = new WebSocketLambdaIntegration('MessageIntegration', this.messageHandler);
    this.api = new WebSocketApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-websocket`,
      description: 'Game telemetry WebSocket intake',
      routeSelectionExpression: '$request.body.action',
      connectRouteOptions: {
        integration,
        authorizer: new WebSocketLambdaAuthorizer('TokenAuthorizer', this.authorizerHandler, {
          identitySource: [WS_TOKEN_SOURCE],
        }),
      },
      disconnectRouteOptions: { integration },
      defaultRouteOptions: { integration, returnResponse: true },
    });
    for (const route of WS_TWO_WAY_ROUTES) this.api.addRoute(route, { integration, returnResponse: true });

    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName,
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRate, burstLimit: props.throttleBurst },
      accessLogSettings: stageAccessLogs(this, {
        connectionId: '$context.connectionId',
        eventType: '$context.eventType',
        routeKey: '$context.routeKey',
        status: '$context.status',
        authorizerError: '$context.authorizer.error',
        integrationError: '$context.integrationErrorMessage',
      }),
    });

    acknowledge(
      this.api,
      'API Gateway runs WebSocket authorizers only on $connect; the other routes belong to an authorized connection ' +
        'and the handler stamps the player id the authorizer returned.',
      'AwsSolutions-APIG4',
    );
  }

  /** `wss://…/<stage>`. */
  get url(): string {
    return this.stage.url;
  }
}
