import type { JWK } from 'jose';
import { SIGNING_ALGORITHM } from './key-store.ts';

export const JWKS_PATH = '/.well-known/jwks.json';
export const OPENID_CONFIGURATION_PATH = '/.well-known/openid-configuration';

/** The key set verifiers fetch; one key here, as the service never rotates. */
export function jwksDocument(publicJwk: Readonly<JWK>): { keys: JWK[] } {
  return { keys: [{ ...publicJwk }] };
}

/** OpenID discovery metadata: enough for generic OIDC tooling to find the keys. */
export function openidConfiguration(issuer: string) {
  return {
    issuer,
    jwks_uri: `${issuer}${JWKS_PATH}`,
    id_token_signing_alg_values_supported: [SIGNING_ALGORITHM],
    response_types_supported: ['token'],
    subject_types_supported: ['public'],
    scopes_supported: ['guest', 'authenticated'],
    claims_supported: ['sub', 'iss', 'aud', 'scope', 'iat', 'nbf', 'exp'],
  };
}
