// Checks authorization-server.mjs from the outside with the npm package
// `jose`: every client authentication method, every key type, the JWT bearer
// grant and token exchange, and their errors.
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
  return { status: response.status, body: await response.json() };
}

async function token(form, headers) {
  const response = await post(form, headers);
  assert(response.status === 200, `status ${response.status}: ${JSON.stringify(response.body)}`);
  assert(typeof response.body.access_token === 'string', 'no access_token');
  assert(response.body.token_type === 'Bearer', `token_type ${response.body.token_type}`);
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
  assert(entry.form.client_secret === secret.length, `client_secret ${entry.form.client_secret}`);
  assert(entry.form.client_id === id && entry.form.scope === 'orders:read', JSON.stringify(entry.form));
  assert(!JSON.stringify(entries).includes(secret), 'the secret is in the log');
});

server.stop();
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
