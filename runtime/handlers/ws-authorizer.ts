import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import type { TokenVerifier } from './deps.ts';

export type WsAuthorizer = (event: APIGatewayRequestAuthorizerEvent) => Promise<APIGatewayAuthorizerResult>;

/** What the authorizer hands to every later route of the connection (`requestContext.authorizer`). */
export interface WsAuthorizerContext {
  readonly playerId: string;
  readonly scope: string;
}

/**
 * The WebSocket `$connect` REQUEST authorizer: the only place API Gateway lets a WebSocket API authorize, so the
 * player id it returns in `context` is what every message of the connection is stamped with.
 * API Gateway turns the thrown "Unauthorized" into a 401 on the upgrade, as the local gateway does.
 */
export function createWsAuthorizer(deps: { readonly verifier: TokenVerifier }): WsAuthorizer {
  return async (event) => {
    const token = event.queryStringParameters?.auth_token;
    if (!token) throw new Error('Unauthorized');
    let player: { playerId: string; scope: string };
    try {
      player = await deps.verifier.verify(token);
    } catch {
      throw new Error('Unauthorized');
    }
    const context: WsAuthorizerContext = { playerId: player.playerId, scope: player.scope };
    return {
      principalId: player.playerId,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }],
      },
      context: { ...context },
    };
  };
}
