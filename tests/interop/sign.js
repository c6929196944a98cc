'use strict';
// Signs requests with the independent `http-message-signatures`
// implementation for axum-oauth2-client to verify; prints the signed
// requests as JSON.
//
// usage: node sign.js <keys.json>
//   keys.json: [{ alg, keyid, private, public, secret }]
const crypto = require('crypto');
const { httpbis, createSigner } = require('http-message-signatures');
const { loadKey, contentDigest, readJson } = require('./common');

const BODY = '{"amount": 100, "currency": "EUR"}';

/**
 * RFC 9421 §3.3.1 fixes the RSASSA-PSS salt at 64 bytes. The library's
 * createSigner leaves OpenSSL's default (the maximum salt length), so the
 * spec-conformant case signs through the library with an explicit salt.
 */
function pssSigner(key, keyid) {
  return {
    id: keyid,
    alg: 'rsa-pss-sha512',
    sign: async (data) =>
      crypto.createSign('sha512').update(data).sign({
        key,
        padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
        saltLength: 64,
      }),
  };
}

async function signCase(spec, variant) {
  const key = loadKey(spec, 'private');
  const signer =
    spec.alg === 'rsa-pss-sha512' && variant === 'rfc'
      ? pssSigner(key, spec.keyid)
      : createSigner(key, spec.alg, spec.keyid);
  const request = {
    method: 'POST',
    url: 'https://api.example.com/v1/orders?id=7&note=a%20b',
    headers: {
      'content-type': 'application/json',
      authorization: 'Bearer interop-token',
      'content-digest': contentDigest(BODY),
    },
  };
  const signed = await httpbis.signMessage(
    {
      key: signer,
      name: 'sig1',
      fields: ['@method', '@target-uri', '@authority', '@query-param;name="id"', 'content-digest', 'content-type', 'authorization'],
      params: ['created', 'expires', 'keyid', 'alg', 'nonce'],
      paramValues: { nonce: crypto.randomBytes(12).toString('base64url') },
    },
    request,
  );
  return { alg: spec.alg, variant, keyid: spec.keyid, request: { ...signed, body: BODY } };
}

(async () => {
  const keys = readJson(process.argv[2]);
  const out = [];
  for (const spec of keys) {
    out.push(await signCase(spec, 'rfc'));
    if (spec.alg === 'rsa-pss-sha512') out.push(await signCase(spec, 'library-default-salt'));
  }
  process.stdout.write(JSON.stringify(out));
})().catch((err) => {
  process.stderr.write(String(err && err.stack));
  process.exit(1);
});
