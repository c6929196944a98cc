// An OAuth 2.0 authorization server for the integration tests, built on the
// npm package oidc-provider (an independent, certified implementation).
//
//   node authorization-server.mjs [--port N] [--no-stdin]
//
// Listens on 127.0.0.1 (port 0, a free port, unless --port is given), with
// the issuer http://127.0.0.1:<port>, and prints exactly one line on stdout
// once ready:
//
//   listening http://127.0.0.1:<port>
//
// Everything else (oidc-provider's notices included) goes to stderr. The
// process exits on SIGTERM/SIGINT and when its stdin closes, so a parent that
// dies takes it along; --no-stdin turns the latter off for runs by hand.
//
// Clients, scopes, resource servers and audiences: authorization-server-clients.json.
// See README.md for the grants, the token claims and the request log.
import * as crypto from 'node:crypto';
import * as http from 'node:http';
import * as querystring from 'node:querystring';

import * as jose from 'jose';

import {
  GRANT_CLIENT_CREDENTIALS,
  GRANT_JWT_BEARER,
  GRANT_TOKEN_EXCHANGE,
  TOKEN_TYPE_ACCESS_TOKEN,
  algorithmsFor,
  loadFixtures,
} from './authorization-server-fixtures.mjs';

// stdout carries only the `listening` line: oidc-provider prints its
// notices with console.info, so every console method writes to stderr.
for (const method of ['log', 'info', 'debug', 'warn']) {
  console[method] = (...args) => console.error(...args);
}

const args = process.argv.slice(2);
const portArg = args.indexOf('--port');
const requestedPort = portArg === -1 ? 0 : Number(args[portArg + 1]);
if (!Number.isInteger(requestedPort) || requestedPort < 0 || requestedPort > 65535) {
  console.error('usage: node authorization-server.mjs [--port N] [--no-stdin]');
  process.exit(2);
}
const watchStdin = !args.includes('--no-stdin');

const { default: Provider, errors } = await import('oidc-provider');
// The DPoP proof check oidc-provider runs inside its own grants (signature,
// `typ`, `htm`, `htu`, `iat`, nonce), reused by the two grants registered
// below so that they bind tokens exactly like client_credentials does. It
// resolves to `{ thumbprint, jti, iat }`, or undefined without a `DPoP`
// header, and throws `invalid_dpop_proof`, or `use_dpop_nonce` after setting
// `DPoP-Nonce`. The package documents no API for this: the import is tied
// to the pinned 8.8.1.
const {
  default: validateDpopProof,
  DPOP_OK_WINDOW,
} = await import('oidc-provider/lib/helpers/validate_dpop.js');

const fixtures = loadFixtures();
const clientsById = new Map(fixtures.clients.map((client) => [client.client_id, client]));
const knownAudiences = new Set(fixtures.audiences);
const TOKEN_PATH = '/token';
const SUPPORTED_ALGORITHMS = [
  'HS256', 'HS384', 'HS512',
  'RS256', 'RS384', 'RS512',
  'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512',
  'EdDSA',
];
// DPoP proofs are signed with a key of their own, embedded as `jwk`: every
// asymmetric algorithm above (oidc-provider's default is ES256 and EdDSA).
const DPOP_ALGORITHMS = SUPPORTED_ALGORITHMS.filter((alg) => !alg.startsWith('HS'));
// Lifetime of the tokens the two registered grants issue (seconds).
const ISSUED_TOKEN_TTL = 600;
// The longest lifetime accepted for a JWT bearer assertion (seconds).
const MAX_ASSERTION_LIFETIME = 3600;
const CLOCK_TOLERANCE = 5;

/** A form parameter that may be repeated, as a list (empty when absent). */
function list(value) {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** One value or a list, the way `aud` is written: a lone value stays a string. */
function oneOrMany(values) {
  return values.length === 1 ? values[0] : values;
}

/** The provider's client metadata for one fixture client. */
function providerMetadata(client) {
  const metadata = {
    client_id: client.client_id,
    token_endpoint_auth_method: client.token_endpoint_auth_method,
    grant_types: client.grant_types ?? [
      GRANT_CLIENT_CREDENTIALS,
      GRANT_JWT_BEARER,
      GRANT_TOKEN_EXCHANGE,
    ],
    response_types: [],
    redirect_uris: [],
  };
  if (client.client_secret !== undefined) metadata.client_secret = client.client_secret;
  if (client.jwks) metadata.jwks = client.jwks;
  if (client.dpop_bound_access_tokens) metadata.dpop_bound_access_tokens = true;
  return metadata;
}

// ---------------------------------------------------------------------------
// Resource indicators (RFC 8707) and audiences

function resourceServer(identifier) {
  const server = fixtures.resource_servers[identifier];
  if (!server) {
    throw new errors.InvalidTarget(`unknown resource ${identifier}`);
  }
  return server;
}

function checkAudiences(audiences) {
  for (const audience of audiences) {
    if (!knownAudiences.has(audience)) {
      throw new errors.InvalidTarget(`unknown audience ${audience}`);
    }
  }
}

function checkResources(resources) {
  for (const resource of resources) {
    let url;
    try {
      url = new URL(resource);
    } catch {
      throw new errors.InvalidTarget('resource must be an absolute URI');
    }
    if (url.hash || resource.includes('#')) {
      throw new errors.InvalidTarget('resource must not contain a fragment');
    }
    resourceServer(resource);
  }
}

// ---------------------------------------------------------------------------
// DPoP (RFC 9449)

/**
 * `features.dPoP.requireNonce`: a proof must carry a nonce this server
 * provided when its client has `require_dpop_nonce` in the fixtures.
 * oidc-provider asks after client authentication, so the client is known.
 */
function requiresDpopNonce(ctx) {
  const id = ctx.oidc?.client?.clientId;
  return id !== undefined && clientsById.get(id)?.require_dpop_nonce === true;
}

/**
 * Binds `token` to the proof's key (`cnf.jkt`, `token_type` DPoP), as
 * client_credentials does: each proof `jti` once per client, and no token
 * without a proof for a client with `dpop_bound_access_tokens`.
 */
async function bindToProof(ctx, token, proof) {
  const { client, provider } = ctx.oidc;
  if (!proof) {
    if (client.dpopBoundAccessTokens) {
      throw new errors.InvalidGrant('DPoP proof JWT not provided');
    }
    return;
  }
  const unique = await provider.ReplayDetection.unique(
    client.clientId,
    proof.jti,
    Math.floor(Date.now() / 1000) + DPOP_OK_WINDOW,
  );
  if (!unique) {
    throw new errors.InvalidGrant('DPoP proof JWT Replay detected');
  }
  token.setThumbprint('jkt', proof.thumbprint);
}

// ---------------------------------------------------------------------------
// urn:ietf:params:oauth:grant-type:jwt-bearer (RFC 7523 §2.1)

/** The keys that verify an assertion for this client, and their algorithms. */
function assertionKeys(client) {
  if (client.jwks) {
    const algorithms = [...new Set(client.jwks.keys.flatMap(algorithmsFor))];
    return { key: jose.createLocalJWKSet(client.jwks), algorithms };
  }
  if (client.client_secret) {
    return {
      key: new TextEncoder().encode(client.client_secret),
      algorithms: ['HS256', 'HS384', 'HS512'],
    };
  }
  return undefined;
}

function assertionIssuers(client) {
  return [client.client_id, client.service_account].filter(Boolean);
}

async function jwtBearerGrant(ctx, next) {
  const { client: providerClient, params, provider } = ctx.oidc;
  const client = clientsById.get(providerClient.clientId);
  const proof = await validateDpopProof(ctx);
  if (!params.assertion) {
    throw new errors.InvalidRequest('missing required parameter \'assertion\'');
  }
  const keys = assertionKeys(client);
  if (!keys) {
    throw new errors.InvalidGrant('no key is registered to verify assertions of this client');
  }
  let payload;
  try {
    ({ payload } = await jose.jwtVerify(params.assertion, keys.key, {
      algorithms: keys.algorithms,
      issuer: assertionIssuers(client),
      audience: [provider.issuer, ctx.oidc.urlFor('token')],
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_TOLERANCE,
    }));
  } catch (err) {
    throw new errors.InvalidGrant(`invalid assertion: ${err.message}`);
  }
  const issuedAt = typeof payload.iat === 'number' ? payload.iat : Math.floor(Date.now() / 1000);
  if (payload.exp - issuedAt > MAX_ASSERTION_LIFETIME) {
    throw new errors.InvalidGrant(`assertion lifetime exceeds ${MAX_ASSERTION_LIFETIME} seconds`);
  }
  const unique = await provider.ReplayDetection.unique(
    payload.iss,
    payload.jti,
    payload.exp + CLOCK_TOLERANCE,
  );
  if (!unique) {
    throw new errors.InvalidGrant('assertion jti was already used');
  }
  let scope = params.scope ?? (typeof payload.scope === 'string' ? payload.scope : undefined);
  scope = scope ? [...new Set(scope.split(' ').filter(Boolean))].join(' ') : undefined;
  checkScope(providerClient, scope);

  const token = new provider.ClientCredentials({
    client: providerClient,
    scope,
    expiresIn: ISSUED_TOKEN_TTL,
  });
  token.extra = {
    grant_type: GRANT_JWT_BEARER,
    sub: payload.sub ?? payload.iss,
    assertion_iss: payload.iss,
  };
  await bindToProof(ctx, token, proof);
  ctx.oidc.entity('ClientCredentials', token);
  const value = await token.save();
  ctx.body = {
    access_token: value,
    token_type: token.tokenType,
    expires_in: token.expiration,
    scope: token.scope || undefined,
  };
  await next();
}

function checkScope(client, scope) {
  if (!scope) return;
  const allowed = new Set(fixtures.scopes);
  for (const value of scope.split(' ')) {
    if (!allowed.has(value)) {
      throw new errors.InvalidScope('requested scope is not allowed', value);
    }
  }
  if (client.scope) {
    const clientScopes = new Set(client.scope.split(' '));
    for (const value of scope.split(' ')) {
      if (!clientScopes.has(value)) {
        throw new errors.InvalidScope('requested scope is not allowed', value);
      }
    }
  }
}

// ---------------------------------------------------------------------------
// urn:ietf:params:oauth:grant-type:token-exchange (RFC 8693)

function acceptedTokenTypes(client) {
  return new Set([TOKEN_TYPE_ACCESS_TOKEN, ...(client.subject_token_types ?? [])]);
}

/** An active access token this server issued, or undefined. */
async function findAccessToken(provider, value) {
  const found = (await provider.ClientCredentials.find(value))
    ?? (await provider.AccessToken.find(value));
  return found && found.isValid ? found : undefined;
}

function subjectOf(token) {
  return token.accountId ?? token.extra?.sub ?? token.clientId;
}

async function tokenExchangeGrant(ctx, next) {
  const { client: providerClient, params, provider } = ctx.oidc;
  const client = clientsById.get(providerClient.clientId);
  const accepted = acceptedTokenTypes(client);
  const proof = await validateDpopProof(ctx);

  if (!params.subject_token) {
    throw new errors.InvalidRequest('missing required parameter \'subject_token\'');
  }
  if (!params.subject_token_type) {
    throw new errors.InvalidRequest('missing required parameter \'subject_token_type\'');
  }
  if (!accepted.has(params.subject_token_type)) {
    throw new errors.InvalidRequest(`unsupported subject_token_type ${params.subject_token_type}`);
  }
  const subject = await findAccessToken(provider, params.subject_token);
  if (!subject) {
    throw new errors.InvalidRequest('subject_token is not an active access token of this server');
  }

  let actor;
  if (params.actor_token !== undefined || params.actor_token_type !== undefined) {
    if (!params.actor_token) {
      throw new errors.InvalidRequest('actor_token_type given without actor_token');
    }
    if (!params.actor_token_type) {
      throw new errors.InvalidRequest('actor_token given without actor_token_type');
    }
    if (!accepted.has(params.actor_token_type)) {
      throw new errors.InvalidRequest(`unsupported actor_token_type ${params.actor_token_type}`);
    }
    actor = await findAccessToken(provider, params.actor_token);
    if (!actor) {
      throw new errors.InvalidRequest('actor_token is not an active access token of this server');
    }
  }

  if (
    params.requested_token_type !== undefined
    && params.requested_token_type !== TOKEN_TYPE_ACCESS_TOKEN
  ) {
    throw new errors.InvalidRequest(
      `unsupported requested_token_type ${params.requested_token_type}; only ${TOKEN_TYPE_ACCESS_TOKEN} is issued`,
    );
  }

  const audiences = list(params.audience);
  const resources = list(params.resource);
  checkAudiences(audiences);
  checkResources(resources);

  const scope = params.scope
    ? [...new Set(params.scope.split(' ').filter(Boolean))].join(' ')
    : subject.scope;
  checkScope(providerClient, params.scope ? scope : undefined);

  const now = Math.floor(Date.now() / 1000);
  const token = new provider.ClientCredentials({
    client: providerClient,
    scope: scope || undefined,
    expiresIn: Math.max(1, Math.min(ISSUED_TOKEN_TTL, subject.exp - now)),
  });
  const aud = [...new Set([
    ...audiences,
    ...resources.map((resource) => resourceServer(resource).audience),
  ])];
  if (aud.length) token.aud = oneOrMany(aud);
  token.extra = {
    grant_type: GRANT_TOKEN_EXCHANGE,
    sub: subjectOf(subject),
    subject_token_type: params.subject_token_type,
    subject_client_id: subject.clientId,
    ...(audiences.length ? { audience: audiences } : undefined),
    ...(resources.length ? { resource: resources } : undefined),
    ...(actor
      ? {
        act: {
          sub: subjectOf(actor),
          client_id: actor.clientId,
          ...(actor.extra?.act ? { act: actor.extra.act } : undefined),
        },
      }
      : undefined),
  };
  await bindToProof(ctx, token, proof);
  ctx.oidc.entity('ClientCredentials', token);
  const value = await token.save();
  ctx.body = {
    access_token: value,
    issued_token_type: TOKEN_TYPE_ACCESS_TOKEN,
    token_type: token.tokenType,
    expires_in: token.expiration,
    scope: token.scope || undefined,
  };
  await next();
}

// ---------------------------------------------------------------------------
// The request log: every request to the token endpoint, secrets redacted.

const REDACTED_FIELDS = new Set([
  'client_secret',
  'client_assertion',
  'assertion',
  'subject_token',
  'actor_token',
]);
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
let requestLog = [];

function redact(form) {
  const out = {};
  for (const [name, value] of Object.entries(form)) {
    if (REDACTED_FIELDS.has(name)) {
      out[name] = Array.isArray(value) ? value.map((v) => v.length) : value.length;
    } else {
      out[name] = value;
    }
  }
  return out;
}

/**
 * What the log shows of a `DPoP` header: its length and the proof's fields
 * that identify how it was made, decoded without any check. The `jti` is
 * only said to be there; the key shows as its type and curve. `decoded` is
 * false when the header is not a JWS with a JSON header and claims.
 */
function describeProof(value) {
  const entry = {
    length: value.length,
    decoded: false,
    typ: null,
    alg: null,
    jwk_kty: null,
    jwk_crv: null,
    htm: null,
    htu: null,
    iat: null,
    has_jti: false,
    has_nonce: false,
    nonce: null,
  };
  let header;
  let claims;
  try {
    header = jose.decodeProtectedHeader(value);
    claims = jose.decodeJwt(value);
  } catch {
    return entry;
  }
  const jwk = header.jwk !== null && typeof header.jwk === 'object' ? header.jwk : {};
  return {
    ...entry,
    decoded: true,
    typ: header.typ ?? null,
    alg: header.alg ?? null,
    jwk_kty: jwk.kty ?? null,
    jwk_crv: jwk.crv ?? null,
    htm: claims.htm ?? null,
    htu: claims.htu ?? null,
    iat: claims.iat ?? null,
    has_jti: claims.jti !== undefined,
    has_nonce: claims.nonce !== undefined,
    nonce: claims.nonce ?? null,
  };
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * A JWT bearer request with no client authentication at all (RFC 7523 §2.1
 * makes it optional): names the client whose id or service account is the
 * assertion's `iss`, when that client authenticates with `none`.
 */
function clientForBareAssertion(form, headers) {
  if (form.grant_type !== GRANT_JWT_BEARER || typeof form.assertion !== 'string') return undefined;
  if (headers.authorization !== undefined) return undefined;
  if (form.client_id !== undefined || form.client_assertion !== undefined) return undefined;
  let iss;
  try {
    ({ iss } = jose.decodeJwt(form.assertion));
  } catch {
    return undefined;
  }
  return fixtures.clients.find((client) => client.token_endpoint_auth_method === 'none'
    && assertionIssuers(client).includes(iss));
}

async function testRoutes(ctx, next) {
  if (ctx.path === '/test/requests') {
    if (!LOOPBACK.has(ctx.socket.remoteAddress)) {
      ctx.status = 403;
      return;
    }
    if (ctx.method === 'GET') {
      ctx.body = requestLog;
    } else if (ctx.method === 'DELETE') {
      requestLog = [];
      ctx.status = 204;
    } else {
      ctx.status = 405;
    }
    return;
  }
  if (ctx.path !== TOKEN_PATH) {
    await next();
    return;
  }
  const raw = await readBody(ctx.req);
  const isForm = ctx.is('application/x-www-form-urlencoded');
  const form = isForm ? querystring.parse(raw.toString('utf8')) : undefined;
  const authorization = ctx.get('authorization');
  const proof = ctx.headers.dpop;
  const entry = {
    method: ctx.method,
    path: ctx.path,
    content_type: ctx.get('content-type') || null,
    accept: ctx.get('accept') || null,
    authorization: authorization ? authorization.split(' ')[0] : null,
    form: form ? redact(form) : null,
    body_length: raw.length,
    dpop: proof === undefined ? null : describeProof(proof),
    status: null,
    dpop_nonce: null,
  };
  requestLog.push(entry);
  let body = raw;
  const bare = form && clientForBareAssertion(form, ctx.headers);
  if (bare) {
    body = Buffer.from(querystring.stringify({ ...form, client_id: bare.client_id }));
  }
  // oidc-provider reads an already consumed body from req.body.
  ctx.req.body = body;
  try {
    await next();
  } finally {
    entry.status = ctx.status;
    entry.dpop_nonce = ctx.response.get('DPoP-Nonce') || null;
  }
}

// ---------------------------------------------------------------------------
// The provider

function configuration() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    clients: fixtures.clients.map(providerMetadata),
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'server-rs256', use: 'sig' }] },
    cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
    scopes: ['openid', ...fixtures.scopes],
    ttl: { ClientCredentials: ISSUED_TOKEN_TTL, AccessToken: ISSUED_TOKEN_TTL },
    clientAuthMethods: [
      'none',
      'client_secret_basic',
      'client_secret_post',
      'client_secret_jwt',
      'private_key_jwt',
    ],
    enabledJWA: {
      clientAuthSigningAlgValues: SUPPORTED_ALGORITHMS,
      dPoPSigningAlgValues: DPOP_ALGORITHMS,
    },
    extraParams: ['audience'],
    async extraTokenClaims(ctx, token) {
      const claims = { ...token.extra };
      const grantType = ctx?.oidc?.params?.grant_type;
      if (grantType === GRANT_CLIENT_CREDENTIALS) {
        claims.grant_type = GRANT_CLIENT_CREDENTIALS;
      }
      // `audience` (not a parameter of RFC 6749) passes through to the
      // token's `audience` claim, after the same check as token exchange.
      // oidc-provider strips it from the client credentials grant's
      // parameters, so it is read from the parsed body.
      const audiences = list(ctx?.oidc?.params?.audience ?? ctx?.oidc?.body?.audience);
      if (audiences.length && claims.audience === undefined) {
        checkAudiences(audiences);
        claims.audience = audiences;
      }
      return Object.keys(claims).length ? claims : undefined;
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: async () => true,
      },
      revocation: { enabled: true },
      // RFC 9449. A request without a `DPoP` header is not affected; one
      // with a proof gets a DPoP-bound token. Nonces (RFC 9449 §8) derive
      // from this secret: a new one every minute, each accepted for three to
      // four minutes after it is handed out; required where
      // requiresDpopNonce says.
      dPoP: {
        enabled: true,
        nonceSecret: crypto.randomBytes(32),
        requireNonce: requiresDpopNonce,
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => false,
        async getResourceServerInfo(ctx, identifier) {
          const server = resourceServer(identifier);
          return {
            audience: server.audience,
            scope: server.scope,
            accessTokenFormat: 'opaque',
          };
        },
      },
    },
    async renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  };
}

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

let handler = (req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = http.createServer((req, res) => handler(req, res));
const port = await listen(server, requestedPort);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, configuration());
provider.registerGrantType(
  GRANT_JWT_BEARER,
  jwtBearerGrant,
  ['assertion', 'scope', 'audience'],
);
provider.registerGrantType(
  GRANT_TOKEN_EXCHANGE,
  tokenExchangeGrant,
  [
    'subject_token',
    'subject_token_type',
    'actor_token',
    'actor_token_type',
    'requested_token_type',
    'audience',
    'resource',
    'scope',
  ],
  ['audience', 'resource'],
);
provider.use(testRoutes);
provider.on('server_error', (ctx, err) => console.error('server_error', err));

handler = provider.callback();

function shutdown() {
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
if (watchStdin) {
  process.stdin.on('end', shutdown);
  process.stdin.on('close', shutdown);
  process.stdin.on('error', shutdown);
  process.stdin.resume();
}

process.stdout.write(`listening ${issuer}\n`);
