// Second, independent verifier: npm @sigstore/verify checks Sigstore bundles
// against a trusted root, offline. Usage:
//   node tests/js/verify_bundles.js TRUSTED_ROOT IDENTITY ISSUER BUNDLE=ARTIFACT...
// An artifact of "-" means the bundle holds a DSSE envelope (no separate file).
// Prints one JSON line per bundle ({bundle, ok, error}); exits 1 if any fails. Each bundle needs
// one verified signed time (a SET of Rekor v1, or an RFC 3161 timestamp: Rekor v2 has no SET).
'use strict';
const fs = require('fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');
const { TrustedRoot } = require('@sigstore/protobuf-specs');

const [rootPath, identity, issuer, ...pairs] = process.argv.slice(2);
const trust = toTrustMaterial(TrustedRoot.fromJSON(JSON.parse(fs.readFileSync(rootPath, 'utf8'))));
const verifier = new Verifier(trust, { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
let failed = 0;
for (const pair of pairs) {
  const cut = pair.indexOf('=');
  const bundlePath = pair.slice(0, cut);
  const artifactPath = pair.slice(cut + 1);
  try {
    const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, 'utf8')));
    const data = artifactPath === '-' ? undefined : fs.readFileSync(artifactPath);
    verifier.verify(toSignedEntity(bundle, data), { subjectAlternativeName: identity, extensions: { issuer } });
    console.log(JSON.stringify({ bundle: bundlePath, ok: true }));
  } catch (err) {
    failed += 1;
    console.log(JSON.stringify({ bundle: bundlePath, ok: false, error: `${err.code || ''} ${err.message}` }));
  }
}
process.exit(failed ? 1 : 0);
