/** A guest player's credentials and tokens (times are epoch milliseconds). */
export interface GuestTokens {
  readonly userId: string;
  readonly guestSecret: string;
  readonly authToken: string;
  readonly refreshToken: string;
  /** When to stop using `authToken`: a margin before it expires, so a token never dies mid-handshake. */
  readonly authRenewAt: number;
  readonly refreshExpiresAt: number;
}

export type IdentityErrorCode = 'unreachable' | 'rejected' | 'bad_response';

/** A failed identity call; the message names the URL and says what to check. */
export class IdentityError extends Error {
  override readonly name = 'IdentityError';
  constructor(
    readonly code: IdentityErrorCode,
    readonly url: string,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The game backend's identity endpoints (ARCHITECTURE.md "Identity"); the dev identity of `npm start` has the same. */
export class IdentityClient {
  private readonly base: URL;

  /**
   * @param baseUrl the identity service's base URL (`npm start`'s own URL locally).
   * @param hint what to check when a call fails, appended to error messages (a CLI names its flag here).
   */
  constructor(
    baseUrl: string | URL,
    private readonly timeoutMs = 10_000,
    private readonly hint = 'Is the server running, and is the login endpoint right?',
  ) {
    this.base = withTrailingSlash(new URL(baseUrl));
  }

  /** `GET login-as-guest`; with the credentials of an earlier login it logs in as that same guest again. */
  async loginAsGuest(credentials?: { userId: string; guestSecret: string }): Promise<GuestTokens> {
    const url = new URL('login-as-guest', this.base);
    if (credentials) {
      url.searchParams.set('user_id', credentials.userId);
      url.searchParams.set('guest_secret', credentials.guestSecret);
    }
    const body = await this.get(url, 'log in');
    const userId = stringField(body, 'user_id') ?? credentials?.userId;
    const guestSecret = stringField(body, 'guest_secret') ?? credentials?.guestSecret;
    const authToken = stringField(body, 'auth_token');
    const refreshToken = stringField(body, 'refresh_token');
    if (!userId || !guestSecret || !authToken || !refreshToken) {
      throw new IdentityError('bad_response', redact(url), `${redact(url)} answered without user_id, guest_secret, auth_token and refresh_token`);
    }
    return tokensFrom(body, { userId, guestSecret, authToken, refreshToken });
  }

  /** `GET refresh-access-token?refresh_token=…`: a new access token for the same guest. */
  async refresh(current: GuestTokens): Promise<GuestTokens> {
    const url = new URL('refresh-access-token', this.base);
    url.searchParams.set('refresh_token', current.refreshToken);
    const body = await this.get(url, 'refresh the token');
    const authToken = stringField(body, 'auth_token');
    if (!authToken) {
      throw new IdentityError('bad_response', redact(url), `${redact(url)} answered without auth_token`);
    }
    return tokensFrom(body, {
      userId: current.userId,
      guestSecret: current.guestSecret,
      authToken,
      // The identity service may or may not rotate the refresh token.
      refreshToken: stringField(body, 'refresh_token') ?? current.refreshToken,
      refreshExpiresAt: current.refreshExpiresAt,
    });
  }

  private async get(url: URL, what: string): Promise<Record<string, unknown>> {
    const shown = redact(url);
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new IdentityError(
        'unreachable',
        shown,
        `Cannot ${what} at ${shown}: ${describeFetchError(err)}. ${this.hint}`,
      );
    }
    const text = await response.text().catch(() => '');
    if (!response.ok) {
      throw new IdentityError(
        'rejected',
        shown,
        `Cannot ${what} at ${shown}: HTTP ${response.status} ${text.slice(0, 200)}. ${this.hint}`,
        response.status,
      );
    }
    try {
      const body: unknown = JSON.parse(text);
      if (body !== null && typeof body === 'object') return body as Record<string, unknown>;
    } catch {
      // fall through to the error below
    }
    throw new IdentityError('bad_response', shown, `${shown} did not answer a JSON object: ${text.slice(0, 200)}`);
  }
}

/**
 * One guest player's session: logs in once, then keeps a usable access token, refreshing it before it
 * expires and logging in again (as the same guest) when the refresh token is refused. Concurrent callers
 * share one identity call.
 */
export class GuestSession {
  private tokens?: GuestTokens;
  private pending?: Promise<GuestTokens>;

  /** @param returning the credentials of an earlier login: the session logs in as that same guest. */
  constructor(
    private readonly client: IdentityClient,
    private readonly returning?: { userId: string; guestSecret: string },
  ) {}

  get userId(): string | undefined {
    return this.tokens?.userId ?? this.returning?.userId;
  }

  /** What logs in as this guest again in a later run (undefined before the first login). */
  get credentials(): { userId: string; guestSecret: string } | undefined {
    const tokens = this.tokens;
    return tokens ? { userId: tokens.userId, guestSecret: tokens.guestSecret } : this.returning;
  }

  /** An access token that is not about to expire. */
  async token(): Promise<string> {
    const tokens = this.tokens;
    if (tokens && Date.now() < tokens.authRenewAt) return tokens.authToken;
    return (await this.once(() => this.obtain(false))).authToken;
  }

  /** The server refused the access token (401): refresh it, or log in again when the refresh is refused. */
  async renew(): Promise<string> {
    return (await this.once(() => this.obtain(true))).authToken;
  }

  private async obtain(force: boolean): Promise<GuestTokens> {
    const tokens = this.tokens;
    if (!tokens) return (this.tokens = await this.firstLogin());
    if (!force && Date.now() < tokens.authRenewAt) return tokens;
    if (Date.now() < tokens.refreshExpiresAt) {
      try {
        return (this.tokens = await this.client.refresh(tokens));
      } catch (err) {
        // A refused refresh token is what re-login is for; an unreachable server is not.
        if (!(err instanceof IdentityError) || err.code === 'unreachable') throw err;
      }
    }
    return (this.tokens = await this.client.loginAsGuest({ userId: tokens.userId, guestSecret: tokens.guestSecret }));
  }

  /** Logs in as the returning guest; when the service no longer knows that guest, as a new one. */
  private async firstLogin(): Promise<GuestTokens> {
    if (!this.returning) return this.client.loginAsGuest();
    try {
      return await this.client.loginAsGuest(this.returning);
    } catch (err) {
      if (!(err instanceof IdentityError) || err.code !== 'rejected') throw err;
      return this.client.loginAsGuest();
    }
  }

  private once(run: () => Promise<GuestTokens>): Promise<GuestTokens> {
    this.pending ??= run().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }
}

const DEFAULT_ACCESS_LIFETIME_S = 900;
const DEFAULT_REFRESH_LIFETIME_S = 6 * 24 * 3600;

function tokensFrom(
  body: Record<string, unknown>,
  base: { userId: string; guestSecret: string; authToken: string; refreshToken: string; refreshExpiresAt?: number },
): GuestTokens {
  const now = Date.now();
  const lifetimeMs = secondsField(body, 'auth_token_expires_in', jwtLifetimeSeconds(base.authToken)) * 1000;
  // Renew 20% before expiry, at most a minute before: tolerates clock skew and slow handshakes.
  const authRenewAt = now + lifetimeMs - Math.min(60_000, lifetimeMs * 0.2);
  const refreshExpiresAt =
    typeof body.refresh_token_expires_in === 'number'
      ? now + body.refresh_token_expires_in * 1000
      : (base.refreshExpiresAt ?? now + DEFAULT_REFRESH_LIFETIME_S * 1000);
  return { userId: base.userId, guestSecret: base.guestSecret, authToken: base.authToken, refreshToken: base.refreshToken, authRenewAt, refreshExpiresAt };
}

function stringField(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function secondsField(body: Record<string, unknown>, name: string, fallback: number): number {
  const value = body[name];
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : fallback;
}

/** The token's own `exp - iat` when the response does not say how long it lives. */
function jwtLifetimeSeconds(token: string): number {
  try {
    const payload = JSON.parse(decodeBase64Url(token.split('.')[1] ?? '')) as { exp?: unknown; iat?: unknown };
    if (typeof payload.exp === 'number') {
      const from = typeof payload.iat === 'number' ? payload.iat : Date.now() / 1000;
      if (payload.exp > from) return payload.exp - from;
    }
  } catch {
    // not a JWT we can read: use the contract's default
  }
  return DEFAULT_ACCESS_LIFETIME_S;
}

/** The URL without secrets in its query, for messages. */
function redact(url: URL): string {
  const shown = new URL(url);
  for (const name of ['refresh_token', 'guest_secret']) {
    if (shown.searchParams.has(name)) shown.searchParams.set(name, '***');
  }
  return shown.toString();
}

/** fetch's "fetch failed" hides the useful part (ECONNREFUSED …) in `cause`. */
export function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return 'no answer (timed out)';
  const cause = err.cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' && !cause.message.includes(code) ? `${code} ${cause.message}` : cause.message;
  }
  return err.message;
}

/** Base URLs end with `/` so that `new URL('put-records', base)` appends instead of replacing the last segment. */
export function withTrailingSlash(url: URL): URL {
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** base64url to text with what browsers and Node both have (no `Buffer`). */
function decodeBase64Url(part: string): string {
  const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(binary, (char) => char.charCodeAt(0)));
}
