// Interop peer: node `jose` signs or verifies one JWT.
//   node jwt.mjs sign   ALG KID KEYFILE CLAIMS_JSON   -> prints the compact token
//   node jwt.mjs verify ALG KEYFILE TOKEN             -> prints the payload JSON, exit 1 if invalid
// KEYFILE holds the raw secret for HS*, a PKCS#8 private key PEM for signing,
// an SPKI public key PEM for verifying.
import { readFileSync } from 'node:fs';
import { SignJWT, jwtVerify, importPKCS8, importSPKI } from 'jose';

const [mode, alg, ...rest] = process.argv.slice(2);

async function key(file, isPrivate) {
  const bytes = readFileSync(file);
  if (alg.startsWith('HS')) return new Uint8Array(bytes);
  const pem = bytes.toString('utf8');
  return isPrivate ? importPKCS8(pem, alg) : importSPKI(pem, alg);
}

try {
  if (mode === 'sign') {
    const [kid, file, claims] = rest;
    const token = await new SignJWT(JSON.parse(claims))
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .sign(await key(file, true));
    process.stdout.write(token);
  } else if (mode === 'verify') {
    const [file, token] = rest;
    const { payload } = await jwtVerify(token, await key(file, false), { algorithms: [alg] });
    process.stdout.write(JSON.stringify(payload));
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} catch (error) {
  process.stderr.write(`jose: ${error.message}\n`);
  process.exit(1);
}
