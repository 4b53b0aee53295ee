import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import type { JSONWebKeySet } from 'jose';
import { createIdentityService } from '../runtime/local/identity/identity-service.ts';
import type { IdentityService, IdentityServiceOptions } from '../runtime/local/identity/identity-service.ts';

// A stand-in for the local gateway: one loopback server that mounts the identity routes and 404s the rest.
interface Running {
  readonly service: IdentityService;
  readonly server: Server;
  readonly origin: string;
  stop(): Promise<void>;
}

async function start(options: Omit<IdentityServiceOptions, 'issuer'> & { issuer?: () => string }): Promise<Running> {
  let origin = '';
  const service = await createIdentityService({ ...options, issuer: options.issuer ?? (() => origin) });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    service.handle(req, res, url).then(
      (served) => {
        if (!served) res.writeHead(404).end();
      },
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    service,
    server,
    origin,
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await service.close();
    },
  };
}

interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

async function get(origin: string, path: string, init?: RequestInit): Promise<Reply> {
  const response = await fetch(`${origin}${path}`, init);
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

const qs = (params: Record<string, string>) => `?${new URLSearchParams(params)}`;

let dataDir = '';
let clockMs = Date.now();
let running: Running;

test.before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'identity-test-'));
  running = await start({ dataDir, now: () => clockMs });
});

test.after(async () => {
  await running.stop();
  await rm(dataDir, { recursive: true, force: true });
});

async function verifyWithPublishedKeys(token: string, origin: string, audience: string) {
  const jwks = (await get(origin, '/.well-known/jwks.json')).body as JSONWebKeySet;
  return jwtVerify(token, createLocalJWKSet(jwks), { audience, algorithms: ['RS256'], currentDate: new Date(clockMs) });
}

test('a new guest gets an id, a secret and tokens shaped like the game backend', async () => {
  const { status, headers, body } = await get(running.origin, '/login-as-guest');
  assert.is(status, 200);
  assert.is(headers.get('access-control-allow-origin'), '*');
  assert.is(headers.get('cache-control'), 'no-store');
  assert.match(headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(Object.keys(body).sort(), [
    'auth_token',
    'auth_token_expires_in',
    'guest_secret',
    'refresh_token',
    'refresh_token_expires_in',
    'user_id',
  ]);
  assert.type(body.user_id, 'string');
  assert.ok(body.guest_secret.length >= 32);
  assert.is(body.auth_token_expires_in, 900);
  assert.is(body.refresh_token_expires_in, 6 * 24 * 3600);

  const header = decodeProtectedHeader(body.auth_token);
  assert.is(header.alg, 'RS256');
  assert.is(header.kid, running.service.jwks().keys[0]?.kid);

  const { payload } = await verifyWithPublishedKeys(body.auth_token, running.origin, 'gamebackend');
  assert.is(payload.sub, body.user_id);
  assert.is(payload.iss, running.origin);
  assert.is(payload.aud, 'gamebackend');
  assert.is(payload['scope'], 'guest');
  assert.is(payload.iat, Math.floor(clockMs / 1000));
  assert.is(payload.nbf, payload.iat);
  assert.is(payload.exp, (payload.iat ?? 0) + 900);

  const refresh = (await verifyWithPublishedKeys(body.refresh_token, running.origin, 'refresh')).payload;
  assert.is(refresh.sub, body.user_id);
  assert.is(refresh.aud, 'refresh');
  assert.is(refresh.exp, (refresh.iat ?? 0) + 6 * 24 * 3600);
  assert.is.not(refresh['scope'], 'guest', 'a refresh token must not pass as a guest access token');
});

test('a returning guest keeps its id and secret', async () => {
  const first = (await get(running.origin, '/login-as-guest')).body;
  const again = await get(running.origin, `/login-as-guest${qs({ user_id: first.user_id, guest_secret: first.guest_secret })}`);
  assert.is(again.status, 200);
  assert.is(again.body.user_id, first.user_id);
  assert.is(again.body.guest_secret, first.guest_secret);
  assert.is(decodeJwt(again.body.auth_token).sub, first.user_id);
});

test('a wrong secret or an unknown guest is 401 with a JSON error', async () => {
  const guest = (await get(running.origin, '/login-as-guest')).body;
  for (const params of [
    { user_id: guest.user_id, guest_secret: `${guest.guest_secret}x` },
    { user_id: guest.user_id, guest_secret: 'short' },
    { user_id: 'no-such-user', guest_secret: guest.guest_secret },
  ]) {
    const reply = await get(running.origin, `/login-as-guest${qs(params)}`);
    assert.is(reply.status, 401);
    assert.is(reply.headers.get('access-control-allow-origin'), '*');
    assert.is(reply.body.error, 'unauthorized');
    assert.type(reply.body.message, 'string');
    assert.not.ok(JSON.stringify(reply.body).includes(guest.guest_secret));
  }
});

test('half a returning-guest login is 400', async () => {
  const halves: Record<string, string>[] = [
    { user_id: 'someone' },
    { guest_secret: 'something' },
    { user_id: 'someone', guest_secret: '' },
  ];
  for (const params of halves) {
    const reply = await get(running.origin, `/login-as-guest${qs(params)}`);
    assert.is(reply.status, 400, JSON.stringify(params));
    assert.is(reply.body.error, 'invalid_request');
  }
});

test('a refresh token buys new tokens and keeps the session end', async () => {
  const login = (await get(running.origin, '/login-as-guest')).body;
  const started = clockMs;
  clockMs += 60_000;
  try {
    const reply = await get(running.origin, `/refresh-access-token${qs({ refresh_token: login.refresh_token })}`);
    assert.is(reply.status, 200);
    assert.is(reply.headers.get('access-control-allow-origin'), '*');
    assert.equal(Object.keys(reply.body).sort(), [
      'auth_token',
      'auth_token_expires_in',
      'refresh_token',
      'refresh_token_expires_in',
      'user_id',
    ]);
    assert.is(reply.body.user_id, login.user_id);
    assert.is(reply.body.auth_token_expires_in, 900);
    assert.is(reply.body.refresh_token_expires_in, login.refresh_token_expires_in - 60);
    const access = (await verifyWithPublishedKeys(reply.body.auth_token, running.origin, 'gamebackend')).payload;
    assert.is(access.sub, login.user_id);
    assert.is(access['scope'], 'guest');
    assert.is(access.iat, Math.floor(clockMs / 1000));
    const refresh = decodeJwt(reply.body.refresh_token);
    assert.is(refresh.exp, decodeJwt(login.refresh_token).exp, 'refreshing never extends the session');
  } finally {
    clockMs = started;
  }
});

test('the scope of the original login survives a refresh', async () => {
  const tokens = await running.service.issueTokens('player-authenticated', 'authenticated');
  const reply = await get(running.origin, `/refresh-access-token${qs({ refresh_token: tokens.refresh_token })}`);
  assert.is(reply.status, 200);
  assert.is(decodeJwt(reply.body.auth_token)['scope'], 'authenticated');
});

test('a bad, expired or misused refresh token is 401; a missing one is 400', async () => {
  const login = (await get(running.origin, '/login-as-guest')).body;
  const refreshWith = (token: string) => get(running.origin, `/refresh-access-token${qs({ refresh_token: token })}`);

  for (const token of ['garbage', login.auth_token, `${login.refresh_token.slice(0, -4)}AAAA`]) {
    const reply = await refreshWith(token);
    assert.is(reply.status, 401);
    assert.is(reply.body.error, 'unauthorized');
  }

  const started = clockMs;
  clockMs += (login.refresh_token_expires_in + 1) * 1000;
  try {
    assert.is((await refreshWith(login.refresh_token)).status, 401);
  } finally {
    clockMs = started;
  }

  const missing = await get(running.origin, '/refresh-access-token');
  assert.is(missing.status, 400);
  assert.is(missing.body.error, 'invalid_request');
});

test('JWKS and OpenID configuration have the shape verifiers expect', async () => {
  const jwks = await get(running.origin, '/.well-known/jwks.json');
  assert.is(jwks.status, 200);
  assert.is(jwks.headers.get('access-control-allow-origin'), '*');
  assert.is(jwks.body.keys.length, 1);
  const [key] = jwks.body.keys;
  assert.equal(Object.keys(key).sort(), ['alg', 'e', 'kid', 'kty', 'n', 'use']);
  assert.is(key.kty, 'RSA');
  assert.is(key.alg, 'RS256');
  assert.is(key.use, 'sig');
  assert.ok(key.kid.length > 0);
  assert.equal(jwks.body, running.service.jwks());

  const config = await get(running.origin, '/.well-known/openid-configuration');
  assert.is(config.status, 200);
  assert.is(config.body.issuer, running.origin);
  assert.is(config.body.jwks_uri, `${running.origin}/.well-known/jwks.json`);
  assert.equal(config.body.id_token_signing_alg_values_supported, ['RS256']);
  assert.ok(Array.isArray(config.body.response_types_supported));
  assert.ok(Array.isArray(config.body.subject_types_supported));
});

test('other paths are left to the gateway; other methods are 405; preflight is answered', async () => {
  assert.is((await get(running.origin, '/put-record')).status, 404);
  assert.is((await get(running.origin, '/login-as-guest/extra')).status, 404);

  const post = await get(running.origin, '/login-as-guest', { method: 'POST' });
  assert.is(post.status, 405);
  assert.is(post.body.error, 'method_not_allowed');
  assert.match(post.headers.get('allow') ?? '', /GET/);

  const preflight = await get(running.origin, '/login-as-guest', {
    method: 'OPTIONS',
    headers: { origin: 'https://game.example', 'access-control-request-method': 'GET' },
  });
  assert.is(preflight.status, 204);
  assert.is(preflight.headers.get('access-control-allow-origin'), '*');
});

test('the private key is 0600 and guests.json holds no secret', async () => {
  const guest = (await get(running.origin, '/login-as-guest')).body;
  const dir = join(dataDir, 'identity');
  if (process.platform !== 'win32') {
    assert.is((await stat(join(dir, 'signing-key.json'))).mode & 0o777, 0o600);
  }
  const guests = await readFile(join(dir, 'guests.json'), 'utf8');
  assert.ok(guests.includes(guest.user_id));
  assert.not.ok(guests.includes(guest.guest_secret));
});

test('keys and guests survive a restart', async () => {
  const guest = (await get(running.origin, '/login-as-guest')).body;
  // Guests created concurrently must all reach the file: writes are serialized, none may overwrite another.
  const burst = await Promise.all(Array.from({ length: 20 }, () => get(running.origin, '/login-as-guest')));
  const oldIssuer = running.origin;
  const oldKid = running.service.jwks().keys[0]?.kid;
  await running.stop();

  // The restarted service answers on a new port but keeps its public URL, as a gateway on a fixed port would.
  running = await start({ dataDir, now: () => clockMs, issuer: () => oldIssuer });
  assert.is(running.service.jwks().keys[0]?.kid, oldKid);

  const { payload } = await verifyWithPublishedKeys(guest.auth_token, running.origin, 'gamebackend');
  assert.is(payload.sub, guest.user_id);

  for (const login of [guest, ...burst.map((reply) => reply.body)]) {
    const again = await get(running.origin, `/login-as-guest${qs({ user_id: login.user_id, guest_secret: login.guest_secret })}`);
    assert.is(again.status, 200, `guest ${login.user_id} was lost`);
  }

  const refreshed = await get(running.origin, `/refresh-access-token${qs({ refresh_token: guest.refresh_token })}`);
  assert.is(refreshed.status, 200);
  assert.is(refreshed.body.user_id, guest.user_id);
});

test.run();
