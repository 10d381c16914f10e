// SPDX-License-Identifier: BSD-2-Clause
//
// verify_jws.mjs - the jose library (panva/jose) as an independent JOSE
// implementation for tests/integration/test_jws.py, which drives tapir's
// lib/sign against it in both directions:
//   node verify_jws.mjs sign KEY.jwk PAYLOAD_FILE OUT_FILE
//       flattened JWS of the payload bytes with the private JWK, protected
//       header {"alg":"EdDSA","kid":<the JWK's kid>} (edm-spec §5.3)
//   node verify_jws.mjs verify KEY.pem JWS_FILE
//       verifies a flattened JWS with an SPKI PEM public key; prints
//       {"kid":…,"payload_b64":…} and exits 0, or exits 1 if it fails
//   node verify_jws.mjs verify-lines KEY.pem FILE
//       the same for a file of flattened JWS, one per line (events as a
//       broker delivered them); prints one result line per input line and
//       exits 0 if every one verified, else 1
//   node verify_jws.mjs thumbprint KEY.jwk
//       prints the RFC 7638 SHA-256 thumbprint of the key
// Exit 2 is a usage or I/O error, so the caller can tell "rejected" from
// "could not run".
import { readFileSync, writeFileSync } from 'node:fs';
import {
  FlattenedSign, calculateJwkThumbprint, flattenedVerify, importJWK, importSPKI,
} from 'jose';

const [mode, ...args] = process.argv.slice(2);

async function main() {
  if (mode === 'sign' && args.length === 3) {
    const jwk = JSON.parse(readFileSync(args[0], 'utf8'));
    const key = await importJWK(jwk, 'EdDSA');
    const payload = readFileSync(args[1]);
    // Member order matters: it is part of the signed header bytes.
    const jws = await new FlattenedSign(payload)
      .setProtectedHeader({ alg: 'EdDSA', kid: jwk.kid })
      .sign(key);
    writeFileSync(args[2], JSON.stringify(jws));
    return 0;
  }
  if (mode === 'verify' && args.length === 2) {
    const key = await importSPKI(readFileSync(args[0], 'utf8'), 'EdDSA');
    const jws = JSON.parse(readFileSync(args[1], 'utf8'));
    try {
      const { payload, protectedHeader } = await flattenedVerify(jws, key, {
        algorithms: ['EdDSA'],
      });
      console.log(JSON.stringify({
        kid: protectedHeader.kid,
        payload_b64: Buffer.from(payload).toString('base64'),
      }));
      return 0;
    } catch (e) {
      console.log(JSON.stringify({ error: e.code ?? String(e) }));
      return 1;
    }
  }
  if (mode === 'verify-lines' && args.length === 2) {
    const key = await importSPKI(readFileSync(args[0], 'utf8'), 'EdDSA');
    const lines = readFileSync(args[1], 'utf8').split('\n').filter((l) => l.length > 0);
    let rc = 0;
    for (const line of lines) {
      try {
        const { payload, protectedHeader } = await flattenedVerify(JSON.parse(line), key, {
          algorithms: ['EdDSA'],
        });
        console.log(JSON.stringify({
          kid: protectedHeader.kid,
          payload_b64: Buffer.from(payload).toString('base64'),
        }));
      } catch (e) {
        console.log(JSON.stringify({ error: e.code ?? String(e) }));
        rc = 1;
      }
    }
    return rc;
  }
  if (mode === 'thumbprint' && args.length === 1) {
    const jwk = JSON.parse(readFileSync(args[0], 'utf8'));
    console.log(await calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x }, 'sha256'));
    return 0;
  }
  console.error('usage: verify_jws.mjs sign KEY.jwk PAYLOAD OUT | verify KEY.pem JWS | verify-lines KEY.pem FILE | thumbprint KEY.jwk');
  return 2;
}

main().then((rc) => process.exit(rc), (e) => {
  console.error(e);
  process.exit(2);
});
