// SPDX-License-Identifier: BSD-2-Clause
//
// httpsig.mjs - the http-message-signatures npm package as an independent
// RFC 9421 implementation (and node's crypto for RFC 9530), for
// tests/integration/test_sender.py, which drives tapir against it in both
// directions:
//   node httpsig.mjs sign KEY.jwk BODY_FILE OUT_FILE
//       signs a POST of the body as the edge does: label sig1 covering
//       ("content-type" "content-length" "content-digest"), parameters
//       created, alg="ed25519", keyid = the JWK's kid; writes the
//       Signature-Input and Signature values on two lines
//   node httpsig.mjs verify KEY.jwk REQUEST.json
//       REQUEST.json: {"headers": {lower-case name: value}, "body_b64": ...}
//       checks Content-Digest (sha-256) against the body and the
//       signature (which must cover the three fields above) with the
//       JWK's public key; prints {"keyid", "alg", "created"} and exits 0,
//       or prints why and exits 1
// Exit 2 is a usage or I/O error, so the caller can tell "rejected" from
// "could not run".
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { httpbis, createSigner, createVerifier } from 'http-message-signatures';

const [mode, ...args] = process.argv.slice(2);
const FIELDS = ['content-type', 'content-length', 'content-digest'];
const URL_ = 'https://core.example/api/v1/aggregate/histogram';

function digest(body) {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

async function main() {
  if (mode === 'sign' && args.length === 3) {
    const jwk = JSON.parse(readFileSync(args[0], 'utf8'));
    const key = createPrivateKey({ key: jwk, format: 'jwk' });
    const body = readFileSync(args[1]);
    const req = {
      method: 'POST',
      url: URL_,
      headers: {
        'content-type': 'application/vnd.apache.parquet',
        'content-length': String(body.length),
        'content-digest': digest(body),
      },
    };
    const signed = await httpbis.signMessage({
      key: createSigner(key, 'ed25519', jwk.kid),
      name: 'sig1',
      fields: FIELDS,
      params: ['created', 'alg', 'keyid'],
    }, req);
    const h = signed.headers;
    writeFileSync(args[2], `${h['Signature-Input']}\n${h.Signature}\n`);
    return 0;
  }
  if (mode === 'verify' && args.length === 2) {
    const jwk = JSON.parse(readFileSync(args[0], 'utf8'));
    const { d, ...pub } = jwk;
    void d;
    const key = createPublicKey({ key: pub, format: 'jwk' });
    const r = JSON.parse(readFileSync(args[1], 'utf8'));
    const body = Buffer.from(r.body_b64, 'base64');
    if (r.headers['content-digest'] !== digest(body)) {
      console.log('content-digest mismatch');
      return 1;
    }
    if (r.headers['content-length'] !== String(body.length)) {
      console.log('content-length mismatch');
      return 1;
    }
    let seen = null;
    try {
      const ok = await httpbis.verifyMessage({
        keyLookup: async (params) => {
          seen = params;
          if (params.keyid !== jwk.kid) return null;
          return { id: jwk.kid, algs: ['ed25519'], verify: createVerifier(key, 'ed25519') };
        },
        requiredFields: FIELDS,
        requiredParams: ['created', 'alg', 'keyid'],
        maxAge: 3600,
        tolerance: 60,
      }, { method: 'POST', url: URL_, headers: r.headers });
      if (ok !== true) {
        console.log(`not verified: ${ok}`);
        return 1;
      }
    } catch (e) {
      console.log(`refused: ${e.message}`);
      return 1;
    }
    console.log(JSON.stringify({
      keyid: seen.keyid, alg: seen.alg, created: Math.floor(seen.created.getTime() / 1000),
    }));
    return 0;
  }
  console.error('usage: httpsig.mjs sign KEY.jwk BODY OUT | verify KEY.jwk REQUEST.json');
  return 2;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(e);
  process.exit(2);
});
