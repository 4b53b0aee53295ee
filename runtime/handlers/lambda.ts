/**
 * The Lambda entry points AWS runs (`NodejsFunction` handler names). Each is built on first invocation from the
 * environment, at module scope for the warm container: the JWKS cache and the Kinesis client are reused.
 * Powertools adds structured error logs and EMF metrics (cold starts, accepted and rejected events); its service
 * name and metrics namespace come from POWERTOOLS_* variables that the stack sets.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { createKinesisSink } from '../adapters/kinesis-sink.ts';
import { createTokenVerifier } from '../adapters/token-verifier.ts';
import { readLambdaConfig } from '../config/lambda-env.ts';
import { createRateLimiter } from '../core/rate-limiter.ts';
import type { HandlerDeps } from './deps.ts';
import type { RestHandler } from './rest-handler.ts';
import { createRestHandler } from './rest-handler.ts';
import type { WsAuthorizer } from './ws-authorizer.ts';
import { createWsAuthorizer } from './ws-authorizer.ts';
import type { WsMessageHandler } from './ws-message-handler.ts';
import { createWsMessageHandler } from './ws-message-handler.ts';

const logger = new Logger();
const metrics = new Metrics();

let deps: HandlerDeps | undefined;
function lambdaDeps(): HandlerDeps {
  if (!deps) {
    const config = readLambdaConfig(process.env);
    deps = {
      verifier: createTokenVerifier({ issuer: config.issuer }),
      sink: createKinesisSink({ client: new KinesisClient({}), ...config.stream }),
      logError: (message, error) => logger.error(message, error instanceof Error ? error : String(error)),
      ...(config.rateLimit ? { rateLimiter: createRateLimiter(config.rateLimit) } : {}),
    };
  }
  return deps;
}

let rest: RestHandler | undefined;
let authorizer: WsAuthorizer | undefined;
let messages: WsMessageHandler | undefined;

export const restHandler: RestHandler = async (event) => {
  metrics.captureColdStartMetric();
  const reply = await (rest ??= createRestHandler(lambdaDeps()))(event);
  // put-record answers with a fixed string, so its outcome is the status; put-records carries the counts.
  if (event.routeKey === 'POST /put-record') {
    if (reply.statusCode === 200) countEvents(1, 0);
    else if (reply.statusCode === 400) countEvents(0, 1);
  } else if (reply.statusCode === 200) {
    countBatch(reply.body);
  }
  return reply;
};

export const wsAuthorizerHandler: WsAuthorizer = (event) => {
  metrics.captureColdStartMetric();
  return (authorizer ??= createWsAuthorizer(lambdaDeps()))(event);
};

export const wsMessageHandler: WsMessageHandler = async (event) => {
  metrics.captureColdStartMetric();
  const reply = await (messages ??= createWsMessageHandler(lambdaDeps()))(event);
  countBatch(reply.body);
  return reply;
};

/** Reads the counts back from a batch reply ({accepted, rejected: [...]}), so the handler factories stay unchanged. */
function countBatch(body: string | undefined): void {
  if (!body?.includes('"accepted"')) return;
  const { accepted, rejected } = JSON.parse(body) as { accepted?: unknown; rejected?: unknown };
  if (typeof accepted === 'number') countEvents(accepted, Array.isArray(rejected) ? rejected.length : 0);
}

function countEvents(accepted: number, rejected: number): void {
  metrics.addMetric('AcceptedEvents', MetricUnit.Count, accepted);
  metrics.addMetric('RejectedEvents', MetricUnit.Count, rejected);
  metrics.publishStoredMetrics();
}
