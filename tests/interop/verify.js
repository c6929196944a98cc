'use strict';
// Verifies requests signed by axum-oauth2-client with the independent
// `http-message-signatures` implementation; prints one JSON result per case.
//
// usage: node verify.js <cases.json>
//   cases.json: [{ alg, keyid, key: {alg, public, secret}, request: {method, url, headers, body} }]
const { httpbis, createVerifier } = require('http-message-signatures');
const { loadKey, digestMatches, readJson } = require('./common');

async function verifyCase(c) {
  const key = loadKey(c.key, 'public');
  const verifier = createVerifier(key, c.alg);
  try {
    const verified = await httpbis.verifyMessage(
      {
        keyLookup: async (params) =>
          params.keyid === c.keyid ? { id: c.keyid, algs: [c.alg], verify: verifier } : null,
        requiredFields: ['@method', '@target-uri', 'content-digest', 'authorization'],
        // This crate's signer sends a nonce by default.
        requiredParams: ['created', 'keyid', 'nonce'],
        tolerance: 30,
      },
      c.request,
    );
    return { alg: c.alg, verified: verified === true, digest: digestMatches(c.request.headers, c.request.body) };
  } catch (err) {
    return { alg: c.alg, verified: false, digest: false, error: String(err && err.message) };
  }
}

(async () => {
  const cases = readJson(process.argv[2]);
  const results = [];
  for (const c of cases) results.push(await verifyCase(c));
  process.stdout.write(JSON.stringify(results));
})().catch((err) => {
  process.stderr.write(String(err && err.stack));
  process.exit(1);
});
