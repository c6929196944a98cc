// The clients, scopes and resource servers of authorization-server.mjs, read
// from authorization-server-clients.json, with each client's keys loaded from
// tests/fixtures/jose/ at run time.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const KEY_DIR = path.resolve(here, '../fixtures/jose');
export const CLIENTS_FILE = path.join(here, 'authorization-server-clients.json');

export const GRANT_CLIENT_CREDENTIALS = 'client_credentials';
export const GRANT_JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const GRANT_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

/** The JWS algorithms each key type signs with. */
export const ALGORITHMS = {
  RSA: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  'EC:P-256': ['ES256'],
  'EC:P-384': ['ES384'],
  'EC:P-521': ['ES512'],
  'OKP:Ed25519': ['EdDSA'],
};

/** Algorithms a JWK of this type signs with. */
export function algorithmsFor(jwk) {
  return ALGORITHMS[jwk.crv ? `${jwk.kty}:${jwk.crv}` : jwk.kty] ?? [];
}

/**
 * The configuration: `{ scopes, resource_servers, audiences, clients }`,
 * where each client with `keys` gets `privateKeys` (kid -> KeyObject) and
 * `jwks` (the public JWKs, with `kid` and `use`).
 */
export function loadFixtures() {
  const config = JSON.parse(fs.readFileSync(CLIENTS_FILE, 'utf8'));
  for (const client of config.clients) {
    if (!client.keys) continue;
    client.privateKeys = {};
    client.jwks = { keys: [] };
    for (const [kid, file] of Object.entries(client.keys)) {
      const key = crypto.createPrivateKey(fs.readFileSync(path.join(KEY_DIR, file), 'utf8'));
      client.privateKeys[kid] = key;
      const jwk = crypto.createPublicKey(key).export({ format: 'jwk' });
      client.jwks.keys.push({ ...jwk, kid, use: 'sig' });
    }
  }
  return config;
}
