import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { UnauthorizedError } from '../../core/errors.ts';
import { SIGNING_ALGORITHM } from './key-store.ts';
import type { SigningKey } from './key-store.ts';

export const ACCESS_TOKEN_AUDIENCE = 'gamebackend';
export const REFRESH_TOKEN_AUDIENCE = 'refresh';
export const DEFAULT_ACCESS_TOKEN_TTL_S = 900;
export const DEFAULT_REFRESH_TOKEN_TTL_S = 6 * 24 * 60 * 60;

/** What `/login-as-guest` and `/refresh-access-token` return besides the user fields (the game backend's names). */
export interface TokenSet {
  readonly auth_token: string;
  readonly refresh_token: string;
  /** Seconds from now. */
  readonly auth_token_expires_in: number;
  readonly refresh_token_expires_in: number;
}

export interface RefreshGrant {
  readonly userId: string;
  /** The scope the new access token gets: the one the refresh token was issued for. */
  readonly scope: string;
  /** The refresh token's `exp`, seconds since the epoch. */
  readonly expiresAt: number;
}

export interface TokenIssuerOptions {
  readonly key: SigningKey;
  /** The identity base URL (`iss`), read at each call: it is known only once the server listens. */
  readonly issuer: () => string;
  readonly accessTokenTtlS?: number;
  readonly refreshTokenTtlS?: number;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
}

export interface TokenIssuer {
  /**
   * Signs an access token and a refresh token. `refreshExpiresAt` keeps a refreshed session's original end, as
   * the game backend does: refreshing renews the access token, it never extends the session.
   */
  issue(userId: string, scope?: string, refreshExpiresAt?: number): Promise<TokenSet>;
  /** Resolves with what a valid refresh token grants, or rejects with an UnauthorizedError. */
  verifyRefreshToken(token: string): Promise<RefreshGrant>;
}

export function createTokenIssuer(options: TokenIssuerOptions): TokenIssuer {
  const { key } = options;
  const accessTtlS = options.accessTokenTtlS ?? DEFAULT_ACCESS_TOKEN_TTL_S;
  const refreshTtlS = options.refreshTokenTtlS ?? DEFAULT_REFRESH_TOKEN_TTL_S;
  for (const [name, ttl] of [['accessTokenTtlS', accessTtlS], ['refreshTokenTtlS', refreshTtlS]] as const) {
    if (!Number.isInteger(ttl) || ttl <= 0) throw new Error(`${name} must be a positive whole number of seconds`);
  }
  const now = options.now ?? Date.now;
  const issuer = () => options.issuer().replace(/\/+$/, '');
  const ownKeys = createLocalJWKSet({ keys: [{ ...key.publicJwk }] });

  function sign(claims: Record<string, unknown>, userId: string, audience: string, iat: number, exp: number) {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: SIGNING_ALGORITHM, kid: key.kid, typ: 'JWT' })
      .setSubject(userId)
      .setIssuer(issuer())
      .setAudience(audience)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .sign(key.privateKey);
  }

  return {
    async issue(userId, scope = 'guest', refreshExpiresAt) {
      const iat = Math.floor(now() / 1000);
      const accessExp = iat + accessTtlS;
      const refreshExp = refreshExpiresAt ?? iat + refreshTtlS;
      const [auth_token, refresh_token] = await Promise.all([
        sign({ scope }, userId, ACCESS_TOKEN_AUDIENCE, iat, accessExp),
        // The refresh token's own scope is "refresh" so no resource server accepts it; the access scope rides along.
        sign({ scope: 'refresh', access_token_scope: scope }, userId, REFRESH_TOKEN_AUDIENCE, iat, refreshExp),
      ]);
      return {
        auth_token,
        refresh_token,
        auth_token_expires_in: accessExp - iat,
        refresh_token_expires_in: refreshExp - iat,
      };
    },

    async verifyRefreshToken(token) {
      try {
        const { payload } = await jwtVerify(token, ownKeys, {
          issuer: issuer(),
          audience: REFRESH_TOKEN_AUDIENCE,
          algorithms: [SIGNING_ALGORITHM],
          requiredClaims: ['sub', 'exp'],
          currentDate: new Date(now()),
        });
        const scope = payload['access_token_scope'];
        if (payload['scope'] !== 'refresh' || typeof scope !== 'string' || scope === '' || !payload.sub) {
          throw new Error('Not a refresh token');
        }
        return { userId: payload.sub, scope, expiresAt: payload.exp as number };
      } catch (error) {
        const unauthorized = new UnauthorizedError('Invalid or expired refresh token');
        unauthorized.cause = error;
        throw unauthorized;
      }
    },
  };
}
