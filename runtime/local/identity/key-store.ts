import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK } from 'jose';
import type { CryptoKey, JWK } from 'jose';
import { createFileExclusive } from './atomic-file.ts';

export const SIGNING_ALGORITHM = 'RS256';
const KEY_FILE = 'signing-key.json';

/** The identity service's one signing key; its public half is what `/.well-known/jwks.json` publishes. */
export interface SigningKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** `{kty, n, e, kid, alg, use}`: never a private member. */
  readonly publicJwk: Readonly<JWK>;
}

function publicHalf(jwk: JWK, kid: string): JWK {
  return { kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: SIGNING_ALGORITHM, use: 'sig' };
}

async function fromPrivateJwk(jwk: JWK, file: string): Promise<SigningKey> {
  if (jwk.kty !== 'RSA' || typeof jwk.d !== 'string' || typeof jwk.kid !== 'string' || jwk.kid === '') {
    throw new Error(`${file} is not an RSA private key with a kid; delete it to generate a new key`);
  }
  const privateKey = await importJWK(jwk, SIGNING_ALGORITHM);
  if (privateKey instanceof Uint8Array) throw new Error(`${file} holds a symmetric key; delete it`);
  return { kid: jwk.kid, privateKey, publicJwk: Object.freeze(publicHalf(jwk, jwk.kid)) };
}

/**
 * Loads the signing key from `<dir>/signing-key.json`, generating it on first start. The key outlives restarts so
 * tokens issued before a restart still verify. The file holds the private key: mode 0600, directory 0700.
 */
export async function loadOrCreateSigningKey(dir: string): Promise<SigningKey> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, KEY_FILE);

  const existing = await readKeyFile(file);
  if (existing) return fromPrivateJwk(existing, file);

  const { privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  // RFC 7638 thumbprint: a kid derived from the key itself, so a new key can never reuse an old kid.
  const kid = await calculateJwkThumbprint({ kty: jwk.kty, n: jwk.n, e: jwk.e });
  const stored: JWK = { ...jwk, kid, alg: SIGNING_ALGORITHM, use: 'sig' };

  // Two processes starting on one data dir must end up with the same key: whoever links first wins.
  if (await createFileExclusive(file, `${JSON.stringify(stored, null, 2)}\n`, 0o600)) {
    return fromPrivateJwk(stored, file);
  }
  const winner = await readKeyFile(file);
  if (!winner) throw new Error(`${file} vanished while the identity service was starting`);
  return fromPrivateJwk(winner, file);
}

async function readKeyFile(file: string): Promise<JWK | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as JWK;
  } catch {
    throw new Error(`${file} is not valid JSON; delete it to generate a new key (issued tokens stop verifying)`);
  }
}
