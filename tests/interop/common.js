'use strict';
// Shared helpers for the RFC 9421 interoperability scripts.
const crypto = require('crypto');
const fs = require('fs');

/** Loads key material for `spec` ({alg, private, public, secret}) as node expects it. */
function loadKey(spec, which) {
  if (spec.alg === 'hmac-sha256') {
    return Buffer.from(fs.readFileSync(spec.secret, 'utf8').trim(), 'base64');
  }
  const pem = fs.readFileSync(spec[which], 'utf8');
  return which === 'private' ? crypto.createPrivateKey(pem) : crypto.createPublicKey(pem);
}

/** RFC 9530 Content-Digest value for `body`. */
function contentDigest(body) {
  return `sha-256=:${crypto.createHash('sha256').update(body).digest('base64')}:`;
}

/** Whether every sha-256/sha-512 member of Content-Digest matches `body`. */
function digestMatches(headers, body) {
  const value = headers['content-digest'];
  if (!value) return false;
  let checked = false;
  for (const member of value.split(',')) {
    const match = member.trim().match(/^(sha-256|sha-512)=:([A-Za-z0-9+/=]*):$/);
    if (!match) continue;
    const hash = match[1] === 'sha-256' ? 'sha256' : 'sha512';
    if (crypto.createHash(hash).update(body).digest('base64') !== match[2]) return false;
    checked = true;
  }
  return checked;
}

function readJson(path) {
  return JSON.parse(fs.readFileSync(path, 'utf8'));
}

module.exports = { loadKey, contentDigest, digestMatches, readJson };
