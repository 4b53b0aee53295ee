import { join } from 'node:path';
import type { JWK } from 'jose';
import { jwksDocument } from './discovery.ts';
import { openGuestStore } from './guest-store.ts';
import { createIdentityRoutes } from './identity-routes.ts';
import type { IdentityRouteHandler } from './identity-routes.ts';
import { loadOrCreateSigningKey } from './key-store.ts';
import { createTokenIssuer } from './tokens.ts';
import type { TokenSet } from './tokens.ts';

export interface IdentityServiceOptions {
  /** The pipeline's data directory; the service keeps its key and guests in `<dataDir>/identity/`. */
  readonly dataDir: string;
  /**
   * The public base URL, e.g. `http://127.0.0.1:8787`: the tokens' `iss`. A getter, as the gateway knows its port
   * only once it listens. Keep it stable across restarts (a fixed port): tokens name their issuer.
   */
  readonly issuer: () => string;
  readonly accessTokenTtlS?: number;
  readonly refreshTokenTtlS?: number;
  /** Milliseconds since the epoch. */
  readonly now?: () => number;
  readonly logError?: (message: string, error: unknown) => void;
}

export interface IdentityService {
  /** Serves the identity routes; resolves false for any other path so the gateway can route it. */
  readonly handle: IdentityRouteHandler;
  /** Signs tokens for any user and scope without a login, e.g. for tests and the synthetic client. */
  issueTokens(userId: string, scope?: string): Promise<TokenSet>;
  /** The published key set, as `/.well-known/jwks.json` serves it. */
  jwks(): { keys: JWK[] };
  /** Waits for pending writes; the service holds no sockets or timers. */
  close(): Promise<void>;
}

function defaultLogError(message: string, error: unknown): void {
  console.error(JSON.stringify({ level: 'error', message, error: error instanceof Error ? error.stack : String(error) }));
}

/**
 * A dev identity service with the endpoints and tokens of the game backend's Custom Identity Component, so the
 * one-machine pipeline runs the same verification code as AWS. It creates no server: the gateway mounts `handle`.
 */
export async function createIdentityService(options: IdentityServiceOptions): Promise<IdentityService> {
  const dir = join(options.dataDir, 'identity');
  const issuer = () => options.issuer().replace(/\/+$/, '');
  const key = await loadOrCreateSigningKey(dir);
  const guests = await openGuestStore(join(dir, 'guests.json'));
  const tokens = createTokenIssuer({
    key,
    issuer,
    accessTokenTtlS: options.accessTokenTtlS,
    refreshTokenTtlS: options.refreshTokenTtlS,
    now: options.now,
  });
  const handle = createIdentityRoutes({
    guests,
    tokens,
    key,
    issuer,
    logError: options.logError ?? defaultLogError,
  });

  return {
    handle,
    issueTokens: (userId, scope = 'guest') => tokens.issue(userId, scope),
    jwks: () => jwksDocument(key.publicJwk),
    close: () => guests.close(),
  };
}
