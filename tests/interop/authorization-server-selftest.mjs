// Checks authorization-server.mjs from the outside with the npm package
// `jose`: every client authentication method, every key type, the JWT bearer
// grant and token exchange, DPoP (RFC 9449) and its nonces, and their
// errors.
//
//   node authorization-server-selftest.mjs [issuer]
//
// Without an issuer it starts authorization-server.mjs itself. Prints one
// line per check and exits non-zero when any fails.
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';

import {
  GRANT_JWT_BEARER,
  GRANT_TOKEN_EXCHANGE,
  TOKEN_TYPE_ACCESS_TOKEN,
  algorithmsFor,
  loadFixtures,
} from './authorization-server-fixtures.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = loadFixtures();
const clients = Object.fromEntries(fixtures.clients.map((c) => [c.client_id, c]));
const API = 'https://api.example.test/';
const BILLING = 'https://billing.example.test/';

async function startServer() {
  const child = spawn(process.execPath, [path.join(here, 'authorization-server.mjs')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout });
  const issuer = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start in 20 s')), 20000);
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = /^listening (\S+)$/.exec(line);
      if (match) resolve(match[1]);
      else reject(new Error(`unexpected first line: ${line}`));
    });
  });
  return { issuer, stop: () => child.kill('SIGTERM') };
}

const external = process.argv[2];
const server = external ? { issuer: external.replace(/\/$/, ''), stop() {} } : await startServer();
const { issuer } = server;
const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
const tokenUrl = discovery.token_endpoint;

let failures = 0;
async function check(name, body) {
  try {
    const detail = await body();
    console.log(`ok   ${name}${detail ? ` (${detail})` : ''}`);
  } catch (err) {
    failures += 1;
    console.log(`FAIL ${name}: ${err.message}`);
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function basic(id, secret) {
  const encode = (value) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(id)}:${encode(secret)}`).toString('base64')}`;
}

async function post(form, headers = {}) {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(form)) {
    for (const one of [value].flat()) {
      if (one !== undefined) body.append(name, one);
    }
  }
  const response = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
    body,
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

async function token(form, headers, tokenType = 'Bearer') {
  const response = await post(form, headers);
  assert(response.status === 200, `status ${response.status}: ${JSON.stringify(response.body)}`);
  assert(typeof response.body.access_token === 'string', 'no access_token');
  assert(response.body.token_type === tokenType, `token_type ${response.body.token_type}`);
  return response.body;
}

async function error(form, headers, status, code) {
  const response = await post(form, headers);
  assert(
    response.status === status && response.body.error === code,
    `wanted ${status} ${code}, got ${response.status} ${JSON.stringify(response.body)}`,
  );
  return response.body.error_description;
}

async function introspect(value) {
  const client = clients['basic-client'];
  const response = await fetch(discovery.introspection_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: basic(client.client_id, client.client_secret),
    },
    body: new URLSearchParams({ token: value }),
  });
  assert(response.status === 200, `introspection status ${response.status}`);
  return response.json();
}

function now() {
  return Math.floor(Date.now() / 1000);
}

async function sign(claims, key, alg, kid) {
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : undefined) })
    .sign(key);
}

/** A client assertion (RFC 7523 §2.2) for `clientId`. */
function clientAssertion(clientId, key, alg, { aud = tokenUrl, kid } = {}) {
  return sign({
    iss: clientId,
    sub: clientId,
    aud,
    jti: crypto.randomUUID(),
    iat: now(),
    exp: now() + 60,
  }, key, alg, kid);
}

const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const privateKeyClient = clients['private-key-client'];
const secretJwtClient = clients['jwt-secret-client'];
const hmacKey = new TextEncoder().encode(secretJwtClient.client_secret);

async function privateKeyAuth(kid, alg, options = {}) {
  return {
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: await clientAssertion(
      privateKeyClient.client_id,
      privateKeyClient.privateKeys[kid],
      alg,
      { kid, ...options },
    ),
  };
}

// --- client authentication -------------------------------------------------

await check('discovery names the token and introspection endpoints', async () => {
  assert(discovery.issuer === issuer, `issuer ${discovery.issuer}`);
  assert(tokenUrl === `${issuer}/token`, `token_endpoint ${tokenUrl}`);
  for (const method of ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt']) {
    assert(discovery.token_endpoint_auth_methods_supported.includes(method), `no ${method}`);
  }
  for (const grant of ['client_credentials', GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE]) {
    assert(discovery.grant_types_supported.includes(grant), `no ${grant}`);
  }
  const rfc8414 = await fetch(`${issuer}/.well-known/oauth-authorization-server`);
  return `RFC 8414 path answers ${rfc8414.status}`;
});

await check('client_secret_basic', async () => {
  const { client_id: id, client_secret: secret } = clients['basic-client'];
  const issued = await token({ grant_type: 'client_credentials', scope: 'orders:read' }, { authorization: basic(id, secret) });
  const info = await introspect(issued.access_token);
  assert(info.active === true && info.client_id === id, JSON.stringify(info));
  assert(info.scope === 'orders:read', `scope ${info.scope}`);
});

await check('client_secret_basic with + % : and spaces in the secret', async () => {
  const { client_id: id, client_secret: secret } = clients['special-secret-client'];
  await token({ grant_type: 'client_credentials' }, { authorization: basic(id, secret) });
  const raw = `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  await error({ grant_type: 'client_credentials' }, { authorization: raw }, 401, 'invalid_client');
  return 'the unencoded secret is refused';
});

await check('client_secret_post', async () => {
  const { client_id: id, client_secret: secret } = clients['post-client'];
  const issued = await token({ grant_type: 'client_credentials', client_id: id, client_secret: secret });
  assert((await introspect(issued.access_token)).client_id === id, 'client_id');
});

await check('a wrong secret is invalid_client', async () => {
  const { client_id: id } = clients['basic-client'];
  await error({ grant_type: 'client_credentials' }, { authorization: basic(id, 'wrong') }, 401, 'invalid_client');
});

for (const alg of ['HS256', 'HS384', 'HS512']) {
  // eslint-disable-next-line no-await-in-loop
  await check(`client_secret_jwt ${alg}`, async () => {
    const issued = await token({
      grant_type: 'client_credentials',
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await clientAssertion(secretJwtClient.client_id, hmacKey, alg),
    });
    assert((await introspect(issued.access_token)).client_id === secretJwtClient.client_id, 'client_id');
  });
}

for (const [kid, jwk] of privateKeyClient.jwks.keys.map((k) => [k.kid, k])) {
  for (const alg of algorithmsFor(jwk)) {
    for (const aud of ['token endpoint', 'issuer']) {
      // eslint-disable-next-line no-await-in-loop
      await check(`private_key_jwt ${alg} (${kid} key, aud = ${aud})`, async () => {
        const auth = await privateKeyAuth(kid, alg, { aud: aud === 'issuer' ? issuer : tokenUrl });
        const issued = await token({ grant_type: 'client_credentials', ...auth });
        const info = await introspect(issued.access_token);
        assert(info.active && info.client_id === privateKeyClient.client_id, JSON.stringify(info));
      });
    }
  }
}

await check('private_key_jwt: a reused client assertion is refused', async () => {
  const auth = await privateKeyAuth('p256', 'ES256');
  await token({ grant_type: 'client_credentials', ...auth });
  await error({ grant_type: 'client_credentials', ...auth }, {}, 401, 'invalid_client');
});

await check('private_key_jwt: another audience is refused', async () => {
  const auth = await privateKeyAuth('p256', 'ES256', { aud: 'https://elsewhere.example.test/' });
  await error({ grant_type: 'client_credentials', ...auth }, {}, 401, 'invalid_client');
});

await check('resource indicator and audience on client credentials', async () => {
  const { client_id: id, client_secret: secret } = clients['basic-client'];
  const issued = await token({
    grant_type: 'client_credentials',
    scope: 'orders:read billing:read',
    resource: API,
    audience: 'orders-api',
  }, { authorization: basic(id, secret) });
  const info = await introspect(issued.access_token);
  assert(info.aud === API, `aud ${JSON.stringify(info.aud)}`);
  assert(info.scope === 'orders:read', `scope ${info.scope} (the resource's scopes only)`);
  assert(JSON.stringify(info.audience) === '["orders-api"]', `audience ${JSON.stringify(info.audience)}`);
  await error({ grant_type: 'client_credentials', resource: 'https://unknown.example.test/' }, { authorization: basic(id, secret) }, 400, 'invalid_target');
  await error({ grant_type: 'client_credentials', audience: 'unknown-api' }, { authorization: basic(id, secret) }, 400, 'invalid_target');
});

// --- JWT bearer grant (RFC 7523 §2.1) --------------------------------------

function bearerAssertion(client, kid, alg, claims = {}) {
  const key = client.privateKeys ? client.privateKeys[kid] : new TextEncoder().encode(client.client_secret);
  return sign({
    iss: client.client_id,
    sub: 'user-42',
    aud: tokenUrl,
    jti: crypto.randomUUID(),
    iat: now(),
    exp: now() + 300,
    ...claims,
  }, key, alg, client.privateKeys ? kid : undefined);
}

await check('jwt-bearer, authenticated with private_key_jwt, scope from the form', async () => {
  const assertion = await bearerAssertion(privateKeyClient, 'rsa', 'RS256');
  const issued = await token({
    grant_type: GRANT_JWT_BEARER,
    assertion,
    scope: 'orders:read',
    ...(await privateKeyAuth('ed25519', 'EdDSA')),
  });
  const info = await introspect(issued.access_token);
  assert(info.sub === 'user-42' && info.grant_type === GRANT_JWT_BEARER, JSON.stringify(info));
  assert(info.scope === 'orders:read', `scope ${info.scope}`);
  await error({
    grant_type: GRANT_JWT_BEARER,
    assertion,
    ...(await privateKeyAuth('ed25519', 'EdDSA')),
  }, {}, 400, 'invalid_grant');
  return 'a reused jti is invalid_grant';
});

await check('jwt-bearer with no client authentication, iss = service account, scope from the JWT', async () => {
  const client = clients['jwt-bearer-client'];
  const assertion = await bearerAssertion(client, 'p384', 'ES384', {
    iss: client.service_account,
    aud: issuer,
    scope: 'orders:write',
  });
  const issued = await token({ grant_type: GRANT_JWT_BEARER, assertion });
  const info = await introspect(issued.access_token);
  assert(info.client_id === client.client_id, JSON.stringify(info));
  assert(info.scope === 'orders:write', `scope ${info.scope}`);
});

await check('jwt-bearer with client_secret_basic and an HS256 assertion signed with the secret', async () => {
  const client = clients['basic-client'];
  const assertion = await bearerAssertion(client, undefined, 'HS256');
  await token({ grant_type: GRANT_JWT_BEARER, assertion }, { authorization: basic(client.client_id, client.client_secret) });
});

await check('jwt-bearer refuses a wrong aud, a long lifetime, an expired JWT and a foreign key', async () => {
  const client = clients['jwt-bearer-client'];
  const cases = [
    { aud: 'https://elsewhere.example.test/' },
    { exp: now() + 2 * 3600 },
    { iat: now() - 600, exp: now() - 60 },
    { iss: 'someone-else@service-accounts.example.test' },
  ];
  for (const claims of cases) {
    // eslint-disable-next-line no-await-in-loop
    const assertion = await bearerAssertion(client, 'p256', 'ES256', claims);
    // eslint-disable-next-line no-await-in-loop
    await error({ grant_type: GRANT_JWT_BEARER, assertion, client_id: client.client_id }, {}, 400, 'invalid_grant');
  }
  const { privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const foreign = await sign({
    iss: client.client_id, aud: tokenUrl, jti: crypto.randomUUID(), iat: now(), exp: now() + 60,
  }, privateKey, 'ES256');
  await error({ grant_type: GRANT_JWT_BEARER, assertion: foreign }, {}, 400, 'invalid_grant');
});

// --- token exchange (RFC 8693) ---------------------------------------------

async function subjectToken(clientId = 'basic-client', scope = 'orders:read orders:write') {
  const { client_id: id, client_secret: secret } = clients[clientId];
  return (await token({ grant_type: 'client_credentials', scope }, { authorization: basic(id, secret) })).access_token;
}

await check('token exchange with audiences, resources and an actor', async () => {
  const subject = await subjectToken();
  const actor = await subjectToken('special-secret-client', 'orders:read');
  const { client_id: id, client_secret: secret } = clients['post-client'];
  const issued = await token({
    grant_type: GRANT_TOKEN_EXCHANGE,
    client_id: id,
    client_secret: secret,
    subject_token: subject,
    subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
    actor_token: actor,
    actor_token_type: TOKEN_TYPE_ACCESS_TOKEN,
    requested_token_type: TOKEN_TYPE_ACCESS_TOKEN,
    audience: ['orders-api', 'billing-api'],
    resource: [API, BILLING],
    scope: 'orders:read',
  });
  assert(issued.issued_token_type === TOKEN_TYPE_ACCESS_TOKEN, `issued_token_type ${issued.issued_token_type}`);
  assert(Number.isInteger(issued.expires_in) && issued.expires_in > 0, `expires_in ${issued.expires_in}`);
  const info = await introspect(issued.access_token);
  assert(info.active && info.client_id === id, JSON.stringify(info));
  assert(info.grant_type === GRANT_TOKEN_EXCHANGE, `grant_type ${info.grant_type}`);
  assert(info.sub === 'basic-client' && info.subject_client_id === 'basic-client', `sub ${info.sub}`);
  assert(info.act?.sub === 'special-secret-client', `act ${JSON.stringify(info.act)}`);
  assert(
    JSON.stringify(info.aud) === JSON.stringify(['orders-api', 'billing-api', API, BILLING]),
    `aud ${JSON.stringify(info.aud)}`,
  );
  assert(info.scope === 'orders:read', `scope ${info.scope}`);
});

await check('token exchange by private_key_jwt with a custom subject token type', async () => {
  const issued = await token({
    grant_type: GRANT_TOKEN_EXCHANGE,
    subject_token: await subjectToken(),
    subject_token_type: 'urn:example:subject-token',
    audience: 'orders-api',
    ...(await privateKeyAuth('rsa', 'PS256')),
  });
  const info = await introspect(issued.access_token);
  assert(info.aud === 'orders-api' && info.scope === 'orders:read orders:write', JSON.stringify(info));
  assert(info.subject_token_type === 'urn:example:subject-token', JSON.stringify(info));
});

await check('token exchange errors (RFC 8693 §2.2.2)', async () => {
  const { client_id: id, client_secret: secret } = clients['post-client'];
  const auth = { client_id: id, client_secret: secret };
  const subject = await subjectToken();
  const base = {
    grant_type: GRANT_TOKEN_EXCHANGE, subject_token: subject, subject_token_type: TOKEN_TYPE_ACCESS_TOKEN, ...auth,
  };
  await error({ ...base, subject_token: undefined }, {}, 400, 'invalid_request');
  await error({ ...base, subject_token_type: undefined }, {}, 400, 'invalid_request');
  await error({ ...base, subject_token: 'not-a-token' }, {}, 400, 'invalid_request');
  await error({ ...base, subject_token_type: 'urn:example:subject-token' }, {}, 400, 'invalid_request');
  await error({ ...base, actor_token: subject }, {}, 400, 'invalid_request');
  await error({ ...base, requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }, {}, 400, 'invalid_request');
  await error({ ...base, resource: 'https://unknown.example.test/' }, {}, 400, 'invalid_target');
  await error({ ...base, audience: ['orders-api', 'unknown-api'] }, {}, 400, 'invalid_target');
});

// --- DPoP (RFC 9449) ---------------------------------------------------------

const dpopClient = clients['dpop-client'];
const dpopAuth = { authorization: basic(dpopClient.client_id, dpopClient.client_secret) };
const DPOP_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'PS256'];

/** A fresh DPoP key: `{ alg, privateKey, jwk }` (the public JWK). */
async function dpopKey(alg = 'ES256') {
  const { privateKey, publicKey } = await jose.generateKeyPair(alg);
  return { alg, privateKey, jwk: await jose.exportJWK(publicKey) };
}

/** A DPoP proof (RFC 9449 §4.2) for a POST to the token endpoint. */
function dpopProof(key, claims = {}, header = {}) {
  return new jose.SignJWT({
    htm: 'POST',
    htu: tokenUrl,
    jti: crypto.randomUUID(),
    iat: now(),
    ...claims,
  })
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk, ...header })
    .sign(key.privateKey);
}

/** The answer to a proof without a nonce: 400 use_dpop_nonce; its DPoP-Nonce. */
async function dpopNonce(key, form, headers) {
  const response = await post(form, { ...headers, dpop: await dpopProof(key) });
  assert(
    response.status === 400 && response.body.error === 'use_dpop_nonce',
    `wanted 400 use_dpop_nonce, got ${response.status} ${JSON.stringify(response.body)}`,
  );
  const nonce = response.headers.get('dpop-nonce');
  assert(typeof nonce === 'string' && nonce.length > 0, 'no DPoP-Nonce header');
  return nonce;
}

/** Introspection of a DPoP-bound token: `cnf.jkt` is the key's thumbprint. */
async function assertBoundTo(value, key) {
  const info = await introspect(value);
  const thumbprint = await jose.calculateJwkThumbprint(key.jwk);
  assert(info.active === true, JSON.stringify(info));
  assert(info.token_type === 'DPoP', `introspected token_type ${info.token_type}`);
  assert(info.cnf?.jkt === thumbprint, `cnf ${JSON.stringify(info.cnf)}, thumbprint ${thumbprint}`);
  return info;
}

const CLIENT_CREDENTIALS = { grant_type: 'client_credentials', scope: 'orders:read' };

await check('discovery lists the DPoP proof algorithms', async () => {
  const algs = discovery.dpop_signing_alg_values_supported ?? [];
  for (const alg of DPOP_ALGORITHMS) assert(algs.includes(alg), `no ${alg} in ${JSON.stringify(algs)}`);
  assert(!algs.some((alg) => alg.startsWith('HS')), `symmetric algorithms in ${JSON.stringify(algs)}`);
  return algs.join(' ');
});

await check('dpop-client: use_dpop_nonce first, then a DPoP-bound token with the nonce', async () => {
  const key = await dpopKey();
  const nonce = await dpopNonce(key, CLIENT_CREDENTIALS, dpopAuth);
  const response = await post(CLIENT_CREDENTIALS, { ...dpopAuth, dpop: await dpopProof(key, { nonce }) });
  assert(response.status === 200, `status ${response.status}: ${JSON.stringify(response.body)}`);
  assert(response.body.token_type === 'DPoP', `token_type ${response.body.token_type}`);
  const info = await assertBoundTo(response.body.access_token, key);
  assert(info.client_id === dpopClient.client_id && info.scope === 'orders:read', JSON.stringify(info));
  const again = response.headers.get('dpop-nonce');
  return `nonce of ${nonce.length} characters; ${again ? 'a new nonce' : 'no new nonce'} with the token`;
});

await check('dpop-client: every DPoP algorithm, one nonce for several proofs', async () => {
  const nonce = await dpopNonce(await dpopKey(), CLIENT_CREDENTIALS, dpopAuth);
  for (const alg of DPOP_ALGORITHMS) {
    // eslint-disable-next-line no-await-in-loop
    const key = await dpopKey(alg);
    // eslint-disable-next-line no-await-in-loop
    const issued = await token(CLIENT_CREDENTIALS, { ...dpopAuth, dpop: await dpopProof(key, { nonce }) }, 'DPoP');
    // eslint-disable-next-line no-await-in-loop
    await assertBoundTo(issued.access_token, key);
  }
});

await check('dpop-client: no proof is invalid_grant, a wrong secret still invalid_client', async () => {
  await error(CLIENT_CREDENTIALS, dpopAuth, 400, 'invalid_grant');
  const key = await dpopKey();
  await error(CLIENT_CREDENTIALS, {
    authorization: basic(dpopClient.client_id, 'wrong'),
    dpop: await dpopProof(key),
  }, 401, 'invalid_client');
});

await check('a proof for another htu, htm, typ or key, or an unknown nonce, is refused', async () => {
  const key = await dpopKey();
  const nonce = await dpopNonce(key, CLIENT_CREDENTIALS, dpopAuth);
  const refused = async (proof, code = 'invalid_dpop_proof') => {
    const response = await post(CLIENT_CREDENTIALS, { ...dpopAuth, dpop: proof });
    assert(
      response.status === 400 && response.body.error === code,
      `wanted 400 ${code}, got ${response.status} ${JSON.stringify(response.body)}`,
    );
    return response;
  };
  await refused(await dpopProof(key, { nonce, htu: `${tokenUrl}/` }));
  await refused(await dpopProof(key, { nonce, htu: discovery.introspection_endpoint }));
  await refused(await dpopProof(key, { nonce, htu: tokenUrl.replace('127.0.0.1', 'localhost') }));
  await refused(await dpopProof(key, { nonce, htm: 'GET' }));
  await refused(await dpopProof(key, { nonce }, { typ: 'JWT' }));
  await refused(await dpopProof(key, { nonce, jti: undefined }));
  const other = await dpopKey();
  await refused(await dpopProof(key, { nonce }, { jwk: other.jwk }));
  await refused('not-a-jwt');
  const unknown = await refused(await dpopProof(key, { nonce: 'not-a-nonce-of-this-server' }), 'use_dpop_nonce');
  assert(unknown.headers.get('dpop-nonce'), 'no DPoP-Nonce with the unknown nonce');
  // The query and fragment of htu are not compared (RFC 9449 §4.3).
  await token(CLIENT_CREDENTIALS, { ...dpopAuth, dpop: await dpopProof(key, { nonce, htu: `${tokenUrl}?x=1` }) }, 'DPoP');
});

await check('a replayed DPoP proof is refused', async () => {
  const key = await dpopKey('EdDSA');
  const nonce = await dpopNonce(key, CLIENT_CREDENTIALS, dpopAuth);
  const proof = await dpopProof(key, { nonce });
  await token(CLIENT_CREDENTIALS, { ...dpopAuth, dpop: proof }, 'DPoP');
  return `replay: ${await error(CLIENT_CREDENTIALS, { ...dpopAuth, dpop: proof }, 400, 'invalid_grant')}`;
});

await check('a client without require_dpop_nonce: DPoP-bound without a nonce, told the nonce', async () => {
  const { client_id: id, client_secret: secret } = clients['basic-client'];
  const key = await dpopKey();
  const response = await post(CLIENT_CREDENTIALS, { authorization: basic(id, secret), dpop: await dpopProof(key) });
  assert(response.status === 200 && response.body.token_type === 'DPoP', JSON.stringify(response.body));
  assert(response.headers.get('dpop-nonce'), 'no DPoP-Nonce with the token');
  await assertBoundTo(response.body.access_token, key);
  // Without a nonce, a proof older than five minutes asks for one.
  const stale = await post(CLIENT_CREDENTIALS, {
    authorization: basic(id, secret),
    dpop: await dpopProof(key, { iat: now() - 600 }),
  });
  assert(stale.status === 400 && stale.body.error === 'use_dpop_nonce', JSON.stringify(stale.body));
  // And without a proof nothing changes.
  await token(CLIENT_CREDENTIALS, { authorization: basic(id, secret) });
});

await check('token exchange with a DPoP proof issues a DPoP-bound token', async () => {
  const key = await dpopKey();
  const form = {
    grant_type: GRANT_TOKEN_EXCHANGE,
    subject_token: await subjectToken(),
    subject_token_type: TOKEN_TYPE_ACCESS_TOKEN,
    audience: 'orders-api',
  };
  const nonce = await dpopNonce(key, form, dpopAuth);
  const issued = await token(form, { ...dpopAuth, dpop: await dpopProof(key, { nonce }) }, 'DPoP');
  assert(issued.issued_token_type === TOKEN_TYPE_ACCESS_TOKEN, `issued_token_type ${issued.issued_token_type}`);
  const info = await assertBoundTo(issued.access_token, key);
  assert(info.grant_type === GRANT_TOKEN_EXCHANGE && info.sub === 'basic-client', JSON.stringify(info));
  await error(form, dpopAuth, 400, 'invalid_grant');
  // A client without require_dpop_nonce needs no nonce; the DPoP-bound
  // token may itself be the subject token.
  const { client_id: id, client_secret: secret } = clients['post-client'];
  const other = await dpopKey('ES384');
  const again = await token({
    ...form, subject_token: issued.access_token, client_id: id, client_secret: secret,
  }, { dpop: await dpopProof(other) }, 'DPoP');
  await assertBoundTo(again.access_token, other);
});

await check('jwt-bearer with a DPoP proof issues a DPoP-bound token', async () => {
  const client = clients['jwt-bearer-client'];
  const key = await dpopKey('PS256');
  const assertion = await bearerAssertion(client, 'p256', 'ES256');
  const issued = await token({ grant_type: GRANT_JWT_BEARER, assertion }, { dpop: await dpopProof(key) }, 'DPoP');
  await assertBoundTo(issued.access_token, key);
});

await check('the request log shows DPoP proofs without their jti, and the nonces answered', async () => {
  const log = `${issuer}/test/requests`;
  assert((await fetch(log, { method: 'DELETE' })).status === 204, 'DELETE');
  const key = await dpopKey();
  const first = await dpopProof(key);
  const response = await post(CLIENT_CREDENTIALS, { ...dpopAuth, dpop: first });
  const nonce = response.headers.get('dpop-nonce');
  const second = await dpopProof(key, { nonce });
  await token(CLIENT_CREDENTIALS, { ...dpopAuth, dpop: second }, 'DPoP');
  await post(CLIENT_CREDENTIALS, { ...dpopAuth, dpop: 'not-a-jwt' });
  const entries = await (await fetch(log)).json();
  assert(entries.length === 3, `${entries.length} entries`);
  const [refused, issued, malformed] = entries;
  const shape = (entry, proof, sentNonce) => {
    const { dpop } = entry;
    const claims = jose.decodeJwt(proof);
    assert(dpop.length === proof.length && dpop.decoded === true, JSON.stringify(dpop));
    assert(dpop.typ === 'dpop+jwt' && dpop.alg === 'ES256', JSON.stringify(dpop));
    assert(dpop.jwk_kty === 'EC' && dpop.jwk_crv === 'P-256', JSON.stringify(dpop));
    assert(dpop.htm === 'POST' && dpop.htu === tokenUrl && dpop.iat === claims.iat, JSON.stringify(dpop));
    assert(dpop.has_jti === true && dpop.jti === undefined, JSON.stringify(dpop));
    assert(dpop.has_nonce === (sentNonce !== null) && dpop.nonce === sentNonce, JSON.stringify(dpop));
  };
  shape(refused, first, null);
  assert(refused.status === 400 && refused.dpop_nonce === nonce, JSON.stringify(refused));
  shape(issued, second, nonce);
  assert(issued.status === 200, JSON.stringify(issued));
  assert(issued.dpop_nonce === null || typeof issued.dpop_nonce === 'string', JSON.stringify(issued));
  assert(malformed.dpop.length === 9 && malformed.dpop.decoded === false, JSON.stringify(malformed.dpop));
  assert(malformed.status === 400 && malformed.dpop_nonce === null, JSON.stringify(malformed));
  const text = JSON.stringify(entries);
  for (const proof of [first, second]) {
    assert(!text.includes(proof), 'a proof is in the log');
    assert(!text.includes(jose.decodeJwt(proof).jti), 'a jti is in the log');
  }
});

// --- request log -------------------------------------------------------------

await check('the request log redacts secrets and records the wire shape', async () => {
  const log = `${issuer}/test/requests`;
  assert((await fetch(log, { method: 'DELETE' })).status === 204, 'DELETE');
  const { client_id: id, client_secret: secret } = clients['post-client'];
  await token({ grant_type: 'client_credentials', client_id: id, client_secret: secret, scope: 'orders:read' });
  const entries = await (await fetch(log)).json();
  assert(entries.length === 1, `${entries.length} entries`);
  const [entry] = entries;
  assert(entry.method === 'POST' && entry.path === '/token' && entry.status === 200, JSON.stringify(entry));
  assert(entry.content_type.startsWith('application/x-www-form-urlencoded'), entry.content_type);
  assert(entry.authorization === null, 'authorization');
  assert(entry.dpop === null && entry.dpop_nonce === null, `dpop ${entry.dpop}, dpop_nonce ${entry.dpop_nonce}`);
  assert(entry.form.client_secret === secret.length, `client_secret ${entry.form.client_secret}`);
  assert(entry.form.client_id === id && entry.form.scope === 'orders:read', JSON.stringify(entry.form));
  assert(!JSON.stringify(entries).includes(secret), 'the secret is in the log');
});

server.stop();
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
