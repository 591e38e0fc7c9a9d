"""Interop peer: PyJWT signs or verifies one JWT.

    python jwt_peer.py sign   ALG KID KEYFILE CLAIMS_JSON  -> prints the compact token
    python jwt_peer.py verify ALG KEYFILE TOKEN            -> prints the payload JSON, exit 1 if invalid

KEYFILE holds the raw secret for HS*, a private key PEM for signing and a
public key PEM for verifying.
"""

import json
import sys

import jwt


def key(alg: str, path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def main() -> int:
    mode, alg, *rest = sys.argv[1:]
    try:
        if mode == "sign":
            kid, path, claims = rest
            token = jwt.encode(json.loads(claims), key(alg, path), algorithm=alg, headers={"kid": kid})
            sys.stdout.write(token)
        elif mode == "verify":
            path, token = rest
            payload = jwt.decode(
                token,
                key(alg, path),
                algorithms=[alg],
                options={"verify_aud": False, "require": ["exp", "iat", "sub"]},
            )
            sys.stdout.write(json.dumps(payload))
        else:
            raise ValueError(f"unknown mode {mode}")
    except Exception as error:  # noqa: BLE001 - report any failure as "invalid"
        sys.stderr.write(f"pyjwt: {error}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
