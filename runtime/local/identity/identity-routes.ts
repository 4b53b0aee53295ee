import type { IncomingMessage, ServerResponse } from 'node:http';
import { TelemetryError } from '../../core/errors.ts';
import { JWKS_PATH, OPENID_CONFIGURATION_PATH, jwksDocument, openidConfiguration } from './discovery.ts';
import type { GuestStore } from './guest-store.ts';
import type { SigningKey } from './key-store.ts';
import type { TokenIssuer } from './tokens.ts';

export const LOGIN_AS_GUEST_PATH = '/login-as-guest';
export const REFRESH_ACCESS_TOKEN_PATH = '/refresh-access-token';

export type IdentityRouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;

export interface IdentityRoutesDeps {
  readonly guests: GuestStore;
  readonly tokens: TokenIssuer;
  readonly key: SigningKey;
  /** Base URL without a trailing slash. */
  readonly issuer: () => string;
  readonly logError: (message: string, error: unknown) => void;
}

interface Reply {
  readonly status: number;
  readonly body: unknown;
  /** Token responses must not be cached by proxies or browsers (RFC 6749 §5.1). */
  readonly noStore?: boolean;
}

const CORS_HEADERS = { 'Access-Control-Allow-Origin': '*' } as const;
// No HEAD: /login-as-guest creates a guest on every call, which a HEAD must not do.
const ALLOWED_METHODS = 'GET, OPTIONS';

function badRequest(message: string): TelemetryError {
  return new TelemetryError('invalid_request', message);
}

/** A query parameter, with an empty value treated as absent. */
function param(url: URL, name: string): string | undefined {
  return url.searchParams.get(name) || undefined;
}

/**
 * The identity service's HTTP routes, mounted on the local gateway's server. Resolves true when it answered the
 * request (its path), false to let the gateway route it elsewhere.
 */
export function createIdentityRoutes(deps: IdentityRoutesDeps): IdentityRouteHandler {
  const routes = new Map<string, (url: URL) => Promise<Reply>>([
    [LOGIN_AS_GUEST_PATH, loginAsGuest],
    [REFRESH_ACCESS_TOKEN_PATH, refreshAccessToken],
    [JWKS_PATH, async () => ({ status: 200, body: jwksDocument(deps.key.publicJwk) })],
    [OPENID_CONFIGURATION_PATH, async () => ({ status: 200, body: openidConfiguration(deps.issuer()) })],
  ]);

  async function loginAsGuest(url: URL): Promise<Reply> {
    const userId = param(url, 'user_id');
    const guestSecret = param(url, 'guest_secret');
    if ((userId === undefined) !== (guestSecret === undefined)) {
      throw badRequest('Pass both user_id and guest_secret to log in as a returning guest, or neither for a new one');
    }
    let credentials: { userId: string; guestSecret: string };
    if (userId !== undefined && guestSecret !== undefined) {
      if (!deps.guests.verify(userId, guestSecret)) {
        throw new TelemetryError('unauthorized', 'Unknown user_id or wrong guest_secret');
      }
      credentials = { userId, guestSecret };
    } else {
      credentials = await deps.guests.create();
    }
    const tokens = await deps.tokens.issue(credentials.userId, 'guest');
    return {
      status: 200,
      noStore: true,
      body: { user_id: credentials.userId, guest_secret: credentials.guestSecret, ...tokens },
    };
  }

  async function refreshAccessToken(url: URL): Promise<Reply> {
    const refreshToken = param(url, 'refresh_token');
    if (refreshToken === undefined) throw badRequest('Pass the refresh_token query parameter');
    const grant = await deps.tokens.verifyRefreshToken(refreshToken);
    const tokens = await deps.tokens.issue(grant.userId, grant.scope, grant.expiresAt);
    return { status: 200, noStore: true, body: { user_id: grant.userId, ...tokens } };
  }

  return async (req, res, url) => {
    const route = routes.get(url.pathname);
    if (route === undefined) return false;

    if (req.method === 'OPTIONS') {
      res.writeHead(204, {
        ...CORS_HEADERS,
        'Access-Control-Allow-Methods': ALLOWED_METHODS,
        'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? '*',
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return true;
    }
    if (req.method !== 'GET') {
      send(res, { status: 405, body: { error: 'method_not_allowed', message: `Use GET for ${url.pathname}` } }, {
        Allow: ALLOWED_METHODS,
      });
      return true;
    }

    let reply: Reply;
    try {
      reply = await route(url);
    } catch (error) {
      reply = errorReply(error, deps.logError);
    }
    send(res, reply);
    return true;
  };
}

function errorReply(error: unknown, logError: IdentityRoutesDeps['logError']): Reply {
  if (error instanceof TelemetryError && (error.code === 'unauthorized' || error.code === 'invalid_request')) {
    const status = error.code === 'unauthorized' ? 401 : 400;
    return { status, noStore: true, body: { error: error.code, message: error.message } };
  }
  logError('identity service request failed', error);
  return { status: 500, noStore: true, body: { error: 'internal_error', message: 'The identity service failed; retry' } };
}

function send(res: ServerResponse, reply: Reply, extraHeaders: Record<string, string> = {}): void {
  const body = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...CORS_HEADERS,
    ...extraHeaders,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...(reply.noStore ? { 'Cache-Control': 'no-store' } : {}),
  });
  res.end(body);
}
