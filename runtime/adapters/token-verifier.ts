import { JwtRsaVerifier } from 'aws-jwt-verify';
import { SimpleFetcher } from 'aws-jwt-verify/https';
import { SimpleJwksCache } from 'aws-jwt-verify/jwk';
import type { Fetcher } from 'aws-jwt-verify/https';
import type { JwtHeader, JwtPayload } from 'aws-jwt-verify/jwt-model';
import { UnauthorizedError } from '../core/errors.ts';

/** The player a valid access token speaks for. */
export interface VerifiedPlayer {
  /** The token's `sub`: the only source of `player_id`. */
  readonly playerId: string;
  /** The first of the token's scopes that the verifier accepts, e.g. `guest` or `authenticated`. */
  readonly scope: string;
  /** The token's `exp`, seconds since the epoch. */
  readonly expiresAt: number;
}

export interface TokenVerifierOptions {
  /** The identity service's base URL, exactly as in the tokens' `iss` (no trailing slash). */
  readonly issuer: string;
  readonly audience?: string;
  /** A token must carry at least one of these scopes. */
  readonly scopes?: readonly string[];
  readonly jwksUri?: string;
  /** Verified tokens remembered until they expire; 0 turns the cache off. Default 10 000. */
  readonly cacheSize?: number;
  /** Clock in epoch milliseconds (tests inject one). */
  readonly now?: () => number;
}

export interface PlayerTokenVerifier {
  /**
   * Resolves with the verified player, or rejects with an UnauthorizedError (the reason is in `cause`).
   * Takes undefined too, so a missing header goes straight in: `verify(tokenFromAuthorizationHeader(h))`.
   */
  verify(token: string | undefined): Promise<VerifiedPlayer>;
}

// Both the game backend's identity service and the dev one sign with RS256 only; aws-jwt-verify 5 also accepts
// EC and EdDSA keys, so pin the family here rather than trust whatever the JWKS happens to hold.
const RSA_ALGORITHMS: ReadonlySet<string> = new Set(['RS256', 'RS384', 'RS512']);

// Same budget as the library's own fetcher (response time-out 3 s), so a dead issuer fails fast either way.
const JWKS_FETCH_TIMEOUT_MS = 3000;

/**
 * The library's default fetcher is built on `node:https` and rejects `http:` URIs, but the local dev identity
 * service is plain HTTP on loopback. Plain HTTP goes through global `fetch`; HTTPS keeps the library's fetcher
 * (its timeouts and single retry).
 */
class HttpOrHttpsFetcher implements Fetcher {
  readonly #https = new SimpleFetcher();

  async fetch(uri: string, requestOptions?: Record<string, unknown>, data?: ArrayBuffer): Promise<ArrayBuffer> {
    if (new URL(uri).protocol !== 'http:') return this.#https.fetch(uri, requestOptions, data);
    const response = await fetch(uri, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS),
    });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new Error(`JWKS fetch from ${uri} answered ${response.status}, expected 200`);
    }
    return response.arrayBuffer();
  }
}

export function createTokenVerifier(options: TokenVerifierOptions): PlayerTokenVerifier {
  const issuer = options.issuer;
  const audience = options.audience ?? 'gamebackend';
  const scopes = [...(options.scopes ?? ['guest', 'authenticated'])];
  if (scopes.length === 0) throw new Error('createTokenVerifier: scopes must name at least one accepted scope');
  const jwksUri = options.jwksUri ?? `${issuer.replace(/\/+$/, '')}/.well-known/jwks.json`;

  // In aws-jwt-verify 5 JwtRsaVerifier is a deprecated alias of JwtVerifier (which adds EC/EdDSA); the RSA-only
  // rule is enforced below instead.
  const verifier = JwtRsaVerifier.create(
    {
      issuer,
      audience,
      jwksUri,
      scope: scopes,
      // What the library leaves open: it accepts any supported algorithm, and checks exp only when present; an
      // access token that never expires, or names no player, is not one we accept.
      customJwtCheck: ({ header, payload }: { header: JwtHeader; payload: JwtPayload }) => {
        if (typeof header.alg !== 'string' || !RSA_ALGORITHMS.has(header.alg)) {
          throw new Error(`JWT signature algorithm ${String(header.alg)} is not RSA`);
        }
        if (typeof payload.sub !== 'string' || payload.sub === '') throw new Error('JWT has no sub claim');
        if (typeof payload.exp !== 'number') throw new Error('JWT has no exp claim');
      },
    },
    { jwksCache: new SimpleJwksCache({ fetcher: new HttpOrHttpsFetcher() }) },
  );

  // Verified tokens, by their exact text, until they expire: a game client sends the same token with every
  // request for up to 15 minutes, and an RSA check per request is the intake's largest CPU cost. The same bytes
  // verified once stay verified; expiry is re-checked on every hit. Bounded, oldest entry evicted first.
  const cacheSize = options.cacheSize ?? 10_000;
  const now = options.now ?? Date.now;
  const verified = new Map<string, VerifiedPlayer>();

  return {
    async verify(token: string | undefined): Promise<VerifiedPlayer> {
      const hit = token === undefined ? undefined : verified.get(token);
      if (hit !== undefined) {
        if (hit.expiresAt * 1000 > now()) return hit;
        verified.delete(token!);
      }
      let payload: JwtPayload;
      try {
        if (!token) throw new Error('No token');
        payload = await verifier.verify(token);
      } catch (error) {
        // The client learns only "unauthorized"; the library's reason stays in `cause` for the logs.
        const unauthorized = new UnauthorizedError();
        unauthorized.cause = error;
        throw unauthorized;
      }
      const tokenScopes = (payload.scope ?? '').split(' ');
      const player: VerifiedPlayer = {
        playerId: payload.sub as string,
        scope: scopes.find((scope) => tokenScopes.includes(scope)) as string,
        expiresAt: payload.exp as number,
      };
      if (cacheSize > 0) {
        if (verified.size >= cacheSize) verified.delete(verified.keys().next().value!);
        verified.set(token!, player);
      }
      return player;
    },
  };
}

/**
 * The token from an `Authorization` header: the original clients send the raw JWT, others `Bearer <JWT>`.
 * Any other scheme (`Basic …`) yields undefined.
 */
export function tokenFromAuthorizationHeader(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  if (!trimmed) return undefined;
  const match = /^(\S+)(?:\s+(\S+))?$/.exec(trimmed);
  if (!match) return undefined;
  const [, first, second] = match;
  if (second === undefined) return first;
  return first?.toLowerCase() === 'bearer' ? second : undefined;
}
