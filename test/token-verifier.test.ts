import { createPublicKey } from 'node:crypto';
import type { JsonWebKey } from 'node:crypto';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { base64url, decodeJwt, generateKeyPair, importJWK, SignJWT, UnsecuredJWT } from 'jose';
import type { CryptoKey, JWK, JWTPayload } from 'jose';
import {
  JwtExpiredError,
  JwtInvalidAudienceError,
  JwtInvalidIssuerError,
  JwtInvalidScopeError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  JwtNotBeforeError,
  JwtParseError,
  JwtWithoutValidKidError,
  KidNotFoundInJwksError,
} from 'aws-jwt-verify/error';
import { TelemetryError } from '../runtime/core/errors.ts';
import { createTokenVerifier, tokenFromAuthorizationHeader } from '../runtime/adapters/token-verifier.ts';
import type { PlayerTokenVerifier } from '../runtime/adapters/token-verifier.ts';
import { createIdentityService } from '../runtime/local/identity/identity-service.ts';
import type { IdentityService } from '../runtime/local/identity/identity-service.ts';

let dataDir = '';
let issuer = '';
let clockOffsetMs = 0;
let identity: IdentityService;
let server: Server;
let verifier: PlayerTokenVerifier;
// The identity service's own private key, read from its data dir, to forge tokens the service would never issue.
let realKey: CryptoKey;
let realKid = '';

async function listen(handler: Parameters<typeof createServer>[1]): Promise<Server> {
  const listening = createServer(handler);
  await new Promise<void>((resolve) => listening.listen(0, '127.0.0.1', resolve));
  return listening;
}

async function stop(stopping: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    stopping.close(() => resolve());
    stopping.closeAllConnections();
  });
}

test.before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'token-verifier-test-'));
  // The verifier checks exp/nbf against the real clock, so the identity clock is skewed to mint bad tokens.
  identity = await createIdentityService({ dataDir, issuer: () => issuer, now: () => Date.now() + clockOffsetMs });
  server = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    void identity.handle(req, res, url).then((served) => {
      if (!served) res.writeHead(404).end();
    });
  });
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  verifier = createTokenVerifier({ issuer });

  const privateJwk = JSON.parse(await readFile(join(dataDir, 'identity', 'signing-key.json'), 'utf8')) as JWK;
  realKey = (await importJWK(privateJwk, 'RS256')) as CryptoKey;
  realKid = privateJwk.kid ?? '';
});

test.after(async () => {
  await stop(server);
  await identity.close();
  await rm(dataDir, { recursive: true, force: true });
});

function validClaims(overrides: JWTPayload = {}): JWTPayload {
  const now = Math.floor(Date.now() / 1000);
  return { sub: 'player-1', iss: issuer, aud: 'gamebackend', scope: 'guest', iat: now, nbf: now, exp: now + 900, ...overrides };
}

function signWith(key: CryptoKey | Uint8Array, claims: JWTPayload, header: { alg: string; kid?: string }) {
  return new SignJWT(claims).setProtectedHeader({ typ: 'JWT', ...header }).sign(key);
}

/** A compact JWT with any header and signature, for attacks jose refuses to produce. */
function handMade(header: object, claims: JWTPayload, signature = ''): string {
  const part = (value: object) => base64url.encode(JSON.stringify(value));
  return `${part(header)}.${part(claims)}.${signature}`;
}

async function assertRejected(token: string | undefined, reason?: Function, using = verifier): Promise<void> {
  try {
    await using.verify(token);
  } catch (error) {
    assert.instance(error, TelemetryError);
    assert.is((error as TelemetryError).code, 'unauthorized');
    assert.is((error as Error).message, 'Unauthorized', 'the reason stays out of the client message');
    if (reason) assert.instance((error as Error).cause, reason, `cause: ${String((error as Error).cause)}`);
    return;
  }
  assert.unreachable(`token was accepted: ${token}`);
}

test('a token from the identity service verifies and names the player', async () => {
  const tokens = await identity.issueTokens('player-1');
  const player = await verifier.verify(tokens.auth_token);
  assert.equal(player, { playerId: 'player-1', scope: 'guest', expiresAt: decodeJwt(tokens.auth_token).exp });
});

test('a guest logged in over HTTP verifies from the raw and the Bearer header forms', async () => {
  const login = (await (await fetch(`${issuer}/login-as-guest`)).json()) as { user_id: string; auth_token: string };
  for (const header of [login.auth_token, `Bearer ${login.auth_token}`, `  bearer \t${login.auth_token}  `]) {
    const player = await verifier.verify(tokenFromAuthorizationHeader(header));
    assert.is(player.playerId, login.user_id);
    assert.is(player.scope, 'guest');
  }
});

test('the authenticated scope is accepted too', async () => {
  const tokens = await identity.issueTokens('player-2', 'authenticated');
  assert.is((await verifier.verify(tokens.auth_token)).scope, 'authenticated');
});

test('tokenFromAuthorizationHeader reads the raw and the Bearer forms only', () => {
  assert.is(tokenFromAuthorizationHeader(undefined), undefined);
  assert.is(tokenFromAuthorizationHeader(''), undefined);
  assert.is(tokenFromAuthorizationHeader('   '), undefined);
  assert.is(tokenFromAuthorizationHeader('a.b.c'), 'a.b.c');
  assert.is(tokenFromAuthorizationHeader(' a.b.c\t'), 'a.b.c');
  assert.is(tokenFromAuthorizationHeader('Bearer a.b.c'), 'a.b.c');
  assert.is(tokenFromAuthorizationHeader('BEARER   a.b.c '), 'a.b.c');
  assert.is(tokenFromAuthorizationHeader('Basic dXNlcjpwYXNz'), undefined);
  assert.is(tokenFromAuthorizationHeader('Bearer a.b.c extra'), undefined);
});

test('rejects a missing token', async () => {
  await assertRejected(undefined);
  await assertRejected('');
  await assertRejected(tokenFromAuthorizationHeader('Basic dXNlcjpwYXNz'));
});

test('rejects garbage', async () => {
  await assertRejected('garbage', JwtParseError);
  await assertRejected('a.b.c', JwtParseError);
  await assertRejected('...', JwtParseError);
});

test('rejects an expired token', async () => {
  clockOffsetMs = -1000 * 1000;
  try {
    await assertRejected((await identity.issueTokens('player-1')).auth_token, JwtExpiredError);
  } finally {
    clockOffsetMs = 0;
  }
});

test('rejects a token that is not valid yet', async () => {
  clockOffsetMs = 600 * 1000;
  try {
    await assertRejected((await identity.issueTokens('player-1')).auth_token, JwtNotBeforeError);
  } finally {
    clockOffsetMs = 0;
  }
});

test('rejects a token from another issuer, even signed with the right key', async () => {
  const token = await signWith(realKey, validClaims({ iss: 'http://127.0.0.1:1' }), { alg: 'RS256', kid: realKid });
  await assertRejected(token, JwtInvalidIssuerError);
});

test('rejects a refresh token used as an access token (wrong audience)', async () => {
  await assertRejected((await identity.issueTokens('player-1')).refresh_token, JwtInvalidAudienceError);
  const token = await signWith(realKey, validClaims({ aud: 'someone-else' }), { alg: 'RS256', kid: realKid });
  await assertRejected(token, JwtInvalidAudienceError);
});

test('rejects a token without an accepted scope', async () => {
  await assertRejected((await identity.issueTokens('player-1', 'admin')).auth_token, JwtInvalidScopeError);
  const noScope = await signWith(realKey, validClaims({ scope: undefined }), { alg: 'RS256', kid: realKid });
  await assertRejected(noScope, JwtInvalidScopeError);
  const authenticatedOnly = createTokenVerifier({ issuer, scopes: ['authenticated'] });
  await assertRejected((await identity.issueTokens('player-1')).auth_token, JwtInvalidScopeError, authenticatedOnly);
});

test('rejects a token without sub or exp, even signed with the right key', async () => {
  await assertRejected(await signWith(realKey, validClaims({ sub: undefined }), { alg: 'RS256', kid: realKid }));
  await assertRejected(await signWith(realKey, validClaims({ exp: undefined }), { alg: 'RS256', kid: realKid }));
});

test('rejects alg none', async () => {
  const none = { alg: 'none', kid: realKid, typ: 'JWT' };
  await assertRejected(handMade(none, validClaims()));
  await assertRejected(handMade(none, validClaims(), 'c2lnbmF0dXJl'), JwtInvalidSignatureAlgorithmError);
  await assertRejected(new UnsecuredJWT(validClaims()).encode(), JwtParseError);
});

test('rejects HS256 signed with the public key as the secret', async () => {
  const publicPem = createPublicKey({ key: identity.jwks().keys[0] as JsonWebKey, format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
  for (const secret of [publicPem, JSON.stringify(identity.jwks().keys[0])]) {
    const token = await signWith(new TextEncoder().encode(secret), validClaims(), { alg: 'HS256', kid: realKid });
    await assertRejected(token, JwtInvalidSignatureAlgorithmError);
  }
});

test('rejects a tampered payload or a stripped signature', async () => {
  const [header, , signature] = (await identity.issueTokens('player-1')).auth_token.split('.');
  const forgedPayload = base64url.encode(JSON.stringify(validClaims({ sub: 'someone-else' })));
  await assertRejected(`${header}.${forgedPayload}.${signature}`, JwtInvalidSignatureError);
  const [h, p] = (await identity.issueTokens('player-1')).auth_token.split('.');
  await assertRejected(`${h}.${p}.`);
});

test('rejects a token without a kid, even signed with the right key', async () => {
  await assertRejected(await signWith(realKey, validClaims(), { alg: 'RS256' }), JwtWithoutValidKidError);
});

test('rejects a token signed by another key, with the same kid or an unknown one', async () => {
  const { privateKey } = await generateKeyPair('RS256');
  await assertRejected(await signWith(privateKey, validClaims(), { alg: 'RS256', kid: realKid }), JwtInvalidSignatureError);
  await assertRejected(
    await signWith(privateKey, validClaims(), { alg: 'RS256', kid: 'unknown-kid' }),
    KidNotFoundInJwksError,
  );
});

test('rejects every token when the JWKS cannot be fetched', async () => {
  // A port that was just free: nothing listens there any more.
  const closed = await listen(() => {});
  const deadIssuer = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
  await stop(closed);
  const token = await signWith(realKey, validClaims({ iss: deadIssuer }), { alg: 'RS256', kid: realKid });
  await assertRejected(token, undefined, createTokenVerifier({ issuer: deadIssuer }));

  // Reachable, but no key set at that address.
  const valid = (await identity.issueTokens('player-1')).auth_token;
  await assertRejected(valid, undefined, createTokenVerifier({ issuer, jwksUri: `${issuer}/no-jwks-here` }));
});

test('a verified token is remembered only until it expires, and a tampered copy is still checked', async () => {
  const cached = createTokenVerifier({ issuer });
  const token = await signWith(realKey, validClaims({ exp: Math.floor(Date.now() / 1000) + 1 }), { alg: 'RS256', kid: realKid });
  assert.is((await cached.verify(token)).playerId, 'player-1');
  assert.is((await cached.verify(token)).playerId, 'player-1', 'served from the cache');
  const [header, , signature] = token.split('.');
  const forged = `${header}.${base64url.encode(JSON.stringify(validClaims({ sub: 'someone-else' })))}.${signature}`;
  await assertRejected(forged, undefined, cached);
  await new Promise((resolve) => setTimeout(resolve, 2100));
  await assertRejected(token, undefined, cached);
});

test.run();
