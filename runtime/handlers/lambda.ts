/**
 * The Lambda entry points AWS runs (`NodejsFunction` handler names). Each is built on first invocation from the
 * environment, at module scope for the warm container: the JWKS cache and the Kinesis client are reused.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { createKinesisSink } from '../adapters/kinesis-sink.ts';
import { createTokenVerifier } from '../adapters/token-verifier.ts';
import { readLambdaConfig } from '../config/lambda-env.ts';
import type { HandlerDeps } from './deps.ts';
import type { RestHandler } from './rest-handler.ts';
import { createRestHandler } from './rest-handler.ts';
import type { WsAuthorizer } from './ws-authorizer.ts';
import { createWsAuthorizer } from './ws-authorizer.ts';
import type { WsMessageHandler } from './ws-message-handler.ts';
import { createWsMessageHandler } from './ws-message-handler.ts';

let deps: HandlerDeps | undefined;
function lambdaDeps(): HandlerDeps {
  if (!deps) {
    const config = readLambdaConfig(process.env);
    deps = {
      verifier: createTokenVerifier({ issuer: config.issuer }),
      sink: createKinesisSink({ client: new KinesisClient({}), ...config.stream }),
    };
  }
  return deps;
}

let rest: RestHandler | undefined;
let authorizer: WsAuthorizer | undefined;
let messages: WsMessageHandler | undefined;

export const restHandler: RestHandler = (event) => (rest ??= createRestHandler(lambdaDeps()))(event);
export const wsAuthorizerHandler: WsAuthorizer = (event) => (authorizer ??= createWsAuthorizer(lambdaDeps()))(event);
export const wsMessageHandler: WsMessageHandler = (event) => (messages ??= createWsMessageHandler(lambdaDeps()))(event);
